"""One view model per State party, and the index of all of them: the facts the pages show.

Pure: the dataset, the deadlines of the current snapshot and `now` in, plain values out.
The HTML pages (`/country/{code}`, `/countries`) and their JSON twins (`/api/country/
{code}`, `/api/countries`) are both built from `country_view` and `country_index`, so the
page and the API cannot tell different stories. Words are not here: the templates
translate; the JSON carries the same facts in the dataset's English.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.filters.query import MAX_QUERY_LENGTH, QueryError
from bot.text.render import deadline_to_dict
from config.countries import country_name
from config.dataset import Action, Dataset
from config.urls import web_url
from schedulers.review import CountryReview, PlannedPhase, WhatIsKnown, country_review
from schedulers.timeline import MECHANISM_ZONE, Deadline

Sort = Literal["name", "group", "news"]
SORTS: tuple[Sort, ...] = ("name", "group", "news")
GROUP_FILTERS = ("1", "2", "3", "unknown")
INDEX_PARAMS = frozenset({"sort", "group", "q", "lang"})
MAX_SEARCH = 100
# The six languages a State's name is searched in (the page's languages).
NAME_LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
# How many coming and past mechanism events a State's page lists.
NEXT_EVENTS = 8
PAST_EVENTS = 3
OPEN = frozenset({"due_soon", "upcoming", "expected"})
_CODE = re.compile(r"^[A-Za-z]{2}$")
_ADDRESS = re.compile(r"https?://[^\s)\"'<>]+")


class UnknownState(LookupError):
    """A code that names no State party; the message says so and where to look."""

    def __init__(self, code: str) -> None:
        shown = code if len(code) <= 12 else code[:12] + "..."
        super().__init__(
            f"{shown!r} is not the ISO code of a State party we know; "
            "the list of States parties is at /countries"
        )


def source_link(source: str | None) -> str | None:
    """The first web address a source text names, to link it."""
    if not source:
        return None
    found = _ADDRESS.search(source)
    return found.group(0).rstrip(".,;") if found else None


def state_code(text: str, data: Dataset) -> str:
    """The State party a path names (ISO alpha-2, any case), or `UnknownState`."""
    if not _CODE.match(text) or text.upper() not in data.states:
        raise UnknownState(text)
    return text.upper()


@dataclass(frozen=True)
class News:
    """The latest thing recorded about one State's review, if anything."""

    step: Deadline | None
    date: dt.date | None
    what: str | None


@dataclass(frozen=True)
class Freshness:
    """How current the answer is: the day it was computed, the latest fact, the last check."""

    as_of: dt.date
    latest_fact: dt.date | None
    checked_at: dt.datetime | None


@dataclass(frozen=True)
class CountryView:
    """Everything `/country/{code}` and `/api/country/{code}` say about one State."""

    code: str
    review: CountryReview
    news: News
    next_events: tuple[Deadline, ...]
    past_events: tuple[Deadline, ...]
    actions: tuple[Action, ...]
    freshness: Freshness
    telegram_payload: str | None

    @property
    def clusters(self) -> list[tuple[int, list[Deadline]]]:
        """The steps of the review, cluster by cluster, in rule order."""
        numbers = sorted({d.cluster for d in self.review.milestones if d.cluster is not None})
        return [(n, [d for d in self.review.milestones if d.cluster == n]) for n in numbers]

    @property
    def next_step(self) -> Deadline | None:
        """The first coming thing to act on: a step of this review, else a mechanism event."""
        own = [d for d in self.review.milestones if d.status in {"due_soon", "upcoming"}]
        return own[0] if own else (self.next_events[0] if self.next_events else None)


@dataclass(frozen=True)
class IndexRow:
    """One State party in `/countries`."""

    code: str
    group: int | None
    group_source: str | None
    news: News


@dataclass(frozen=True)
class IndexQuery:
    """What a reader asked `/countries` for; the query string is the whole state."""

    sort: Sort = "name"
    group: str | None = None
    search: str = ""
    language: str | None = None


