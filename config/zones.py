"""Time zones as people name them: IANA names, "UTC" and "GMT", CLDR's exemplar cities in
the six UN languages ("Abidjan", "Le Caire", "Москва", "القاهرة", "开罗"), and the zones of
a country (from the tz database's `zone.tab`).

One home for these words: the watcher reads "<city> time" on a page with them, and the
settings read a reader's "fuseau Abidjan" with them. Everything is an IANA zone: an
offset such as "UTC+3" is never turned into a fixed zone here (it has no summer time and
names no place); the reader is asked for a city instead.
"""

from __future__ import annotations

import difflib
import unicodedata
from functools import cache
from importlib import resources
from zoneinfo import available_timezones

from babel import Locale
from babel.dates import get_timezone, get_timezone_location

from config.vocabulary import LANGUAGES

UNIVERSAL = frozenset({"utc", "gmt", "z", "zulu", "utc+0", "gmt+0", "utc0", "gmt0", "utc±0"})
_SKIPPED_PREFIXES = ("Etc/", "SystemV/", "US/", "posix/", "right/")
# Russian names a city's time in the genitive: "по времени Каира" (Каир), "Москвы" (Москва).
_GENITIVE_ENDINGS = (("а", ""), ("ы", "а"), ("и", "ь"), ("и", "я"), ("я", "ь"))


def fold_city(name: str) -> str:
    """Lower case, accents and surrounding punctuation dropped, spaces collapsed."""
    decomposed = unicodedata.normalize("NFD", name.lower().replace("\u2019", "'"))
    folded = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(folded.strip(".,;:()'\"").replace("_", " ").split())


def spellings(name: str) -> list[str]:
    """The folded name, and the nominatives a Russian genitive may stand for."""
    folded = fold_city(name)
    more = [folded[: -len(end)] + base for end, base in _GENITIVE_ENDINGS if folded.endswith(end)]
    return [folded, *more]


def _named_zones() -> list[str]:
    return sorted(
        zone
        for zone in available_timezones()
        if "/" in zone and not zone.startswith(_SKIPPED_PREFIXES)
    )


@cache
def city_zones() -> dict[str, str]:
    """Every exemplar city CLDR gives a zone, in the six UN languages, folded, to its zone.

    Built on first use (about a second: CLDR's zone names are a large table).
    """
    cities: dict[str, str] = {}
    for zone in sorted(Locale.parse("en").time_zones) + _named_zones():
        for language in LANGUAGES:
            try:
                city = get_timezone_location(get_timezone(zone), locale=language, return_city=True)
            except (LookupError, ValueError):
                continue
            cities.setdefault(fold_city(city), zone)
    return cities


@cache
def _zone_names() -> dict[str, str]:
    """The city part of each IANA name ("sao paulo", "abidjan"), for what a reader types."""
    return {fold_city(zone.rsplit("/", 1)[1]): zone for zone in _named_zones()}


@cache
def _iana() -> dict[str, str]:
    return {zone.casefold(): zone for zone in available_timezones()}


@cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    found: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, _coordinates, zone, *_ = line.split("\t")
        found.setdefault(code, []).append(zone)
    return {code: tuple(zones) for code, zones in found.items()}


def country_zones(code: str) -> tuple[str, ...]:
    """The zones of a country (ISO code), its most populous first, as the tz database lists them."""
    return _country_zones().get(code.upper(), ())


def read_zone(text: str) -> str | None:
    """The IANA zone `text` names: an IANA name in any case, UTC/GMT, or a city; else None."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > 60:
        return None
    folded = fold_city(cleaned)
    if folded.replace(" ", "") in UNIVERSAL:
        return "UTC"
    iana = _iana().get(cleaned.casefold().replace(" ", "_"))
    if iana is not None:
        return iana
    cities = city_zones()
    for spelling in spellings(cleaned):
        zone = cities.get(spelling) or _zone_names().get(spelling)
        if zone is not None:
            return zone
    return None


def closest_cities(text: str, limit: int = 3) -> list[str]:
    """The zones whose city names are closest to `text`, for "did you mean"."""
    cities = city_zones()
    close = difflib.get_close_matches(fold_city(text), list(cities), n=limit * 3, cutoff=0.75)
    zones: list[str] = []
    for name in close:
        if cities[name] not in zones:
            zones.append(cities[name])
    return zones[:limit]
