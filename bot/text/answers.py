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
from bot.text.render import CONFIDENCE_LABELS
from bot.text.wording import title_of
from config.dataset import Dataset, Progress
from schedulers.expected import as_deadline
from schedulers.review import CountryReview, PlannedPhase, WhatIsKnown
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
    lines = tuple(f"{_event_when(d, texts)}: {title_of(d, texts)}" for d in events)
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


# One State's review.


def _status(deadline: Deadline, data: Dataset, texts: Texts) -> str:
    """A step's status, honest about what is known: "due 15 November 2021 (...), no news since"."""
    due = deadline.due.date() if isinstance(deadline.due, dt.datetime) else deadline.due
    when = texts.date(due)
    if deadline.confidence != "confirmed" and deadline.basis is not None:
        if deadline.basis == "start":
            when = texts("{date} (projected from the group's start)").format(date=when)
        else:
            origin, _, step = deadline.basis.partition(":")
            rule = data.milestones.get(step)
            name = texts(rule.title) if rule is not None else step
            if origin.startswith("actual"):
                message = texts("{date} (projected from the actual date of: {step})")
            else:
                message = texts("{date} (projected from the due date of: {step})")
            when = message.format(date=when, step=name)
    if deadline.status == "no_news":
        return texts("due {date}, no news since").format(date=when)
    if deadline.status == "overdue":
        return texts("due {date}; late, as reported: {source}").format(
            date=when, source=deadline.reported_late or deadline.source
        )
    if deadline.status == "done":
        if deadline.actual is not None:
            return texts("done on {date}").format(date=texts.date(deadline.actual))
        return texts("done")
    return texts("due {date}").format(date=when)


def _step_entry(deadline: Deadline, data: Dataset, texts: Texts) -> Entry:
    confidence = texts(CONFIDENCE_LABELS[deadline.confidence])
    return Entry(
        title=texts(deadline.title),
        lines=(f"{_status(deadline, data, texts)} · {confidence}",),
        url=deadline.url,
    )


def _figure(progress: Progress, texts: Texts) -> str:
    when = (
        month(progress.date, texts) if progress.precision == "month" else texts.date(progress.date)
    )
    if progress.started is not None and progress.total is not None:
        figure = texts.plural(
            "{started} of {total} review under way",
            "{started} of {total} reviews under way",
            progress.total,
        ).format(started=progress.started, total=progress.total)
    elif progress.started is not None:
        figure = texts.plural(
            "{started} review under way", "{started} reviews under way", progress.started
        ).format(started=progress.started)
    else:
        figure = f"“{progress.quote}”"
    if progress.not_started is not None:
        figure += ", " + texts.plural(
            "{count} not started", "{count} not started", progress.not_started
        ).format(count=progress.not_started)
    confidence = texts(CONFIDENCE_LABELS[progress.confidence])
    return texts("{date}: {figure} ({confidence}; source: {source})").format(
        date=when, figure=figure, confidence=confidence, source=progress.source
    )


def _phase_entry(phase: PlannedPhase, texts: Texts) -> Entry:
    title = texts("Cluster {number}: {title}").format(
        number=phase.cluster, title=texts(phase.title)
    )
    lines = [
        texts("planned {start} to {end}, two-year phases from the group's start").format(
            start=month(phase.start, texts), end=month(phase.end, texts)
        )
    ]
    if phase.behind:
        lines.append(
            texts(
                "behind schedule: no start of this cluster is recorded, and every source says "
                "the reviews are still in cluster 1. Not a date to act on."
            )
        )
    else:
        lines.append(texts("a plan, not an announced date"))
    return Entry(title=title, lines=tuple(lines))


def _rule(data: Dataset, milestone: str, texts: Texts) -> str:
    rule = data.milestones[milestone]
    offset = rule.offset
    if rule.after == "start":
        if offset.months:
            return texts.plural(
                "within {count} month of the start of the review",
                "within {count} months of the start of the review",
                offset.months,
            ).format(count=offset.months)
        weeks = offset.weeks + offset.days // 7
        return texts.plural(
            "within {count} week of the start of the review",
            "within {count} weeks of the start of the review",
            weeks,
        ).format(count=weeks)
    before = texts(data.milestones[rule.after].title)
    count = offset.months or offset.weeks
    if offset.months:
        message = texts.plural(
            "within {count} month of: {step}", "within {count} months of: {step}", count
        )
    else:
        message = texts.plural(
            "within {count} week of: {step}", "within {count} weeks of: {step}", count
        )
    return message.format(count=count, step=before)


def _actions(data: Dataset, texts: Texts) -> Part:
    return Part(
        heading=texts("What you can do now"),
        entries=tuple(Entry(title=texts(a.title), url=a.url) for a in data.ngo_actions.values()),
    )


