"""Filters from a query string, validated: one parser for the feeds, the page and the API.

Every problem becomes a `QueryError` whose message names the bad value and what is
allowed, and whose status says which 4xx it is. Values are read by the one vocabulary
(`bot.filters.vocabulary`), so `?country=Autriche&theme=traite` means what Telegram's
`/subscribe Autriche, traite` means.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.filters.vocabulary import Vocabulary
from bot.text.i18n import LANGUAGES
from config.countries import UnknownCountry, resolve_country
from config.dataset import THEMES, Dataset
from schedulers.timeline import KINDS, Selection

MAX_QUERY_LENGTH = 2048
MAX_VALUE_LENGTH = 100
MAX_VALUES = 60
MAX_ALARMS = 10
MAX_DAYS = 3650
DEFAULT_DAYS = 90
MAX_ALARM = dt.timedelta(days=366)
_DURATION = re.compile(r"^P(?:(\d{1,3})W)?(?:(\d{1,3})D)?(?:T(?:(\d{1,4})H)?(?:(\d{1,5})M)?)?$")
SINGLE = frozenset({"lang", "alarms", "days"})


class QueryError(ValueError):
    """A query the service cannot answer; `status` is the HTTP status to send."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Query:
    """What a reader asked for."""

    selection: Selection = field(default_factory=Selection)
    language: str | None = None
    alarms: tuple[dt.timedelta, ...] = ()
    days: int = DEFAULT_DAYS

    @property
    def is_filtered(self) -> bool:
        s = self.selection
        return bool(s.countries or s.clusters or s.kinds or s.themes)


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration such as P7D, PT2H or P1DT12H, before a deadline."""
    match = _DURATION.match(text.strip().upper())
    if not match or not any(match.groups()):
        raise QueryError(
            f"alarm {text!r} is not an ISO 8601 duration; write e.g. P7D (7 days), PT2H (2 hours)"
        )
    weeks, days, hours, minutes = (int(part or 0) for part in match.groups())
    duration = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if duration > MAX_ALARM:
        raise QueryError(f"alarm {text!r} is longer than a year")
    return duration


def _is_number(text: str) -> bool:
    """ASCII digits only: "²" passes `isdigit` but `int` refuses it, and "١٢" is no filter."""
    return text.isascii() and text.isdigit()


def _values(params: Sequence[tuple[str, str]], name: str) -> list[str]:
    values: list[str] = []
    for key, value in params:
        if key == name:
            values.extend(part.strip() for part in value.split(",") if part.strip())
    return values


def parse_query(
    params: Sequence[tuple[str, str]],
    dataset: Dataset,
    allowed: frozenset[str],
    *,
    raw_length: int = 0,
    vocabulary: Vocabulary | None = None,
) -> Query:
    """Validate query parameters against the dataset; raise `QueryError` on any problem.

    Codes and English identifiers are read at once; anything else goes to `vocabulary`
    (one is made for `dataset` when none is given), in any of the six languages.
    """
    words = vocabulary if vocabulary is not None else Vocabulary(dataset)
    if raw_length > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters", status=414)
    seen: set[str] = set()
    for key, value in params:
        if key not in allowed:
            raise QueryError(f"unknown parameter {key!r}; allowed: {', '.join(sorted(allowed))}")
        if key in SINGLE and key in seen:
            raise QueryError(f"parameter {key!r} is given more than once; give it once")
        seen.add(key)
        if len(value) > MAX_VALUE_LENGTH * MAX_VALUES:
            raise QueryError(f"parameter {key!r} is too long")
    countries = set()
    for text in _values(params, "country"):
        if len(text) > MAX_VALUE_LENGTH:
            raise QueryError(f"country {text[:40]!r}... is too long")
        try:
            countries.add(resolve_country(text, dataset.states, dataset.aliases))
        except UnknownCountry as exc:
            code = words.lookup(text, "country")
            if code is None:
                raise QueryError(
                    f"{exc} Countries are ISO codes (AT) or names in any of the six UN languages."
                ) from None
            countries.add(code)
    clusters = set()
    for text in _values(params, "cluster"):
        number = text if _is_number(text) else words.lookup(text, "cluster")
        if number is None or int(number) not in dataset.clusters:
            known = ", ".join(str(n) for n in dataset.clusters)
            raise QueryError(f"cluster {text!r} is unknown; allowed: {known}")
        clusters.add(int(number))
    kinds = {_named(words, text, "kind", KINDS) for text in _values(params, "kind")}
    themes = {_named(words, text, "theme", THEMES) for text in _values(params, "theme")}
    if len(countries) + len(clusters) + len(kinds) + len(themes) > MAX_VALUES:
        raise QueryError(f"more than {MAX_VALUES} filter values; follow fewer at once")
    language = None
    for text in _values(params, "lang"):
        if text not in LANGUAGES:
            raise QueryError(f"lang {text!r} is unknown; allowed: {', '.join(LANGUAGES)}")
        language = text
    alarm_texts = _values(params, "alarms")
    if len(alarm_texts) > MAX_ALARMS:
        raise QueryError(f"more than {MAX_ALARMS} alarms; choose fewer")
    alarms = tuple(sorted({parse_duration(text) for text in alarm_texts}, reverse=True))
    days = DEFAULT_DAYS
    for text in _values(params, "days"):
        if not _is_number(text) or int(text) > MAX_DAYS:
            raise QueryError(f"days {text!r} must be a whole number from 0 to {MAX_DAYS}")
        days = int(text)
    selection = Selection(countries=countries, clusters=clusters, kinds=kinds, themes=themes)
    return Query(selection=selection, language=language, alarms=alarms, days=days)


def _named(words: Vocabulary, text: str, dimension: str, allowed: Sequence[str]) -> str:
    """A kind or a theme, by its identifier or by a word for it in any of our languages."""
    if text in allowed:
        return text
    value = words.lookup(text[:MAX_VALUE_LENGTH], dimension)
    if value is None:
        raise QueryError(f"{dimension} {text[:40]!r} is unknown; allowed: {', '.join(allowed)}")
    return value


def query_string(query: Query, *, with_days: bool = False) -> list[tuple[str, str]]:
    """The parameters that reproduce `query` (sorted, so equal queries give equal links)."""
    params: list[tuple[str, str]] = []
    params += [("country", code) for code in sorted(query.selection.countries)]
    params += [("cluster", str(n)) for n in sorted(query.selection.clusters)]
    params += [("kind", kind) for kind in sorted(query.selection.kinds)]
    params += [("theme", theme) for theme in sorted(query.selection.themes)]
    if query.language:
        params.append(("lang", query.language))
    if query.alarms:
        params.append(("alarms", ",".join(_format_duration(a) for a in query.alarms)))
    if with_days and query.days != DEFAULT_DAYS:
        params.append(("days", str(query.days)))
    return params


def _format_duration(duration: dt.timedelta) -> str:
    days, seconds = duration.days, duration.seconds
    text = f"P{days}D" if days else "P"
    if seconds:
        hours, minutes = divmod(seconds // 60, 60)
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text
