"""The one reader of settings as people write them, in any of the six languages.

Telegram's `/settings` and Slack's `/untoc settings` both read here: "fuseau Abidjan",
"timezone Le Caire", "язык русский", "langue français", "digest hebdomadaire",
"quiet 22h-7h", "silence 22 h à 7 h", "rappels 30,7,1", "lead 30 7 1" (in any script's
digits).
The setting's name and its value may be in any of our languages, whatever the chat's
language. A refusal (`NotUnderstood`) names what was not understood and the closest valid
value, in the reader's language. The values are checked again where they are stored
(`bot.db.subscribers.set_preferences`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, TypedDict

from babel import Locale

from bot.filters.vocabulary import Vocabulary, fold
from bot.text.i18n import LANGUAGES, Texts
from config.zones import closest_cities, country_zones, read_zone

Key = Literal["lead", "digest", "quiet", "tz", "lang"]
MAX_SETTING_LENGTH = 200


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split("|"))


# The names of each setting, in the six languages (compared folded: case and accents off).
KEY_WORDS: dict[Key, tuple[str, ...]] = {
    "lead": _words(
        "lead|leads|reminders|reminder|lead days|rappels|rappel|recordatorios|"
        "recordatorio|avisos|напоминания|напоминание|تذكيرات|تذكير|提醒"
    ),
    "digest": _words("digest|resume|recapitulatif|resumen|сводка|дайджест|ملخص|摘要|汇总"),
    "quiet": _words(
        "quiet|quiet hours|silence|heures calmes|calme|silencio|horas de silencio|"
        "тишина|тихие часы|هدوء|ساعات الهدوء|免打扰|静音"
    ),
    "tz": _words(
        "timezone|time zone|zone|tz|fuseau|fuseau horaire|zona|zona horaria|"
        "часовой пояс|пояс|المنطقة الزمنية|منطقة|时区"
    ),
    "lang": _words("language|lang|langue|idioma|lengua|язык|اللغة|لغة|语言"),
}
_OFF = _words(
    "off|none|no|non|aucun|aucune|desactive|desactivado|ninguno|"
    "выкл|нет|отключить|إيقاف|لا|关闭|关|无"
)
DIGEST_WORDS: dict[str, tuple[str, ...]] = {
    "off": _OFF,
    "daily": _words(
        "daily|day|quotidien|quotidienne|jour|diario|diaria|"
        "ежедневно|ежедневная|ежедневный|يومي|يوميا|每天|每日"
    ),
    "weekly": _words(
        "weekly|week|hebdomadaire|semaine|semanal|"
        "еженедельно|еженедельная|еженедельный|أسبوعي|اسبوعي|أسبوعيا|每周|每星期"
    ),
}
_HOUR = r"(\d{1,2})\s*(?:h|:00|ч|час|时|点|ساعة)?"
_UNTIL = r"\s*(?:-|–|—|à|a|to|till|until|до|إلى|الى|至|到)\s*"
_QUIET = re.compile(rf"^(?:de\s+|from\s+|с\s+|من\s+|从\s*)?{_HOUR}{_UNTIL}{_HOUR}$")
_OFFSET = re.compile(r"^(?:utc|gmt)\s*[+-−]\s*\d", re.IGNORECASE)
_NUMBER_SPLIT = re.compile(r"[\s,;、，،]+|\b(?:and|et|y|и)\b|\sو")
_DAY_WORDS = frozenset(
    fold(word) for word in _words("days|day|jours|jour|días|dias|día|дней|дня|день|أيام|يوم|天|j|d")
)
_KEYS = {fold(word): key for key, words in KEY_WORDS.items() for word in words}
_DIGESTS = {fold(word): value for value, words in DIGEST_WORDS.items() for word in words}


class Change(TypedDict, total=False):
    """Keyword arguments for `set_preferences`, one preference at a time."""

    lead_days: list[int]
    digest: str
    quiet_hours: tuple[int, int] | None
    timezone: str
    language: str


class NotUnderstood(ValueError):
    """A setting or a value we could not read; the message is for the reader."""


@dataclass(frozen=True)
class Setting:
    """One preference to change, as read."""

    key: Key
    change: Change


def _digits(text: str) -> str:
    """Any script's decimal digits as ASCII ("٣٠" -> "30"); "²" is no digit of a number."""
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text
    )


