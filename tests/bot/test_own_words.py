"""People's own words, in each of the six languages, on Telegram and Slack alike.

Through the real bot and the real bolt app against the fake Bot API and a signed
/slack/events request, as of 1 December 2026: a subscription in the language's own words
for a country and a theme follows exactly those; a question about the next dialogue gets
the next (expected) dialogue; a settings change in the language's own words is applied;
and no answer reads a sentence as a country name.
"""

from __future__ import annotations

import pytest

from bot.db.subscribers import find_subscriber, selection_of
from bot.slack.channel import APP_TARGET
from bot.text.i18n import LANGUAGES, Texts
from tests.bot.conftest import SLACK_CHANNEL_2026
from tests.bot.telegram_harness import ALICE
from tests.bot.test_no_dead_end import ask_telegram, plain, shown

# What a person types, in their language: a country and a theme to follow, a question
# about the next dialogue, and a setting, with the zone it must set.
WORDS = {
    "en": ("Austria, trafficking in persons", "when is the next constructive dialogue?",
           "timezone Cairo", "Africa/Cairo"),
    "fr": ("Autriche, traite des êtres humains", "bonjour, quand est le prochain dialogue ?",
           "fuseau Abidjan", "Africa/Abidjan"),
    "es": ("Austria, trata de personas", "¿cuándo es el próximo diálogo constructivo?",
           "zona horaria Ciudad de México", "America/Mexico_City"),
    "ru": ("Австрия, торговля людьми", "когда следующий конструктивный диалог?",
           "часовой пояс Москва", "Europe/Moscow"),
    "ar": ("النمسا، الاتجار بالبشر", "متى الحوار البناء القادم؟",
           "المنطقة الزمنية القاهرة", "Africa/Cairo"),
    "zh": ("奥地利，人口贩运", "下一次对话是什么时候？", "时区 开罗", "Africa/Cairo"),
}  # fmt: skip
SENTENCE_AS_A_NAME = ("No State party matches", "Aucun État partie", "No hay ningún Estado")


def expected_dialogue(texts: Texts) -> list[str]:
    return [
        texts("No constructive dialogue is announced yet; the next ones expected:"),
        texts("Constructive Dialogue on Firearms"),
        texts("expected {window}, not yet announced").split("{window}")[0].strip(),
    ]


async def telegram_subscriber(bot):
    async with bot.store.sessions() as session:
        return await find_subscriber(session, "telegram", str(ALICE), "")


async def slack_subscriber(store):
    async with store.sessions() as session:
        return await find_subscriber(session, APP_TARGET, SLACK_CHANNEL_2026, "")


@pytest.mark.parametrize("language", LANGUAGES)
async def test_telegram_in_the_persons_own_words(bot_2026, telegram_2026, language):
    follow, question, setting, zone = WORDS[language]
    texts = Texts(language)
    await ask_telegram(bot_2026, telegram_2026, language, f"/subscribe {follow}")
    subscriber = await telegram_subscriber(bot_2026)
    assert subscriber is not None
    chosen = selection_of(subscriber)
    assert (set(chosen.countries), set(chosen.themes)) == ({"AT"}, {"tip"})

    answer = await ask_telegram(bot_2026, telegram_2026, language, question)
    for words in expected_dialogue(texts):
        assert words in answer, (language, words, answer)
    assert not any(phrase in answer for phrase in SENTENCE_AS_A_NAME)

    await ask_telegram(bot_2026, telegram_2026, language, f"/settings {setting}")
    subscriber = await telegram_subscriber(bot_2026)
    assert subscriber is not None and subscriber.timezone == zone


@pytest.mark.parametrize("language", LANGUAGES)
async def test_slack_in_the_persons_own_words(slack_2026, store, language):
    follow, question, setting, zone = WORDS[language]
    texts = Texts(language)
    await slack_2026(f"subscribe {follow}")
    await slack_2026(f"settings language {language}")
    subscriber = await slack_subscriber(store)
    assert subscriber is not None
    chosen = selection_of(subscriber)
    assert (set(chosen.countries), set(chosen.themes)) == ({"AT"}, {"tip"})

    answer = plain(shown(await slack_2026(question)))
    for words in expected_dialogue(texts):
        assert words in answer, (language, words, answer)

    await slack_2026(f"settings {setting}")
    subscriber = await slack_subscriber(store)
    assert subscriber is not None and subscriber.timezone == zone


@pytest.mark.parametrize(
    ("language", "typed", "country", "theme"),
    [
        ("fr", "/untoc abonner Côte d'Ivoire traite", "CI", "tip"),
        ("ru", "/untoc подписаться Австрия, торговля людьми", "AT", "tip"),
        ("zh", "/untoc 订阅 奥地利人口贩运", "AT", "tip"),
    ],
)
async def test_slack_subcommands_by_their_names_in_the_language(
    slack_2026, store, language, typed, country, theme
):
    await slack_2026(typed.removeprefix("/untoc "))
    subscriber = await slack_subscriber(store)
    assert subscriber is not None
    chosen = selection_of(subscriber)
    assert (set(chosen.countries), set(chosen.themes)) == ({country}, {theme})


@pytest.mark.parametrize(
    "message",
    [
        "bonjour, quand est la prochaine échéance ?",
        "متى الموعد القادم؟",
        "when is the next constructive dialogue?",
        "how do I subscribe to alerts for Brazil?",
        "what is the review progress of Côte d'Ivoire?",
        "asdf qwer zxcv uiop",
    ],
)
async def test_no_sentence_is_read_as_a_country_name(bot_2026, telegram_2026, message):
    answer = await ask_telegram(bot_2026, telegram_2026, "en", message)
    assert not any(phrase in answer for phrase in SENTENCE_AS_A_NAME), answer
    assert "/" in answer  # every answer ends with something to do


async def test_a_question_about_a_review_answers_with_that_states_review(bot_2026, telegram_2026):
    answer = await ask_telegram(
        bot_2026, telegram_2026, "fr", "où en est l'examen de la Côte d'Ivoire ?"
    )
    texts = Texts("fr")
    assert texts("The three groups") in answer and texts.country("CI") in answer


async def test_a_setting_typed_without_its_command_is_applied(
    bot_2026, telegram_2026, slack_2026, store
):
    await ask_telegram(bot_2026, telegram_2026, "fr", "fuseau Abidjan")
    subscriber = await telegram_subscriber(bot_2026)
    assert subscriber is not None and subscriber.timezone == "Africa/Abidjan"
    await slack_2026("subscribe all")
    await slack_2026("时区 开罗")
    subscriber = await slack_subscriber(store)
    assert subscriber is not None and subscriber.timezone == "Africa/Cairo"