def parse_index_query(
    params: Sequence[tuple[str, str]], languages: Iterable[str], *, raw_length: int = 0
) -> IndexQuery:
    """Validate `/countries`' query; `QueryError` names the bad value and what is allowed."""
    if raw_length > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters", status=414)
    seen: set[str] = set()
    values: dict[str, str] = {}
    for key, value in params:
        if key not in INDEX_PARAMS:
            known = ", ".join(sorted(INDEX_PARAMS))
            raise QueryError(f"unknown parameter {key[:40]!r}; allowed: {known}")
        if key in seen:
            raise QueryError(f"parameter {key!r} is given more than once; give it once")
        seen.add(key)
        values[key] = value.strip()
    sort = values.get("sort") or "name"
    if sort not in SORTS:
        raise QueryError(f"sort {sort[:40]!r} is unknown; allowed: {', '.join(SORTS)}")
    group = values.get("group") or None
    if group is not None and group not in GROUP_FILTERS:
        raise QueryError(f"group {group[:40]!r} is unknown; allowed: {', '.join(GROUP_FILTERS)}")
    search = values.get("q", "")
    if len(search) > MAX_SEARCH:
        raise QueryError(f"q is too long: a name has at most {MAX_SEARCH} characters")
    language = values.get("lang") or None
    allowed = tuple(languages)
    if language is not None and language not in allowed:
        raise QueryError(f"lang {language[:40]!r} is unknown; allowed: {', '.join(allowed)}")
    return IndexQuery(sort=sort, group=group, search=search, language=language)


def index_params(query: IndexQuery, **changes: str | None) -> list[tuple[str, str]]:
    """The query string that reproduces `query` with `changes`, defaults left out."""
    current: dict[str, str | None] = {
        "q": query.search or None,
        "group": query.group,
        "sort": query.sort if query.sort != "name" else None,
        "lang": query.language,
    }
    current.update(changes)
    return [(key, value) for key, value in current.items() if value]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def latest_news(review: CountryReview) -> News:
    """The State's last recorded step (an actual date) or report of a delay, if any."""
    done = [d for d in review.milestones if d.actual is not None]
    late = [d for d in review.milestones if d.status == "overdue"]
    step = max(done, key=lambda d: d.actual or dt.date.min, default=None)
    if step is not None and step.actual is not None:
        return News(step=step, date=step.actual, what="done")
    if late:
        return News(step=late[-1], date=None, what="reported late")
    return News(step=None, date=None, what=None)


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(MECHANISM_ZONE).date()


def latest_fact(data: Dataset, deadlines: Iterable[Deadline], today: dt.date) -> dt.date | None:
    """The day of the latest fact the service knows that has happened (not a plan)."""
    days = [p.date for p in data.progress.values() if p.date <= today]
    days += [m.date for m in data.milestone_dates.values() if m.date <= today]
    for deadline in deadlines:
        if deadline.kind == "event" and deadline.status == "done" and deadline.precision == "day":
            due = deadline.due
            days.append(due.date() if isinstance(due, dt.datetime) else due)
    return max(days, default=None)


def mechanism_events(
    deadlines: Sequence[Deadline], *, coming: int = NEXT_EVENTS, past: int = PAST_EVENTS
) -> tuple[tuple[Deadline, ...], tuple[Deadline, ...]]:
    """The coming mechanism-wide dates (announced or expected) and the latest events held.

    Dialogues, COP sessions and their registrations concern every State under review.
    """
    shared = [d for d in deadlines if d.country is None]
    upcoming = [d for d in shared if d.status in OPEN][:coming]
    held = [d for d in shared if d.kind == "event" and d.status == "done"][-past:]
    return tuple(upcoming), tuple(reversed(held))


def country_view(
    data: Dataset,
    code: str,
    deadlines: Sequence[Deadline],
    now: dt.datetime,
    *,
    checked_at: dt.datetime | None = None,
    telegram_payload: str | None = None,
) -> CountryView:
    """The view of one State party (`code` already checked by `state_code`)."""
    today = _today(now)
    review = country_review(data, code, today)
    coming, held = mechanism_events(deadlines)
    return CountryView(
        code=code,
        review=review,
        news=latest_news(review),
        next_events=coming,
        past_events=held,
        actions=tuple(data.ngo_actions.values()),
        freshness=Freshness(today, latest_fact(data, deadlines, today), checked_at),
        telegram_payload=telegram_payload,
    )


