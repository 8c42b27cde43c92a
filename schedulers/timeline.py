"""The review timeline: every deadline the service knows, with its status at a given moment.

Pure functions over the dataset. `now` is always passed in, so the same code answers
"what is due today" and "what was due on 1 March 2022". Milestones of a country review are
computed from the rules; chained steps run from the recorded actual date of the step
before, or, until one is recorded, from its due date, and are then only `projected`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal
from zoneinfo import ZoneInfo

from config.dataset import (
    VIENNA,
    Confidence,
    Dataset,
    Event,
    MilestoneRule,
    Precision,
    weakest,
)
from config.vocabulary import KINDS as KINDS  # declared once, with their words
from config.vocabulary import Kind as Kind
from schedulers.dates import UTC, add_offset, day_text, end_of_day, local_instant

# `no_news`: a step whose due date passed with nothing recorded, and no source saying it is
# late: we know nothing, which is not the same as knowing it is late. `overdue` is only
# for a step a source says is late (the dataset's `delays`).
# "expected": projected from the mechanism's rhythm (schedulers/expected.py), not announced.
Status = Literal["done", "overdue", "no_news", "due_soon", "upcoming", "cancelled", "expected"]
STATUSES: tuple[Status, ...] = (
    "done",
    "overdue",
    "no_news",
    "due_soon",
    "upcoming",
    "cancelled",
    "expected",
)
# Statuses of a step whose date passed with no completion recorded.
PASSED: frozenset[Status] = frozenset({"overdue", "no_news"})
DUE_SOON = dt.timedelta(days=30)
# Whole-day milestones are judged on the calendar of the mechanism's seat.
MECHANISM_ZONE = ZoneInfo(VIENNA)


@dataclass(frozen=True)
class Deadline:
    """One dated thing a subscriber may act on, with the same `id` everywhere it appears.

    `due` is a `date` for whole-day deadlines and a UTC `datetime` for timed ones; `local`
    is the same moment as announced (the date, or an aware datetime in `zone`).
    """

    id: str
    kind: Kind
    title: str
    due: dt.date | dt.datetime
    local: dt.date | dt.datetime
    zone: str | None
    status: Status
    confidence: Confidence
    source: str
    country: str | None = None
    cluster: int | None = None
    milestone: str | None = None
    event_id: str | None = None
    themes: tuple[str, ...] = ()
    end: dt.date | dt.datetime | None = None
    end_of_day: bool = False
    actual: dt.date | None = None
    basis: str | None = None
    hint: str | None = None
    url: str | None = None
    place: str | None = None
    note: str | None = None
    sort_key: dt.datetime = field(default=dt.datetime.min.replace(tzinfo=UTC), compare=False)
    # "month": only the month is known; `due` is its 1st and `end` its last day. Show the
    # month ("October 2026"), never the day.
    precision: Precision = "day"
    # A source saying this step is late (the only thing that makes a step `overdue`).
    reported_late: str | None = None
    # For an expected occurrence: every day it may fall on; `due`..`end` is the best guess.
    earliest: dt.date | None = None
    latest: dt.date | None = None
    # For an expected application deadline: the day to start looking for its call.
    watch_from: dt.date | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.due, dt.datetime)


@dataclass(frozen=True)
class Selection:
    """Filters, as a subscriber or a command line gives them.

    A filter narrows only the deadlines that have that dimension: following Austria shows
    Austria's milestones and still the dialogues in Vienna, which concern every country.
    """

    countries: Collection[str] = ()
    clusters: Collection[int] = ()
    kinds: Collection[str] = ()
    themes: Collection[str] = ()
    statuses: Collection[str] = ()
    muted_countries: Collection[str] = ()

    def key(self) -> tuple[frozenset[object], ...]:
        """The filters as a hashable value: equal for selections that match alike."""
        return (
            frozenset(self.countries),
            frozenset(self.clusters),
            frozenset(self.kinds),
            frozenset(self.themes),
            frozenset(self.statuses),
            frozenset(self.muted_countries),
        )

    def matches(self, deadline: Deadline) -> bool:
        if self.kinds and deadline.kind not in self.kinds:
            return False
        if deadline.country is not None and deadline.country in self.muted_countries:
            return False
        if self.statuses and deadline.status not in self.statuses:
            return False
        if (
            self.countries
            and deadline.country is not None
            and deadline.country not in self.countries
        ):
            return False
        if self.clusters and deadline.cluster is not None and deadline.cluster not in self.clusters:
            return False
        return not (self.themes and deadline.themes and not set(deadline.themes) & set(self.themes))


def fingerprint(deadline: Deadline) -> str:
    """What makes a deadline a different one for its readers: dates, zone, cancellation.

    Calendar SEQUENCE numbers rise and reminders are re-planned when it changes.
    """
    if deadline.status == "expected":
        # A guess moves as the days pass (its window is cut at today): that is no news, and
        # must not raise SEQUENCE or send "date changed". The announcement changes it.
        return "expected"
    parts = (deadline.due, deadline.end, deadline.zone, deadline.status == "cancelled")
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _day_status(due: dt.date, today: dt.date, *, reported_late: bool = False) -> Status:
    if today > due:
        return "overdue" if reported_late else "no_news"
    return "due_soon" if due - today <= DUE_SOON else "upcoming"


def _instant_status(due: dt.datetime, now: dt.datetime) -> Status:
    if now >= due:
        return "done"
    return "due_soon" if due - now <= DUE_SOON else "upcoming"


def last_of_month(day: dt.date) -> dt.date:
    """The last day of `day`'s month: where a date known only to the month ends."""
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=MECHANISM_ZONE).astimezone(UTC)


