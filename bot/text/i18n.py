"""Translations: gettext catalogs (`bot/text/locales/<lang>/LC_MESSAGES/messages.po`) via Babel.

The catalogs are read from their `.po` source when first needed, so there is no build
step to forget. English is the source language. Country names, dates and relative times
come from CLDR (Babel) in the same language.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    format_date,
    format_skeleton,
    format_time,
    format_timedelta,
    get_timezone_location,
    get_timezone_name,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.text.marks import N_ as N_  # re-exported: messages are marked with it
from config.countries import country_name

LOCALE_DIR = Path(__file__).with_name("locales")
LABELLED = N_("{label}: {value}")  # French puts a space before the colon
DEFAULT_LANGUAGE = "en"
# The six official languages of the United Nations, each with a complete catalog.
LANGUAGES: tuple[str, ...] = ("ar", "en", "es", "fr", "ru", "zh")


class UnknownLanguage(ValueError):
    """A language we have no catalog for; the message lists the ones we have."""

    def __init__(self, language: str) -> None:
        super().__init__(f"unknown language {language!r}; use one of: {', '.join(LANGUAGES)}")


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for `language` (English: the messages as written)."""
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


class Texts:
    """Everything a reader sees, in one language: messages, names, dates, countdowns."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._translations = translations(language)
        self.locale = Locale.parse(language)

    def __call__(self, message: str) -> str:
        """The translation of `message` (itself when there is none)."""
        return self._translations.gettext(message)

    def plural(self, singular: str, plural: str, count: int) -> str:
        return self._translations.ngettext(singular, plural, count)

    def labelled(self, label: str, value: str) -> str:
        """ "Label: value" with the language's punctuation ("Pays : Autriche" in French)."""
        return self(LABELLED).format(label=label, value=value)

    def country(self, code: str) -> str:
        return country_name(code, self.language)

    @property
    def language_name(self) -> str:
        """This language's name in itself (français, español), for a language switch."""
        return self.locale.get_display_name(self.locale) or self.language

    @property
    def direction(self) -> str:
        return "rtl" if self.locale.character_order == "right-to-left" else "ltr"

    def date(self, day: dt.date) -> str:
        return format_date(day, format="long", locale=self.locale)

    def month(self, day: dt.date) -> str:
        """A month and its year ("October 2026"), for a date known only to the month."""
        return format_skeleton("yMMMM", day, locale=self.locale)

    def span(self, months: int = 0, weeks: int = 0, days: int = 0) -> str:
        """A length of time in words ("6 months", "2 weeks"), as a review rule gives it."""
        parts = []
        if months:
            parts.append(self.plural("{count} month", "{count} months", months))
            parts[-1] = parts[-1].format(count=months)
        if weeks:
            parts.append(self.plural("{count} week", "{count} weeks", weeks).format(count=weeks))
        if days:
            parts.append(self.plural("{count} day", "{count} days", days).format(count=days))
        if len(parts) > 1:
            return self("{first} and {second}").format(
                first=", ".join(parts[:-1]), second=parts[-1]
            )
        return parts[0] if parts else ""

    def moment(self, moment: dt.datetime, zone: str) -> str:
        """A date and time in `zone`, with the zone's name in this language."""
        local = moment.astimezone(_zone(zone))
        day = format_date(local.date(), format="long", locale=self.locale)
        clock = format_time(local, format="short", locale=self.locale)
        name = get_timezone_name(local, width="long", locale=self.locale)
        return f"{day}, {clock} ({name})"

    def city(self, zone: str) -> str:
        """The city a zone is named after, in this language ("Vienne" for Europe/Vienna)."""
        return get_timezone_location(_zone(zone), locale=self.locale, return_city=True)

    def countdown(self, delta: dt.timedelta) -> str:
        """ "in 3 days", "2 hours ago", in this language."""
        return format_timedelta(delta, add_direction=True, threshold=1.0, locale=self.locale)


def _zone(name: str) -> dt.tzinfo:
    return ZoneInfo(name)


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header, or English."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    preferred = []
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        preferred.append((quality, tag.strip().replace("_", "-")))
    for _, tag in sorted(preferred, key=lambda item: -item[0]):
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE
