"""The rhythm's projections as deadlines: shown, filtered and fed like announced ones.

Each `Projection` (schedulers/rhythm.py) becomes a whole-day `Deadline` on its best guess,
with status `expected`, confidence `projected`, the window it may fall in (`earliest`..
`latest`) and its basis. Its id is the one the announced occurrence will have (a
dialogue's `e-cd-2027-firearms`, its application deadline's `r-cd-2027-firearms`), so the
calendar UID, the API id and the alert keys stay the same from the guess to the
announcement, when the dataset's event takes its place. Presenters mark it as expected;
the reminder planner sends no countdown to a guess.
"""

from __future__ import annotations

import datetime as dt

from config.dataset import Dataset
from schedulers.rhythm import Projection, project
from schedulers.timeline import MECHANISM_ZONE, Deadline, Kind

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
    )


def expected_deadlines(data: Dataset, now: dt.datetime) -> list[Deadline]:
    """Every projected occurrence from `now` on, as deadlines, soonest first."""
    return sorted((as_deadline(p) for p in project(data, now)), key=lambda d: d.sort_key)
