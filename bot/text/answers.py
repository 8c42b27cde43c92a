"""What the bot answers to questions, in the reader's language: the words once, for every channel.

Pure: deadlines, projections, a State's review and the reader's `Texts` in, a `Reply` out.
A `Reply` is plain text in parts (a heading, lines, entries with a title and a link);
Telegram lays it out as HTML (`bot/telegram/layout.py`) and Slack as mrkdwn
(`bot/slack/answers.py`), each escaping every text. Only the way commands are written
differs between channels (`Commands`).

Honest by construction: an expected occurrence always says "not yet announced" with its
window and why it is expected; a step nobody reported on is "no news since", never
"overdue" unless a source says so; the later clusters are a plan, behind schedule where
the facts say so, never dates to act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from babel.dates import format_date
from babel.lists import format_list

from bot.text.i18n import Texts
from bot.text.wording import title_of
from config.dataset import Dataset
from schedulers.expected import as_deadline
from schedulers.rhythm import Projection
from schedulers.timeline import MECHANISM_ZONE, Deadline, Selection

# The occurrences an NGO acts on: a call to apply, a dialogue, the COP. Working groups
# and preparation days follow from their dialogue and would only lengthen the answer.
SHOWN_KINDS = frozenset({"application-call", "constructive-dialogue", "cop"})
MAX_EXPECTED = 5
EXPECTED_AFTER_ANNOUNCED = 3
FEW_ANNOUNCED = 5
MAX_HAPPENED = 3
MAX_HELD = 4
MAX_PROGRESS = 3


@dataclass(frozen=True)
class Entry:
    """One thing in an answer: a title, its lines, and where to read more."""

    title: str
    lines: tuple[str, ...] = ()
    url: str | None = None


@dataclass(frozen=True)
class Part:
    """A part of an answer under its own heading: lines first, then entries."""

    heading: str | None = None
    lines: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class Reply:
    """A whole answer: its heading and its parts, every text plain and unescaped."""

    heading: str
    parts: tuple[Part, ...] = ()


@dataclass(frozen=True)
class Commands:
    """How the reader's channel writes our commands: "/subscribe" or "/untoc subscribe"."""

    subscribe: str
    country: str


@dataclass(frozen=True)
class Freshness:
    """How fresh the answer's data is: the watcher's last reading, the latest fact."""

    last_read: dt.datetime | None
    last_change: dt.datetime | None
    latest_fact: dt.date | None
    latest_fact_title: str | None
    latest_fact_month: bool = False


def month(day: dt.date, texts: Texts) -> str:
    """A month in the reader's language: "October 2026", "octobre 2026"."""
    return format_date(day, format="LLLL y", locale=texts.locale)


def _span(first: dt.date, last: dt.date, texts: Texts) -> str:
    if first == last:
        return texts.date(first)
    return texts("{start} to {end}").format(start=texts.date(first), end=texts.date(last))


def _dates(days: Iterable[dt.date], texts: Texts, most: int = MAX_HELD) -> str:
    shown = sorted(days)[-most:]
    return format_list([texts.date(d) for d in shown], locale=texts.locale)


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(MECHANISM_ZONE).date()


# What is expected next.


def next_expected(
    projections: Sequence[Projection], selection: Selection, limit: int = MAX_EXPECTED
) -> list[Projection]:
    """The projections worth telling a reader, soonest first, that their filters match."""
    shown = [p for p in projections if p.kind in SHOWN_KINDS and selection.matches(as_deadline(p))]
    return sorted(shown, key=lambda p: (p.best, p.id))[:limit]


def _expected_title(projection: Projection, texts: Texts) -> str:
    return title_of(as_deadline(projection), texts)