def split_key(text: str) -> tuple[Key | None, str]:
    """The setting named at the start of `text` (longest name first) and the rest."""
    words = text.split()
    for length in range(min(3, len(words)), 0, -1):
        key = _KEYS.get(fold(" ".join(words[:length])))
        if key is not None:
            return key, " ".join(words[length:])
    return None, text


def read_setting(text: str, texts: Texts, vocabulary: Vocabulary | None = None) -> Setting:
    """`<setting> <value>` in any of our languages; raises `NotUnderstood`."""
    if len(text) > MAX_SETTING_LENGTH:
        raise NotUnderstood(texts("That is longer than any setting; write one at a time."))
    key, value = split_key(text.strip())
    if key is None:
        first = text.split()[0] if text.split() else text
        raise NotUnderstood(
            texts(
                "I do not know the setting {word}. Settings: language, timezone, reminders, "
                "digest, quiet."
            ).format(word=first[:40])
        )
    return Setting(key, read_value(key, value, texts, vocabulary))


def read_value(key: Key, text: str, texts: Texts, vocabulary: Vocabulary | None = None) -> Change:
    """The `set_preferences` arguments for one setting's value; raises `NotUnderstood`."""
    value = " ".join(_digits(text).split())
    if key == "lead":
        return {"lead_days": _lead_days(value, texts)}
    if key == "digest":
        digest = _DIGESTS.get(fold(value))
        if digest is None:
            raise NotUnderstood(
                texts("I did not understand {value}. Write daily, weekly or off.").format(
                    value=value[:40] or "…"
                )
            )
        return {"digest": digest}
    if key == "quiet":
        if fold(value) in {fold(w) for w in _OFF}:
            return {"quiet_hours": None}
        match = _QUIET.match(value.lower())
        if match is None:
            raise NotUnderstood(
                texts("I did not understand {value}. Write quiet hours as 22-7, or off.").format(
                    value=value[:40] or "…"
                )
            )
        return {"quiet_hours": (int(match.group(1)), int(match.group(2)))}
    if key == "tz":
        return {"timezone": _zone(value, texts, vocabulary)}
    return {"language": _language(value, texts)}


def _lead_days(value: str, texts: Texts) -> list[int]:
    parts = [p for p in _NUMBER_SPLIT.split(value) if p and p.strip()]
    numbers = [p.strip() for p in parts if fold(p) not in _DAY_WORDS]
    if not numbers or not all(n.isascii() and n.isdigit() and len(n) <= 3 for n in numbers):
        raise NotUnderstood(
            texts(
                "I did not understand {value}. Write the days before a deadline, e.g. 30 7 1."
            ).format(value=value[:40] or "…")
        )
    return [int(n) for n in numbers]


def _zone(value: str, texts: Texts, vocabulary: Vocabulary | None) -> str:
    zone = read_zone(value)
    if zone is not None:
        return zone
    if vocabulary is not None:
        code = vocabulary.lookup(value, "country", texts)
        zones = country_zones(code) if code else ()
        if len(zones) == 1:
            return zones[0]
        if zones:
            raise NotUnderstood(
                texts("{country} has several time zones; name a city, e.g. {cities}.").format(
                    country=texts.country(code or ""),
                    cities=", ".join(texts.city(z) for z in zones[:3]),
                )
            )
    if _OFFSET.match(value):
        raise NotUnderstood(
            texts(
                "An offset has no summer time and names no place; name a city instead, "
                "e.g. Abidjan, Cairo or Moscow."
            )
        )
    close = closest_cities(value)
    if close:
        return_hint = ", ".join(texts.city(z) for z in close)
        raise NotUnderstood(
            texts("I do not know the time zone {value}. Did you mean {cities}?").format(
                value=value[:40], cities=return_hint
            )
        )
    raise NotUnderstood(
        texts("I do not know the time zone {value}. Name a city, e.g. Abidjan or Cairo.").format(
            value=value[:40] or "…"
        )
    )


def _language_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code in LANGUAGES:
        names[fold(code)] = code
        for reader in LANGUAGES:
            name = Locale.parse(reader).languages.get(code)
            if name:
                names.setdefault(fold(name), code)
    return names


_LANGUAGE_NAMES = _language_names()


def _language(value: str, texts: Texts) -> str:
    code = _LANGUAGE_NAMES.get(fold(value))
    if code is None:
        own = ", ".join(Locale.parse(c).get_display_name(c) or c for c in LANGUAGES)
        raise NotUnderstood(
            texts("I do not know the language {value}. Choose one of: {languages}.").format(
                value=value[:40] or "…", languages=own
            )
        )
    return code
