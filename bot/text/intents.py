"""What a message that is not a command asks, in the six UN languages, without a model.

Newcomers start by typing a question: "when is the next constructive dialogue?",
"bonjour, quand est la prochaine échéance ?", "متى الموعد القادم؟". Reading that as a
country name answers "No State party matches <the sentence>", a dead end. `read_question`
finds what the message asks from the words people use for it (matched with case, accents
and Arabic marks ignored, Chinese without word boundaries), and returns the words left
over, so the caller can look for a country or a theme in them. Pure and cheap: a handful
of regular expressions over one short message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Intent = Literal["subscribe", "help", "next_dialogue", "due", "country", "settings", "unknown"]
MAX_QUESTION_CHARS = 500

# Per intent, the words that ask for it: English, French, Spanish, Russian, Arabic, Chinese.
# Folded (lower case, no accents, no Arabic marks) before matching; order decides ties.
_WORDS: tuple[tuple[Intent, str], ...] = (
    (
        "subscribe",
        r"\b(?:subscrib\w*|sign\s+up|follow|alerts?\s+for|notify|abonne\w*|s'?abonner|suivre"
        r"|suscrib\w*|seguir|alertas?|подпис\w*|следить|уведомл\w*)\b"
        r"|اشتراك|اشترك|الاشتراك|تنبيه\w*|متابعة|订阅|关注|提醒",
    ),
    (
        "help",
        r"\b(?:help|how\s+does\s+(?:this|it)\s+work|what\s+can\s+you\s+do|aide|aidez|comment"
        r"\s+(?:ca|ça)\s+marche|ayuda|ayudame|como\s+funciona|помо\w*|справк\w*|что\s+ты\s+умеешь)\b"
        r"|مساعدة|ساعدني|كيف\s+يعمل|帮助|怎么用|如何使用",
    ),
    (
        "settings",
        r"\b(?:settings?|time\s*zone|language|reglages?|parametres?|fuseau|langue|ajustes"
        r"|configuracion|idioma|zona\s+horaria|настройк\w*|часов\w+\s+пояс\w*|язык\w*)\b"
        r"|الإعدادات|اعدادات|المنطقة\s+الزمنية|اللغة|设置|时区|语言",
    ),
    (
        "next_dialogue",
        r"\b(?:(?:next|upcoming)\s+(?:constructive\s+)?dialogues?|constructive\s+dialogues?"
        r"|prochains?\s+dialogues?|dialogues?\s+constructifs?|proximos?\s+dialogos?"
        r"|dialogos?\s+constructivos?|следующ\w+\s+диалог\w*|конструктивн\w+\s+диалог\w*|диалог\w*)\b"
        r"|(?:ال)?حوار(?:ات)?\s+(?:ال)?بناء\w*|الحوار\s+القادم|(?:ال)?حوار|建设性对话|下一次对话|对话",
    ),
    (
        "due",
        r"\b(?:what(?:'s|\s+is)\s+(?:due|next|coming)|next\s+(?:deadline|date|step)|deadlines?"
        r"|upcoming|when|due|echeances?|prochaine?s?|quand|a\s+venir|date\s+limite|plazos?"
        r"|fecha\s+limite|proxim[oa]s?|cuando|срок\w*|когда|следующ\w*|ближайш\w*|дедлайн\w*)\b"
        r"|موعد|الموعد|مواعيد|متى|القادم|القادمة|截止|期限|什么时候|何时|下一个|即将",
    ),
    (
        "country",
        r"\b(?:review|reviews|timeline|progress|examen|evaluation|calendrier|revision|examen"
        r"|avance|обзор\w*|провер\w*|ход\s+обзора)\b|استعراض|مراجعة|审议|进展",
    ),
)
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})


def fold(text: str) -> str:
    """What is matched: lower case; Latin letters without accents; Arabic without its
    optional marks and with one alef; spaces collapsed. Cyrillic keeps its letters (й)."""
    text = _ARABIC_MARKS.sub("", text.lower()).translate(_ALEF).replace("\u2019", "'")
    kept: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.category(char) == "Mn" and kept and kept[-1].isascii():
            continue  # an accent on a Latin letter
        kept.append(char)
    return " ".join(unicodedata.normalize("NFC", "".join(kept)).split())


# The patterns are folded as the text is, so "الأسلحة" and "الاسلحة" both match.
_PATTERNS = tuple((intent, re.compile(fold(words))) for intent, words in _WORDS)
# Words that carry no meaning of their own in a question: dropped from what is left over.
_FILLER = re.compile(
    r"\b(?:hi|hello|hey|please|the|a|an|is|are|for|of|in|on|what|when|which|bonjour|salut|svp"
    r"|le|la|les|l'|de|des|du|est|pour|en|hola|por\s+favor|el|los|las|es|para|del|привет"
    r"|здравствуйте|пожалуйста|для|по|в|на|и)\b|مرحبا|من\s+فضلك|[?？؟!！¿¡.,，。:;]",
)


@dataclass(frozen=True)
class Question:
    """What a message asks, and the words left over (maybe a country or a theme)."""

    intent: Intent
    rest: str


def looks_like_a_question(text: str) -> bool:
    """True for a sentence rather than a name: a question mark, or several words."""
    folded = fold(text)
    return bool(re.search(r"[?？؟]", folded)) or len(folded.split()) >= 4


def read_question(text: str) -> Question:
    """The first intent whose words appear in `text`, and the rest of it, folded."""
    folded = fold(text[:MAX_QUESTION_CHARS])
    for intent, pattern in _PATTERNS:
        found = pattern.search(folded)
        if found is not None:
            rest = folded[: found.start()] + " " + folded[found.end() :]
            return Question(intent, " ".join(_FILLER.sub(" ", rest).split()))
    return Question("unknown", " ".join(_FILLER.sub(" ", folded).split()))
