"""The planner's shortcut (only deadlines that can yield an alert now, matched once per
set of filters) plans exactly what walking every subscriber through every deadline
plans, for readers anywhere on Earth, in any season, over any window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from config.dataset_loader import load_dataset
from schedulers import reminders
from schedulers.reminders import (
    DIGEST_DAYS,
    LAST_CALL,
    OVERDUE_INTERVAL,
    OVERDUE_NOTICES,
    Change,
    Planned,
    Preferences,
    at_local_hour,
    plan,
)
from schedulers.timeline import Deadline, Selection, compute_deadlines, fingerprint

UTC = dt.UTC
# the widest offsets, half and quarter hours, both hemispheres' summer time
ZONES = (
    "Europe/Vienna",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "America/Santiago",
    "UTC",
)


@cache
def _deadlines(now: dt.datetime) -> tuple[Deadline, ...]:
    return tuple(compute_deadlines(load_dataset(), now))


def _reference(
    deadlines: tuple[Deadline, ...],
    subscribers: list[Preferences],
    now: dt.datetime,
    changes: list[Change],
    horizon: dt.timedelta,
    grace: dt.timedelta,
) -> list[Planned]:
    """The planner written the plain way: every subscriber, every deadline, every lead."""

    def window(at: dt.datetime) -> bool:
        return now - grace <= at <= now + horizon

    def key(p: Preferences, deadline_id: str, kind: str, part: object, fp: str) -> str:
        return f"s{p.subscriber_id}|{deadline_id}|{kind}|{part}|{fp}"

    def alerts(d: Deadline, p: Preferences) -> Iterator[Planned]:
        zone = ZoneInfo(p.timezone)
        passes = reminders._deadline_instant(d)
        fp = fingerprint(d)
        day = reminders._local_day(d, zone)
        if d.status in ("due_soon", "upcoming"):
            for lead in sorted(set(p.lead_days), reverse=True) if p.digest == "off" else []:
                at = at_local_hour(day - dt.timedelta(days=lead), p.morning_hour, zone, p.quiet)
                if isinstance(d.due, dt.datetime):
                    at = min(at, passes - dt.timedelta(hours=1))
                if at >= passes or not window(at) or now >= passes:
                    continue
                late = at < now
                yield Planned(
                    key(p, d.id, "reminder", lead, fp),
                    p.subscriber_id,
                    "reminder",
                    max(at, now),
                    d.id,
                    lead,
                    late,
                    {"lead_days": lead, "fingerprint": fp, "late": late},
                )
            if d.kind == "registration" and isinstance(d.due, dt.datetime):
                at = passes - LAST_CALL
                if window(at) and now < passes:
                    yield Planned(
                        key(p, d.id, "last_call", "", fp),
                        p.subscriber_id,
                        "last_call",
                        max(at, now),
                        d.id,
                        None,
                        at < now,
                        {"fingerprint": fp, "late": at < now},
                    )
        elif d.status == "overdue" and d.kind == "milestone":
            for number in range(OVERDUE_NOTICES):
                at = at_local_hour(
                    day + dt.timedelta(days=1) + number * OVERDUE_INTERVAL,
                    p.morning_hour,
                    zone,
                    p.quiet,
                )
                if window(at):
                    yield Planned(
                        key(p, d.id, "overdue", number, fp),
                        p.subscriber_id,
                        "overdue",
                        max(at, now),
                        d.id,
                        None,
                        at < now,
                        {"notice": number + 1, "fingerprint": fp, "late": at < now},
                    )

    by_id = {d.id: d for d in deadlines}
    out: list[Planned] = []
    for p in subscribers:
        for d in deadlines:
            if d.id not in p.acknowledged and p.selection.matches(d):
                out.extend(alerts(d, p))
        for c in changes:
            d = by_id[c.deadline_id]
            recent = now - c.changed_at <= reminders.CHANGE_WINDOW
            if recent and p.selection.matches(d) and d.id not in p.acknowledged:
                out.append(
                    Planned(
                        f"s{p.subscriber_id}|{d.id}|change|{c.sequence}",
                        p.subscriber_id,
                        "change",
                        now,
                        d.id,
                        payload={"sequence": c.sequence, "previous": dict(c.previous)},
                    )
                )
        out.extend(reminders._digests(p, now, horizon, grace))
    out.sort(key=lambda item: (item.at, item.key))
    return out


selections = st.builds(
    Selection,
    countries=st.sets(st.sampled_from(["AT", "NG", "MX", "FR", "PH", "LB"]), max_size=2),
    clusters=st.sets(st.integers(1, 4), max_size=2),
    kinds=st.sets(st.sampled_from(["milestone", "registration", "event"]), max_size=2),
    themes=st.sets(st.sampled_from(["tip", "som", "firearms", "cooperation"]), max_size=2),
    muted_countries=st.sets(st.sampled_from(["AT", "FR"]), max_size=1),
)
quiet_hours = st.none() | st.tuples(st.integers(0, 23), st.integers(0, 23)).filter(
    lambda q: q[0] != q[1]
)


@st.composite
def subscribers(draw: st.DrawFn) -> list[Preferences]:
    shared = draw(st.lists(selections, min_size=1, max_size=3))  # many readers, few filters
    return [
        Preferences(
            subscriber_id=number,
            selection=draw(st.sampled_from(shared)),
            timezone=draw(st.sampled_from(ZONES)),
            lead_days=tuple(draw(st.sets(st.integers(0, 60), min_size=1, max_size=5))),
            morning_hour=draw(st.integers(0, 23)),
            quiet=draw(quiet_hours),
            digest=draw(st.sampled_from(["off", "off", *DIGEST_DAYS])),
            digest_hour=draw(st.integers(0, 23)),
            digest_weekday=draw(st.integers(0, 6)),
        )
        for number in range(draw(st.integers(1, 8)))
    ]


moments = st.datetimes(
    min_value=dt.datetime(2021, 9, 1), max_value=dt.datetime(2023, 2, 1), timezones=st.just(UTC)
).map(lambda m: m.replace(minute=m.minute // 15 * 15, second=0, microsecond=0))


@settings(max_examples=150, deadline=None)
@given(
    now=moments,
    people=subscribers(),
    horizon_hours=st.sampled_from([1, 36, 24 * 10, 24 * 90]),
    grace_hours=st.sampled_from([0, 12, 48]),
    changed=st.integers(0, 5),
)
def test_the_shortcut_plans_exactly_what_the_plain_walk_plans(
    now: dt.datetime, people: list[Preferences], horizon_hours: int, grace_hours: int, changed: int
) -> None:
    deadlines = _deadlines(now)
    horizon, grace = dt.timedelta(hours=horizon_hours), dt.timedelta(hours=grace_hours)
    changes = [
        Change(d.id, 1, now - dt.timedelta(days=n), {"due": "2021-01-01"})
        for n, d in enumerate(deadlines[::40][:changed])
    ]
    if people:  # one reader has marked a deadline done
        first = people[0]
        people[0] = Preferences(
            **{**first.__dict__, "acknowledged": frozenset({deadlines[0].id, deadlines[7].id})}
        )
    expected = _reference(deadlines, people, now, changes, horizon, grace)
    assert plan(deadlines, people, now, changes=changes, horizon=horizon, grace=grace) == expected


def test_the_shortcut_misses_nothing_at_the_edges_of_the_window() -> None:
    """Hour by hour over eight days, with a one-hour window, readers at the Earth's
    extreme offsets get exactly the plain walk's alerts: a reminder that falls in the
    window only because of the reader's offset is not cut off by the shortcut."""
    start = dt.datetime(2022, 3, 8, tzinfo=UTC)
    picked = {"r-cd-2022-firearms", "m-at-c1-self-assessment", "m-at-c1-focal-points"}
    readers = [
        Preferences(n, Selection(), zone, (0, 1, 2, 7), hour)
        for n, (zone, hour) in enumerate((zone, hour) for zone in ZONES for hour in (0, 9, 23))
    ]
    seen = 0
    for step in range(8 * 24):
        now = start + dt.timedelta(hours=step)
        deadlines = tuple(d for d in _deadlines(now) if d.id in picked)
        window = dt.timedelta(hours=1)
        got = plan(deadlines, readers, now, horizon=window, grace=dt.timedelta(0))
        assert got == _reference(deadlines, readers, now, [], window, dt.timedelta(0)), now
        seen += len(got)
    assert seen > 30  # the window did catch alerts, reminders and notices alike


def test_the_shortcut_keeps_a_reminder_at_either_edge_of_the_world() -> None:
    """A reader at UTC+14 gets the day-before reminder of a midnight-Vienna deadline
    about 27 hours before it closes; a reader at UTC-11 about 4 hours before it."""
    now = dt.datetime(2022, 3, 1, tzinfo=UTC)
    deadlines = _deadlines(now)
    due = next(d for d in deadlines if d.id == "r-cd-2022-firearms")
    readers = [
        Preferences(1, Selection(kinds={"registration"}), "Pacific/Kiritimati", (1,)),
        Preferences(2, Selection(kinds={"registration"}), "Pacific/Pago_Pago", (0,)),
    ]
    for reader in readers:
        moment = due.sort_key - dt.timedelta(hours=30)
        found = [
            p
            for p in plan(deadlines, [reader], moment, horizon=dt.timedelta(hours=30))
            if p.deadline_id == due.id and p.kind == "reminder"
        ]
        assert found == [
            p
            for p in _reference(
                deadlines, [reader], moment, [], dt.timedelta(hours=30), reminders.GRACE
            )
            if p.deadline_id == due.id and p.kind == "reminder"
        ]
        assert found, reader.timezone