def _tell_us(name: str, contact: str, texts: Texts) -> Part:
    return Part(
        lines=(
            texts(
                "Know where the review of {country} stands? Tell the operators of this service "
                "({contact}): checked and sourced, it becomes part of our data."
            ).format(country=name, contact=contact),
        )
    )


def review_reply(review: CountryReview, data: Dataset, texts: Texts, contact: str) -> Reply:
    """The answer to "/country XX": the steps, the plan for later clusters, or what is known."""
    code = review.country
    name = f"{texts.country(code)} ({code})"
    heading = texts("Review timeline: {country}").format(country=name)
    if review.known is not None and not review.milestones:
        return _unknown_group(review.known, code, data, texts, contact, heading)
    parts: list[Part] = []
    if review.group is not None:
        parts.append(
            Part(
                lines=(
                    texts("{country} is in group {number} (source: {source}).").format(
                        country=texts.country(code),
                        number=review.group,
                        source=review.group_source or "",
                    ),
                    texts(
                        "A step with nothing recorded says “no news since”: delays are the "
                        "normal case, and we say more only when a source does."
                    ),
                )
            )
        )
    clusters: dict[int | None, list[Deadline]] = {}
    for step in review.milestones:
        clusters.setdefault(step.cluster, []).append(step)
    for number, steps in clusters.items():
        known = data.clusters.get(number) if number is not None else None
        title = texts(known.title) if known is not None else ""
        parts.append(
            Part(
                heading=texts("Cluster {number}: {title}").format(number=number, title=title),
                entries=tuple(_step_entry(d, data, texts) for d in steps),
            )
        )
    if review.phases:
        parts.append(
            Part(
                heading=texts("Later clusters, as planned (not dates to act on)"),
                entries=tuple(_phase_entry(p, texts) for p in review.phases),
            )
        )
    parts.append(_actions(data, texts))
    parts.append(_tell_us(texts.country(code), contact, texts))
    return Reply(heading=heading, parts=tuple(parts))


def _unknown_group(
    known: WhatIsKnown, code: str, data: Dataset, texts: Texts, contact: str, heading: str
) -> Reply:
    name = f"{texts.country(code)} ({code})"
    years = ", ".join(str(g.start.year) for g in known.groups)
    intro = texts.plural(
        "Every State party is in one of {count} group drawn by lot (reviews started in "
        "{years}); which one {country} is in is not in our data yet, so its own dates are "
        "not known.",
        "Every State party is in one of {count} groups drawn by lot (reviews started in "
        "{years}); which one {country} is in is not in our data yet, so its own dates are "
        "not known.",
        len(known.groups),
    ).format(count=len(known.groups), years=years, country=name)
    groups = []
    for group in known.groups:
        lines = [texts("reviews started on {date}").format(date=texts.date(group.start))]
        if group.reviews is not None:
            lines.append(
                texts.plural("{count} review", "{count} reviews", group.reviews).format(
                    count=group.reviews
                )
            )
        lines.append(
            f"{texts(CONFIDENCE_LABELS[group.confidence])}; "
            + texts("source: {source}").format(source=group.source)
        )
        groups.append(
            Entry(
                title=texts("Group {number}").format(number=group.number),
                lines=(" · ".join(lines),),
            )
        )
    progress = [_figure(p, texts) for p in known.progress[-MAX_PROGRESS:]]
    if known.plan:
        progress.append(texts(known.plan))
    steps = tuple(
        Entry(title=texts(step.title), lines=(_rule(data, step.milestone, texts),))
        for step in known.steps
    )
    parts = (
        Part(lines=(intro,)),
        Part(heading=texts("The three groups"), entries=tuple(groups)),
        Part(heading=texts("How far the reviews have got"), lines=tuple(progress)),
        Part(heading=texts("The steps every review goes through"), entries=steps),
        _actions(data, texts),
        _tell_us(texts.country(code), contact, texts),
    )
    return Reply(heading=heading, parts=parts)


def unknown_groups(codes: Iterable[str], data: Dataset) -> list[str]:
    """The States among `codes` whose review group (and so their dates) we do not know."""
    return sorted(c for c in codes if data.group_of(c) is None and (c, 1) not in data.review_starts)


def unknown_group_note(codes: Sequence[str], commands: Commands, texts: Texts) -> str:
    """What a subscriber to a State of unknown group still receives, said when subscribing."""
    names = ", ".join(f"{texts.country(c)} ({c})" for c in codes)
    return texts.plural(
        "The review group of {countries} is not in our data yet, so there are no review dates "
        "of its own to remind you of. You will still receive the constructive dialogues and "
        "their calls, the COP and the mechanism-wide news; {command} shows what is known.",
        "The review groups of {countries} are not in our data yet, so there are no review "
        "dates of their own to remind you of. You will still receive the constructive "
        "dialogues and their calls, the COP and the mechanism-wide news; {command} shows "
        "what is known.",
        len(codes),
    ).format(countries=names, command=f"{commands.country} {codes[0]}")


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
