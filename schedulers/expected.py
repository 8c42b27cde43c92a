"""The rhythm's projections as deadlines: shown, filtered and fed like announced ones.

Each `Projection` (schedulers/rhythm.py) becomes a whole-day `Deadline` on its best guess,
with status `expected`, confidence `projected`, the window it may fall in (`earliest`..
`latest`) and its basis. Its id is the one the announced occurrence will have (a
dialogue's `e-cd-2027-firearms`, its application deadline's `r-cd-2027-firearms`), so the
calendar UID, the API id and the alert keys stay the same from the guess to the
announcement, when the dataset's event takes its place. Presenters mark it as expected;
the reminder planner sends no countdown to a guess.

An announced occurrence takes its projection's id even when its own event id is another
one (`identities`): an operator's file or an approved proposal may name the event as it
likes, as long as it names the series (or is found as the series' occurrence of that
year). The occurrences a series lists as held keep their own ids. `timeline` is the
whole timeline: the announced deadlines under those ids, then the expected ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from config.dataset import Dataset
from schedulers.rhythm import Projection, Rhythm, project
from schedulers.timeline import MECHANISM_ZONE, Deadline, Kind, compute_deadlines

UTC = dt.UTC


def _kind(projection: Projection) -> Kind:
    return "registration" if projection.kind == "application-call" else "event"


def as_deadline(projection: Projection) -> Deadline:
    """One projection as the deadline its announced occurrence will replace."""
    kind = _kind(projection)
    start = dt.datetime.combine(projection.best, dt.time(0), tzinfo=MECHANISM_ZONE)
    return Deadline(
        id=projection.id,
        kind=kind,
        title=projection.title,
        due=projection.best,
        local=projection.best,
        zone=projection.zone,
        status="expected",
        confidence="projected",
        source=projection.source,
        event_id=projection.event_id,
        themes=tuple(projection.themes),
        end=projection.best_end if projection.best_end != projection.best else None,
        basis=projection.basis,
        sort_key=start.astimezone(UTC),
        earliest=projection.earliest,
        latest=projection.latest,
        watch_from=projection.watch_from,
    )


def expected_deadlines(data: Dataset, now: dt.datetime) -> list[Deadline]:
    """Every projected occurrence from `now` on, as deadlines, soonest first."""
    return sorted((as_deadline(p) for p in project(data, now)), key=lambda d: d.sort_key)


def identities(data: Dataset) -> dict[str, str]:
    """Event id -> the id its series gives that year's occurrence, where they differ.

    Only for occurrences announced after the series was declared (not among the
    occurrences it lists as held), and never onto an id another event already has.
    """
    rhythm = Rhythm(data)
    found: dict[str, str] = {}
    for series in rhythm.series.values():
        held = set(series.occurrences)
        for year, event in rhythm.occurrences(series):
            canonical = series.event_id_for(year)
            if (
                canonical is not None
                and canonical != event.id
                and event.id not in held
                and canonical not in data.events
            ):
                found.setdefault(event.id, canonical)
    return found


def announced_ids(data: Dataset) -> frozenset[str]:
    """The deadline ids of occurrences announced after their series was declared.

    These are what projections turn into: the planner tells their subscribers
    "announced" once, when the date first stops being a guess.
    """
    rhythm = Rhythm(data)
    renamed = identities(data)
    ids: set[str] = set()
    for series in rhythm.series.values():
        held = set(series.occurrences)
        for _year, event in rhythm.occurrences(series):
            if event.id not in held:
                shown = renamed.get(event.id, event.id)
                ids.update({f"e-{shown}", f"r-{shown}"})
    return frozenset(ids)


def _renamed(deadline: Deadline, renamed: dict[str, str]) -> Deadline:
    canonical = renamed.get(deadline.event_id or "")
    if canonical is None:
        return deadline
    prefix = deadline.id.split("-", 1)[0]
    return replace(deadline, id=f"{prefix}-{canonical}")


def timeline(data: Dataset, now: dt.datetime) -> list[Deadline]:
    """Every deadline at `now`: the announced ones, then, where nothing is announced yet,
    the expected ones; each under the one id it keeps from projection to announcement."""
    renamed = identities(data)
    announced = [_renamed(d, renamed) for d in compute_deadlines(data, now)]
    return sorted([*announced, *expected_deadlines(data, now)], key=lambda d: d.sort_key)