def _basis(projection: Projection, every: Sequence[Projection], texts: Texts) -> str:
    """Why we expect it, in the reader's words: the past dates and the rule it follows."""
    if projection.kind == "application-call":
        dialogue = next(
            (p for p in every if p.event_id == projection.anchor and p.kind != projection.kind),
            None,
        )
        window = _span(dialogue.earliest, dialogue.latest, texts) if dialogue else None
        if projection.held and window:
            return texts(
                "Past calls closed on {dates}, some weeks before their dialogue; this "
                "dialogue is expected {window}."
            ).format(dates=_dates(projection.held, texts), window=window)
        if window:
            return texts("No past call is known; this dialogue is expected {window}.").format(
                window=window
            )
        return texts("No past call is known.")
    if projection.held:
        return texts(
            "Held on {dates} in earlier years; the mechanism's rhythm puts it in the same season."
        ).format(dates=_dates(projection.held, texts))
    return texts("No earlier session is known; placed in the mechanism's usual season.")


def expected_entry(projection: Projection, every: Sequence[Projection], texts: Texts) -> Entry:
    """One expected occurrence: its window, "not yet announced", a best guess, its basis."""
    window = _span(projection.earliest, projection.latest, texts)
    if projection.kind == "application-call":
        when = texts("closing {window}, not yet announced").format(window=window)
    else:
        when = texts("expected {window}, not yet announced").format(window=window)
    guess = texts("best guess: {date}").format(
        date=_span(projection.best, projection.best_end, texts)
    )
    return Entry(
        title=_expected_title(projection, texts),
        lines=(when, guess, _basis(projection, every, texts)),
    )


def expected_part(
    shown: Sequence[Projection], every: Sequence[Projection], texts: Texts
) -> Part | None:
    """The expected occurrences, under a heading that says they are not announced."""
    if not shown:
        return None
    return Part(
        heading=texts("Expected next, not yet announced"),
        entries=tuple(expected_entry(p, every, texts) for p in shown),
    )


# What happened, and how fresh the data is.


def happened(
    deadlines: Iterable[Deadline], now: dt.datetime, count: int = MAX_HAPPENED
) -> list[Deadline]:
    """The latest events that took place before `now`, latest first."""
    past = [
        d
        for d in deadlines
        if d.kind == "event" and d.status not in ("expected", "cancelled") and d.sort_key <= now
    ]
    return sorted(past, key=lambda d: d.sort_key, reverse=True)[:count]


def freshness(
    last_read: dt.datetime | None,
    last_change: dt.datetime | None,
    deadlines: Iterable[Deadline],
    data: Dataset,
    now: dt.datetime,
) -> Freshness:
    """How fresh the data is: the watcher's readings and the latest dated fact we hold."""
    latest = happened(deadlines, now, 1)
    today = _today(now)
    figures = [p for p in data.progress.values() if p.date <= today]
    figure = max(figures, key=lambda p: p.date, default=None)
    event_day = None
    if latest:
        due = latest[0].due
        event_day = due.date() if isinstance(due, dt.datetime) else due
    if figure is not None and (event_day is None or figure.date > event_day):
        return Freshness(last_read, last_change, figure.date, None, figure.precision == "month")
    if latest and event_day is not None:
        return Freshness(
            last_read, last_change, event_day, latest[0].title, latest[0].precision == "month"
        )
    return Freshness(last_read, last_change, None, None)


def _event_when(deadline: Deadline, texts: Texts) -> str:
    due = deadline.due.date() if isinstance(deadline.due, dt.datetime) else deadline.due
    if deadline.precision == "month":
        return month(due, texts)
    return texts.date(due)


def happened_part(events: Sequence[Deadline], texts: Texts) -> Part | None:
    """The latest events that did take place, with their dates."""
    if not events:
        return None
    lines = tuple(texts.labelled(_event_when(d, texts), title_of(d, texts)) for d in events)
    return Part(heading=texts("The latest that took place"), lines=lines)


def freshness_part(fresh: Freshness, texts: Texts) -> Part:
    """When the sources were last read, and the latest fact in our data."""
    lines = []
    if fresh.last_read is not None:
        lines.append(
            texts("Our sources were last read on {date}.").format(
                date=texts.date(_today(fresh.last_read))
            )
        )
        if fresh.last_change is not None:
            lines.append(
                texts("The last change seen on them: {date}.").format(
                    date=texts.date(_today(fresh.last_change))
                )
            )
    else:
        lines.append(
            texts("This service has not read its sources yet: what you see is the bundled data.")
        )
    if fresh.latest_fact is not None:
        when = (
            month(fresh.latest_fact, texts)
            if fresh.latest_fact_month
            else texts.date(fresh.latest_fact)
        )
        what = (
            texts(fresh.latest_fact_title)
            if fresh.latest_fact_title
            else texts("a progress figure of the reviews")
        )
        lines.append(
            texts("The latest fact in our data is from {date}: {what}.").format(
                date=when, what=what
            )
        )
    return Part(heading=texts("How fresh this is"), lines=tuple(lines))


