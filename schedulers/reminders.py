"""The reminder planner: which alert, for whom, and when. Pure; `now` is passed in.

For each subscriber and each deadline they follow it plans reminders at their lead times
(at their morning hour, outside their quiet hours, in their time zone), a last call a few
hours before a timed registration closes, overdue notices for milestones whose date
passed with no completion recorded, date-change alerts, and digests. Only alerts due
within `horizon` are planned, so the outbox holds what is near, not every future alert.

A guess gets no countdown: an expected occurrence gets one "heads_up" when the time to
look for its application call comes (its `watch_from`), and one "announced" alert when
its real dates arrive (with the registration deadline in the same message).

Every alert has a key naming the subscriber, the deadline, the kind, the lead time and
the deadline's date fingerprint: planning twice yields the same keys, and when a date
moves the new reminders have new keys while the old ones are recognised as superseded.
An alert whose moment passed while the service was down is sent late, and says so,
within `grace`; one further in the past, or whose deadline has passed, is not planned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from config.vocabulary import ZONE
from schedulers.dates import UTC
from schedulers.timeline import MECHANISM_ZONE, Deadline, Selection, fingerprint

DEFAULT_LEAD_DAYS = (30, 14, 7, 1, 0)
LAST_CALL = dt.timedelta(hours=6)
GRACE = dt.timedelta(hours=12)
HORIZON = dt.timedelta(hours=36)
OVERDUE_NOTICES = 3
OVERDUE_INTERVAL = dt.timedelta(days=7)
CHANGE_WINDOW = dt.timedelta(days=3)
DIGEST_DAYS = {"daily": 7, "weekly": 14}


@dataclass(frozen=True)
class Preferences:
    """One subscriber as the planner sees it."""

    subscriber_id: int
    selection: Selection = field(default_factory=Selection)
    timezone: str = ZONE
    lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS
    morning_hour: int = 9
    quiet: tuple[int, int] | None = None
    digest: str = "off"
    digest_hour: int = 9
    digest_weekday: int = 0
    acknowledged: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Planned:
    """One alert for one subscriber, with the moment it should go out (UTC)."""

    key: str
    subscriber_id: int
    kind: str
    at: dt.datetime
    deadline_id: str | None = None
    lead_days: int | None = None
    late: bool = False
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """A deadline whose dates changed: its version number and the dates before."""

    deadline_id: str
    sequence: int
    changed_at: dt.datetime
    previous: Mapping[str, Any] = field(default_factory=dict)
    # The first change of an occurrence that was expected: its announcement.
    announced: bool = False


def _quiet(hour: int, quiet: tuple[int, int] | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    return start <= hour < end if start < end else hour >= start or hour < end


@lru_cache(maxsize=8192)  # readers share zones and hours: each moment is worked out once
def at_local_hour(
    day: dt.date, hour: int, zone: ZoneInfo, quiet: tuple[int, int] | None
) -> dt.datetime:
    """`hour` o'clock on `day` in `zone`, moved to the end of quiet hours if inside them."""
    while _quiet(hour, quiet):
        hour = (hour + 1) % 24
    moment = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)
    # a wall time skipped by a DST change becomes the first instant after the gap
    return moment.astimezone(UTC)


def _deadline_instant(deadline: Deadline) -> dt.datetime:
    """When a deadline passes: its instant, or the end of its day in Vienna."""
    if isinstance(deadline.due, dt.datetime):
        return deadline.due
    end = dt.datetime.combine(
        deadline.due + dt.timedelta(days=1), dt.time(0), tzinfo=MECHANISM_ZONE
    )
    return end.astimezone(UTC)


def _local_day(deadline: Deadline, zone: ZoneInfo) -> dt.date:
    """The day a deadline falls on for a reader in `zone` (its own date if whole-day)."""
    if isinstance(deadline.due, dt.datetime):
        return (deadline.due - dt.timedelta(microseconds=1)).astimezone(zone).date()
    return deadline.due


def _key(prefs: Preferences, deadline_id: str, kind: str, part: object, fp: str) -> str:
    return f"s{prefs.subscriber_id}|{deadline_id}|{kind}|{part}|{fp}"


def _window(at: dt.datetime, now: dt.datetime, horizon: dt.timedelta, grace: dt.timedelta) -> bool:
    return now - grace <= at <= now + horizon


# A subscriber's local day, and an hour of it, lie within this many days of a UTC date.
MARGIN_DAYS = 3


@dataclass(frozen=True)
class _Reach:
    """What of one deadline can fall in the planning window, for any reader anywhere.

    Worked out once per deadline, so that each subscriber costs only the few alerts that
    can concern them now, not a walk through every lead time of every deadline.
    """

    deadline: Deadline
    fingerprint: str
    passes: dt.datetime
    leads: range
    last_call: bool
    notices: range

    @property
    def empty(self) -> bool:
        return not (self.leads or self.last_call or self.notices)