def review_start(
    data: Dataset, country: str, cluster: int
) -> tuple[dt.date, Confidence, str] | None:
    """When a State's review for a cluster started (or starts), how sure we are, and why."""
    recorded = data.review_starts.get((country, cluster))
    if recorded is not None:
        return recorded.date, recorded.confidence, recorded.source
    found = data.group_of(country)
    if found is None:
        return None
    group, membership = found
    for start in group.cluster_starts:
        if start.cluster == cluster:
            source = f"{start.source}; group membership: {membership.source}"
            return start.date, weakest(start.confidence, membership.confidence), source
    return None


def milestone_deadlines(
    data: Dataset, country: str, cluster: int, today: dt.date
) -> list[Deadline]:
    """The steps of one State's review of one cluster, in rule order, with statuses."""
    start = review_start(data, country, cluster)
    if start is None:
        return []
    start_date, start_confidence, start_source = start
    themes = tuple(data.clusters[cluster].themes)
    computed: dict[str, Deadline] = {}
    for rule in _in_dependency_order(data.milestones.values()):
        recorded = data.milestone_dates.get((country, cluster, rule.id))
        actual = recorded.date if recorded is not None and recorded.date <= today else None
        if rule.after == "start":
            base, basis = start_date, "start"
            confidence = weakest(start_confidence, rule.confidence)
            source = f"{rule.source}; review start: {start_source}"
        else:
            before = computed[rule.after]
            if before.actual is not None:
                base, basis = before.actual, f"actual:{rule.after}"
                confidence = weakest(before.confidence, rule.confidence)
            else:
                base, basis = before.due, f"due:{rule.after}"
                confidence = "projected"
            source = rule.source
        offset = rule.offset
        due = add_offset(base, days=offset.days, weeks=offset.weeks, months=offset.months)
        delay = data.delays.get((country, cluster, rule.id))
        if delay is not None and delay.reported_on > today:
            delay = None  # not yet said at `today`
        status: Status = (
            "done"
            if actual is not None
            else _day_status(due, today, reported_late=delay is not None)
        )
        if recorded is not None and actual is not None:
            source = f"{source}; actual date: {recorded.source}"
        computed[rule.id] = Deadline(
            id=f"m-{country.lower()}-c{cluster}-{rule.id}",
            kind="milestone",
            title=rule.title,
            due=due,
            local=due,
            zone=None,
            status=status,
            confidence=confidence,
            source=source,
            country=country,
            cluster=cluster,
            milestone=rule.id,
            themes=themes,
            actual=actual,
            basis=basis,
            hint=rule.hint,
            sort_key=_start_of_day(due),
            reported_late=delay.source if delay is not None and status == "overdue" else None,
            note=delay.note if delay is not None and status == "overdue" else None,
        )
    return [computed[rule_id] for rule_id in data.milestones if rule_id in computed]


def _in_dependency_order(rules: Iterable[MilestoneRule]) -> Iterator[MilestoneRule]:
    pending = list(rules)
    done: set[str] = {"start"}
    while pending:  # the loader has refused cycles and unknown references
        ready = [rule for rule in pending if rule.after in done]
        for rule in ready:
            done.add(rule.id)
            pending.remove(rule)
            yield rule