def _next_steps(commands: Commands, country: str | None, texts: Texts) -> Part:
    follow = f"{commands.subscribe} {country}" if country else f"{commands.subscribe} firearms"
    look = f"{commands.country} {country or 'AT'}"
    return Part(
        heading=texts("What you can do now"),
        lines=(
            texts("{command}: be told as soon as a date is announced.").format(command=follow),
            texts("{command}: where a State's review stands.").format(command=look),
        ),
    )


def nothing_announced(
    *,
    texts: Texts,
    days: int,
    country: str | None,
    followed: bool,
    expected: Sequence[Projection],
    every: Sequence[Projection],
    events: Sequence[Deadline],
    fresh: Freshness,
    commands: Commands,
) -> Reply:
    """The answer to "what is coming up" when nothing announced falls in the next `days`.

    Never a dead end: what is expected next and why, what took place last, how fresh
    the data is, and what to do now.
    """
    if country is not None:
        heading = texts.plural(
            "Nothing has been announced for {country} for the next {days} day.",
            "Nothing has been announced for {country} for the next {days} days.",
            days,
        ).format(country=texts.country(country), days=days)
    elif followed:
        heading = texts.plural(
            "Nothing has been announced for what is followed here for the next {days} day.",
            "Nothing has been announced for what is followed here for the next {days} days.",
            days,
        ).format(days=days)
    else:
        heading = texts.plural(
            "Nothing has been announced for the next {days} day.",
            "Nothing has been announced for the next {days} days.",
            days,
        ).format(days=days)
    intro = texts(
        "Delays are the normal case. Here is what the mechanism's own rhythm makes likely, "
        "marked expected until it is announced."
    )
    parts = [
        Part(lines=(intro,)),
        expected_part(expected, every, texts),
        happened_part(events, texts),
        freshness_part(fresh, texts),
        _next_steps(commands, country, texts),
    ]
    return Reply(heading=heading, parts=tuple(p for p in parts if p is not None))


@dataclass(frozen=True)
class Upcoming:
    """The answer to "what is coming up", for a channel to lay out.

    `announced` are listed as every deadline is; when there are none, `nothing` is the
    whole answer; when they are few, `expected` follows them.
    """

    announced: list[Deadline]
    nothing: Reply | None
    expected: Part | None


def upcoming_answer(
    *,
    found: Sequence[Deadline],
    deadlines: Sequence[Deadline],
    projections: Sequence[Projection],
    data: Dataset,
    now: dt.datetime,
    texts: Texts,
    days: int,
    selection: Selection,
    country: str | None,
    followed: bool,
    sources_read: tuple[dt.datetime | None, dt.datetime | None],
    commands: Commands,
) -> Upcoming:
    """What to say to "what is coming up": the announced deadlines, then what is expected.

    `found` are the deadlines open in the next `days` that match `selection`; the
    expected ones among them are told with their window and basis instead.
    """
    announced = [d for d in found if d.status != "expected"]
    if not announced:
        last_read, last_change = sources_read
        reply = nothing_announced(
            texts=texts,
            days=days,
            country=country,
            followed=followed,
            expected=next_expected(projections, selection),
            every=projections,
            events=happened(deadlines, now),
            fresh=freshness(last_read, last_change, deadlines, data, now),
            commands=commands,
        )
        return Upcoming(announced, reply, None)
    extra = None
    if len(announced) < FEW_ANNOUNCED:
        shown = next_expected(projections, selection, EXPECTED_AFTER_ANNOUNCED)
        extra = expected_part(shown, projections, texts)
    return Upcoming(announced, None, extra)
