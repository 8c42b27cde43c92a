"""Questions typed in the six UN languages are read for what they ask, not as names."""

from __future__ import annotations

import pytest

from bot.text.intents import fold, looks_like_a_question, read_question

ASKED = {
    "next_dialogue": [
        "when is the next constructive dialogue?",
        "Quand a lieu le prochain dialogue constructif ?",
        "¿Cuándo es el próximo diálogo constructivo?",
        "Когда следующий конструктивный диалог?",
        "متى الحوار البنّاء القادم؟",
        "下一次建设性对话是什么时候？",
    ],
    "due": [
        "what is due next?",
        "bonjour, quand est la prochaine échéance ?",
        "¿Cuál es el próximo plazo?",
        "Какой ближайший срок?",
        "متى الموعد القادم؟",
        "下一个截止日期是什么？",
    ],
    "subscribe": [
        "how do I subscribe to alerts for Austria?",
        "comment m'abonner aux alertes pour la France ?",
        "¿Cómo me suscribo a las alertas de México?",
        "Как подписаться на уведомления по России?",
        "كيف أشترك في التنبيهات الخاصة بمصر؟",
        "如何订阅中国的提醒？",
    ],
    "help": [
        "help",
        "aide",
        "ayuda",
        "помощь",
        "مساعدة",
        "帮助",
    ],
    "country": [
        "what is the review status of France?",
        "Où en est l'examen de la Côte d'Ivoire ?",
        "¿Cómo avanza el examen de Perú?",
        "Как идёт обзор России?",
        "ما هي مرحلة استعراض مصر؟",
        "中国的审议进展如何？",
    ],
}


@pytest.mark.parametrize(
    ("intent", "text"), [(intent, text) for intent, texts in ASKED.items() for text in texts]
)
def test_each_intent_is_read_in_each_language(intent, text):
    assert read_question(text).intent == intent


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("what is the review status of France?", "france"),
        ("Où en est l'examen de la Côte d'Ivoire ?", "cote d'ivoire"),
        ("how do I subscribe to alerts for Austria?", "austria"),
    ],
)
def test_the_words_left_over_hold_the_country(text, left):
    assert left in read_question(text).rest


def test_a_name_is_not_a_question_and_asks_nothing():
    assert not looks_like_a_question("Austria")
    assert read_question("Austria") == read_question("austria")
    assert read_question("Austria").intent == "unknown"
    assert looks_like_a_question("متى الموعد القادم؟")
    assert looks_like_a_question("who decides which country reviews mine")


def test_folding_keeps_cyrillic_letters_and_joins_arabic_spellings():
    assert fold("Следующий") == "следующий"
    assert fold("الأسلحة") == fold("الاسلحة")
    assert fold("Échéance") == "echeance"


def test_a_huge_message_is_read_in_part():
    assert read_question("help " + "x" * 100_000).intent == "help"