def event_deadlines(event: Event, now: dt.datetime) -> list[Deadline]:
    """The event itself, and its registration deadline if it has one."""
    zone = ZoneInfo(event.zone)
    if event.precision == "month":  # only the month is known: it spans the month
        event = event.model_copy(update={"start": event.start.replace(day=1)})
    last_day = event.end or (
        last_of_month(event.start) if event.precision == "month" else event.start
    )
    due: dt.date | dt.datetime
    end: dt.date | dt.datetime
    local: dt.date | dt.datetime
    if event.start_time is not None:
        local = local_instant(event.start, event.start_time, zone)
        due = sort_key = local.astimezone(UTC)
        finished = (
            local_instant(last_day, event.end_time, zone)
            if event.end_time is not None
            else end_of_day(last_day, zone)
        )
        end = finished.astimezone(UTC)
    else:
        due = local = event.start
        end = last_day
        finished = end_of_day(last_day, zone)
        sort_key = dt.datetime.combine(event.start, dt.time(0), tzinfo=zone).astimezone(UTC)
    status: Status
    if event.status == "cancelled":
        status = "cancelled"
    elif now >= finished:
        status = "done"
    else:
        status = "due_soon" if sort_key - now <= DUE_SOON else "upcoming"
    happening = Deadline(
        id=f"e-{event.id}",
        kind="event",
        title=event.title,
        due=due,
        local=local,
        zone=event.zone,
        status=status,
        confidence=event.confidence,
        source=event.source,
        event_id=event.id,
        themes=tuple(event.themes),
        end=end if end != due else None,
        url=event.url,
        place=event.place,
        note=event.note,
        sort_key=sort_key,
        precision=event.precision,
    )
    registration = event.registration
    if registration is None:
        return [happening]
    reg_zone = ZoneInfo(registration.zone)
    wall = registration.local_time
    closes = (
        end_of_day(registration.deadline, reg_zone)
        if wall is None
        else local_instant(registration.deadline, wall, reg_zone)
    )
    instant = closes.astimezone(UTC)
    closing = replace(
        happening,
        id=f"r-{event.id}",
        kind="registration",
        title=event.title,
        due=instant,
        local=closes,
        zone=registration.zone,
        status="cancelled" if event.status == "cancelled" else _instant_status(instant, now),
        end=None,
        precision="day",
        end_of_day=wall is None,
        url=registration.url or event.url,
        note=registration.note or event.note,
        sort_key=instant,
    )
    return [closing, happening]


def compute_deadlines(data: Dataset, now: dt.datetime) -> list[Deadline]:
    """Every deadline in the dataset at `now` (aware), soonest first."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    today = now.astimezone(MECHANISM_ZONE).date()
    deadlines: list[Deadline] = []
    for country in data.states:
        for cluster in data.clusters:
            deadlines.extend(milestone_deadlines(data, country, cluster, today))
    for event in data.events.values():
        deadlines.extend(event_deadlines(event, now))
    deadlines.sort(key=lambda d: (d.sort_key, d.id))
    return deadlines


def upcoming(
    deadlines: Iterable[Deadline],
    now: dt.datetime,
    days: int,
    selection: Selection = Selection(),
    *,
    include_overdue: bool = False,
) -> list[Deadline]:
    """Deadlines still open within `days` of `now` that match `selection`, soonest first
    (the rhythm's `expected` occurrences among them, when the caller passes them in).

    `include_overdue` adds the steps whose date passed with no completion recorded:
    `overdue` (a source says so) and `no_news` (nobody said anything).
    """
    horizon = now + dt.timedelta(days=days)
    wanted = {"due_soon", "upcoming", "expected"} | (PASSED if include_overdue else set())
    return [
        d
        for d in deadlines
        if d.status in wanted and d.sort_key <= horizon and selection.matches(d)
    ]


def status_words(deadline: Deadline) -> str:
    """The status in plain English, honest about what is known (presenters translate it).

    "due 15 November 2021 (projected from the group's start), no news since" for a step
    nobody reported on; "late, as reported: <source>" for a step a source says is late.
    """
    day = deadline.due if not isinstance(deadline.due, dt.datetime) else deadline.due.date()
    when = day_text(day)
    if deadline.kind == "milestone" and deadline.basis is not None:
        origin = (
            "from the group's start"
            if deadline.basis == "start"
            else f"from the {'actual' if deadline.basis.startswith('actual') else 'due'} "
            f"date of {deadline.basis.split(':', 1)[1].replace('-', ' ')}"
        )
        when = f"{when} (projected {origin})" if deadline.confidence != "confirmed" else when
    if deadline.status == "no_news":
        return f"due {when}, no news since"
    if deadline.status == "overdue":
        return f"due {when}; late, as reported: {deadline.reported_late or deadline.source}"
    if deadline.status == "done":
        return f"done {deadline.actual.isoformat()}" if deadline.actual else "done"
    return f"{deadline.status.replace('_', ' ')}: due {when}"


def _as_written(message: str) -> str:
    return message


def reader_title(
    deadline: Deadline,
    words: Callable[[str], str] = _as_written,
    country_name: Callable[[str], str] | None = None,
) -> str:
    """The title every presenter shows, translated by `words` (English when not given).

    The timeline keeps each deadline's plain title: a registration keeps its event's.
    This is the one place that makes "Registration closes: <event>", and, given
    `country_name`, puts a State's name before its review steps ("Austria: ...").
    """
    if deadline.kind == "registration":
        title = words("Registration closes: {event}").format(event=words(deadline.title))
    else:
        title = words(deadline.title)
    if country_name is not None and deadline.country:
        return f"{country_name(deadline.country)}: {title}"
    return title


def country_timeline(deadlines: Iterable[Deadline], country: str) -> list[Deadline]:
    """One State's milestones, by cluster then by due date."""
    own = [d for d in deadlines if d.country == country]
    return sorted(own, key=lambda d: (d.cluster or 0, d.sort_key))