def _reach(
    deadline: Deadline, now: dt.datetime, horizon: dt.timedelta, grace: dt.timedelta
) -> _Reach:
    passes = _deadline_instant(deadline)
    anchor = (
        deadline.due.astimezone(UTC).date()
        if isinstance(deadline.due, dt.datetime)
        else deadline.due
    )
    first = (now - grace).date() - dt.timedelta(days=MARGIN_DAYS)
    last = (now + horizon).date() + dt.timedelta(days=MARGIN_DAYS)
    leads = range(0)
    last_call = False
    if deadline.status in ("due_soon", "upcoming") and now < passes:
        leads = range(max((anchor - last).days, 0), (anchor - first).days + 1)
        last_call = (
            deadline.kind == "registration"
            and isinstance(deadline.due, dt.datetime)
            and _window(passes - LAST_CALL, now, horizon, grace)
        )
    notices = range(0)
    if deadline.status == "overdue" and deadline.kind == "milestone":
        week = OVERDUE_INTERVAL.days
        notices = range(
            max(-((anchor - first).days // week), 0),
            min((last - anchor).days // week + 1, OVERDUE_NOTICES),
        )
    return _Reach(deadline, fingerprint(deadline), passes, leads, last_call, notices)


def _reminders(
    reach: _Reach,
    prefs: Preferences,
    now: dt.datetime,
    horizon: dt.timedelta,
    grace: dt.timedelta,
) -> Iterator[Planned]:
    deadline, passes, fp = reach.deadline, reach.passes, reach.fingerprint
    leads = (
        sorted({lead for lead in prefs.lead_days if lead in reach.leads}, reverse=True)
        if prefs.digest == "off"
        else []
    )
    if leads:
        zone = ZoneInfo(prefs.timezone)
        day = _local_day(deadline, zone)
    for lead in leads:
        at = at_local_hour(day - dt.timedelta(days=lead), prefs.morning_hour, zone, prefs.quiet)
        if isinstance(deadline.due, dt.datetime):
            at = min(at, passes - dt.timedelta(hours=1))
        if at >= passes or not _window(at, now, horizon, grace):
            continue
        yield Planned(
            key=_key(prefs, deadline.id, "reminder", lead, fp),
            subscriber_id=prefs.subscriber_id,
            kind="reminder",
            at=max(at, now),
            deadline_id=deadline.id,
            lead_days=lead,
            late=at < now,
            payload={"lead_days": lead, "fingerprint": fp, "late": at < now},
        )
    if reach.last_call:
        at = passes - LAST_CALL
        yield Planned(
            key=_key(prefs, deadline.id, "last_call", "", fp),
            subscriber_id=prefs.subscriber_id,
            kind="last_call",
            at=max(at, now),
            deadline_id=deadline.id,
            late=at < now,
            payload={"fingerprint": fp, "late": at < now},
        )


def _overdue(
    reach: _Reach,
    prefs: Preferences,
    now: dt.datetime,
    horizon: dt.timedelta,
    grace: dt.timedelta,
) -> Iterator[Planned]:
    if not reach.notices:
        return
    deadline, fp = reach.deadline, reach.fingerprint
    zone = ZoneInfo(prefs.timezone)
    first_day = _local_day(deadline, zone) + dt.timedelta(days=1)
    for number in reach.notices:
        day = first_day + number * OVERDUE_INTERVAL
        at = at_local_hour(day, prefs.morning_hour, zone, prefs.quiet)
        if _window(at, now, horizon, grace):
            yield Planned(
                key=_key(prefs, deadline.id, "overdue", number, fp),
                subscriber_id=prefs.subscriber_id,
                kind="overdue",
                at=max(at, now),
                deadline_id=deadline.id,
                late=at < now,
                payload={"notice": number + 1, "fingerprint": fp, "late": at < now},
            )


def _digests(
    prefs: Preferences, now: dt.datetime, horizon: dt.timedelta, grace: dt.timedelta
) -> Iterator[Planned]:
    if prefs.digest not in DIGEST_DAYS:
        return
    zone = ZoneInfo(prefs.timezone)
    today = now.astimezone(zone).date()
    for offset in range(-1, horizon.days + 2):
        day = today + dt.timedelta(days=offset)
        if prefs.digest == "weekly" and day.weekday() != prefs.digest_weekday:
            continue
        at = at_local_hour(day, prefs.digest_hour, zone, prefs.quiet)
        if _window(at, now, horizon, grace):
            yield Planned(
                key=f"s{prefs.subscriber_id}|digest|{prefs.digest}|{day.isoformat()}",
                subscriber_id=prefs.subscriber_id,
                kind="digest",
                at=max(at, now),
                late=at < now,
                payload={"days": DIGEST_DAYS[prefs.digest], "late": at < now},
            )


def plan(
    deadlines: Iterable[Deadline],
    subscribers: Iterable[Preferences],
    now: dt.datetime,
    *,
    changes: Iterable[Change] = (),
    horizon: dt.timedelta = HORIZON,
    grace: dt.timedelta = GRACE,
) -> list[Planned]:
    """Every alert due within `horizon` of `now` (or late within `grace`), soonest first.

    The deadlines that can yield an alert now are found once, and matched once per
    distinct set of filters, so the cost grows with the alerts due, not with
    subscribers times deadlines.
    """
    deadlines = list(deadlines)
    by_id = {d.id: d for d in deadlines}
    reachable = [r for r in (_reach(d, now, horizon, grace) for d in deadlines) if not r.empty]
    recent = _told_once(
        [c for c in changes if now - c.changed_at <= CHANGE_WINDOW and c.deadline_id in by_id]
    )
    last = (now + horizon).date()
    calls = [
        d
        for d in deadlines
        if d.status == "expected" and d.watch_from is not None and d.watch_from <= last
    ]
    followed: dict[
        tuple[frozenset[object], ...], tuple[list[_Reach], list[Change], list[Deadline]]
    ] = {}
    planned: list[Planned] = []
    for prefs in subscribers:
        selection = prefs.selection
        mine = followed.get(selection.key())
        if mine is None:
            mine = followed[selection.key()] = (
                [r for r in reachable if selection.matches(r.deadline)],
                [c for c in recent if selection.matches(by_id[c.deadline_id])],
                [d for d in calls if selection.matches(d)],
            )
        reaches, changed, watched = mine
        for reach in reaches:
            if reach.deadline.id in prefs.acknowledged:
                continue
            planned.extend(_reminders(reach, prefs, now, horizon, grace))
            planned.extend(_overdue(reach, prefs, now, horizon, grace))
        for change in changed:
            if change.deadline_id not in prefs.acknowledged:
                planned.append(_change(change, prefs, now, by_id))
        planned.extend(_heads_up(d, prefs, now) for d in watched if d.id not in prefs.acknowledged)
        planned.extend(_digests(prefs, now, horizon, grace))
    planned.sort(key=lambda p: (p.at, p.key))
    return planned


def _told_once(changes: list[Change]) -> list[Change]:
    """An announced registration goes out in its event's "announced" alert, not alone."""
    events = {c.deadline_id for c in changes if c.announced}
    return [
        c
        for c in changes
        if not (
            c.announced and c.deadline_id.startswith("r-") and f"e-{c.deadline_id[2:]}" in events
        )
    ]


def _change(
    change: Change, prefs: Preferences, now: dt.datetime, by_id: Mapping[str, Deadline]
) -> Planned:
    if change.announced:
        registration = (
            f"r-{change.deadline_id[2:]}" if change.deadline_id.startswith("e-") else None
        )
        return Planned(
            key=f"s{prefs.subscriber_id}|{change.deadline_id}|announced",
            subscriber_id=prefs.subscriber_id,
            kind="announced",
            at=now,
            deadline_id=change.deadline_id,
            payload={"registration": registration if registration in by_id else None},
        )
    return Planned(
        key=f"s{prefs.subscriber_id}|{change.deadline_id}|change|{change.sequence}",
        subscriber_id=prefs.subscriber_id,
        kind="change",
        at=now,
        deadline_id=change.deadline_id,
        payload={"sequence": change.sequence, "previous": dict(change.previous)},
    )


def _heads_up(deadline: Deadline, prefs: Preferences, now: dt.datetime) -> Planned:
    """Once per reader: the time to look for an expected application call has come."""
    assert deadline.watch_from is not None
    zone = ZoneInfo(prefs.timezone)
    at = at_local_hour(deadline.watch_from, prefs.morning_hour, zone, prefs.quiet)
    return Planned(
        key=f"s{prefs.subscriber_id}|{deadline.id}|heads_up",
        subscriber_id=prefs.subscriber_id,
        kind="heads_up",
        at=max(at, now),
        deadline_id=deadline.id,
    )


@dataclass(frozen=True)
class PageChange:
    """A watched page whose meaningful content changed, and the themes it concerns."""

    change_id: int
    source_id: str
    url: str
    summary: str
    detected_at: dt.datetime
    themes: frozenset[str] = frozenset()
    # Where the service shows what was added and removed (/changes/{id}).
    diff_url: str | None = None


def plan_page_changes(
    changes: Iterable[PageChange], subscribers: Iterable[Preferences], now: dt.datetime
) -> list[Planned]:
    """A "page changed" alert per recent change, for subscribers of its themes."""
    planned = []
    recent = [c for c in changes if now - c.detected_at <= CHANGE_WINDOW]
    for prefs in subscribers:
        wanted = set(prefs.selection.themes)
        for change in recent:
            if wanted and change.themes and not wanted & change.themes:
                continue
            planned.append(
                Planned(
                    key=f"s{prefs.subscriber_id}|page|{change.change_id}",
                    subscriber_id=prefs.subscriber_id,
                    kind="change",
                    at=now,
                    payload={
                        "text": change.summary,
                        "link": change.diff_url or change.url,
                        "page": change.url,
                        "source": change.source_id,
                    },
                )
            )
    return planned


def current_fingerprints(deadlines: Iterable[Deadline]) -> dict[str, str]:
    """Each deadline's date fingerprint, to recognise reminders planned for an old date."""
    return {d.id: fingerprint(d) for d in deadlines}