def country_index(data: Dataset, query: IndexQuery, now: dt.datetime) -> list[IndexRow]:
    """Every State party as `/countries` lists it, filtered and sorted as `query` says."""
    today = _today(now)
    needle = _fold(query.search)
    rows = []
    for code, state in data.states.items():
        found = data.group_of(code)
        group = found[0].number if found is not None else None
        if query.group is not None and query.group != (str(group) if group else "unknown"):
            continue
        if needle:
            names = [code, *state.aliases, *(country_name(code, lang) for lang in NAME_LANGUAGES)]
            if not any(needle in _fold(name) for name in names):
                continue
        review = country_review(data, code, today)
        rows.append(
            IndexRow(
                code=code,
                group=group,
                group_source=found[1].source if found is not None else None,
                news=latest_news(review),
            )
        )
    name_language = query.language or "en"

    def by_name(row: IndexRow) -> str:
        return _fold(country_name(row.code, name_language))

    rows.sort(key=by_name)
    if query.sort == "group":
        rows.sort(key=lambda row: row.group or 99)
    elif query.sort == "news":
        rows.sort(key=lambda row: row.news.date or dt.date.min, reverse=True)
    return rows


# The JSON twins: the same facts, the dataset's English.


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _phase(phase: PlannedPhase) -> dict[str, Any]:
    return {
        "cluster": phase.cluster,
        "title": phase.title,
        "status": phase.status,
        "behind_schedule": phase.behind,
        "planned_start": phase.start.strftime("%Y-%m"),
        "planned_end": phase.end.strftime("%Y-%m"),
        "precision": phase.precision,
        "confidence": phase.confidence,
        "basis": phase.basis,
        "source": phase.source,
        "note": phase.note,
    }


def _known(known: WhatIsKnown) -> dict[str, Any]:
    return {
        "summary": known.summary,
        "groups": [
            {
                "group": g.number,
                "start": g.start.isoformat(),
                "reviews": g.reviews,
                "source": g.source,
                "confidence": g.confidence,
            }
            for g in known.groups
        ],
        "progress": [
            {
                "date": p.date.isoformat(),
                "precision": p.precision,
                "started": p.started,
                "not_started": p.not_started,
                "total": p.total,
                "quote": p.quote,
                "source": p.source,
                "confidence": p.confidence,
            }
            for p in known.progress
        ],
        "steps": [
            {"milestone": s.milestone, "title": s.title, "rule": s.rule, "actor": s.actor}
            for s in known.steps
        ],
        "plan": known.plan,
    }


def deadline_json(deadline: Deadline) -> dict[str, Any]:
    """One deadline as the API writes it: its link checked again on the way out (http(s)
    only, else null), whatever path it came by."""
    return deadline_to_dict(deadline) | {"url": web_url(deadline.url)}


def _action(action: Action) -> dict[str, Any]:
    return {
        "id": action.id,
        "title": action.title,
        "url": web_url(action.url),
        "source": action.source,
        "confidence": action.confidence,
    }


def _news(news: News) -> dict[str, Any]:
    return {
        "step": news.step.id if news.step else None,
        "title": news.step.title if news.step else None,
        "what": news.what,
        "date": _date(news.date),
    }


def country_json(view: CountryView, base_url: str) -> dict[str, Any]:
    """`/api/country/{code}`: the facts of the page, with links to subscribe."""
    review = view.review
    return {
        "country": view.code,
        "name": country_name(view.code),
        "group": review.group,
        "group_source": review.group_source,
        "clusters": [
            {"cluster": number, "steps": [deadline_json(d) for d in steps]}
            for number, steps in view.clusters
        ],
        "planned": [_phase(p) for p in review.phases],
        "what_is_known": _known(review.known) if review.known is not None else None,
        "last_news": _news(view.news),
        "events": [deadline_json(d) for d in view.next_events],
        "recent_events": [deadline_json(d) for d in view.past_events],
        "actions": [_action(a) for a in view.actions],
        "next": deadline_json(view.next_step) if view.next_step else None,
        "freshness": {
            "as_of": view.freshness.as_of.isoformat(),
            "latest_fact": _date(view.freshness.latest_fact),
            "sources_checked_at": (
                view.freshness.checked_at.isoformat() if view.freshness.checked_at else None
            ),
        },
        "calendar": f"{base_url}/calendar.ics?country={view.code}",
        "page": f"{base_url}/country/{view.code}",
    }


def index_json(rows: Sequence[IndexRow], query: IndexQuery) -> dict[str, Any]:
    """`/api/countries`: the rows of the index, as the same query lists them."""
    return {
        "sort": query.sort,
        "group": query.group,
        "q": query.search,
        "count": len(rows),
        "countries": [
            {
                "country": row.code,
                "name": country_name(row.code),
                "group": row.group,
                "group_source": row.group_source,
                "last_news": _news(row.news),
                "page": f"/country/{row.code}",
            }
            for row in rows
        ],
    }
