"""The mechanism's rhythm, projected: what is likely next where nothing is announced yet.

Pure functions over the dataset and a `now` passed in. Each series in the dataset's
`rhythm` (the COP; each Working Group, its dialogue and its preparation day; the
application call before a dialogue) yields, for each year it runs in, one occurrence:
either the event the dataset (or an approved proposal) has for it, or a `Projection`
with an expected window, one best guess inside it and its basis in words. A projection
is always `projected`; it carries the id the announced occurrence will have, so one
identity runs from the guess to the announcement (calendar UID, API id, alert key).

How an event is the occurrence of a series for a year (the year of its start): it names
the series in `series`, or it is listed in the series' `occurrences`, or its id is the
series' `event_id` for that year (`cd-2027-firearms`, `cop-14`), or it is of the series'
kind with exactly the series' themes. An application call is announced when its
dialogue's event of that year has a `registration`.

Projections never claim a day before `now` (in Vienna): a window that has begun is cut to
start today, with the best guess moved to the first possible day from today; a window
with no possible day left is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from config.dataset import VIENNA, Dataset, Event, Series, SeriesKind, Window
from schedulers.dates import MONTHS, day_text, month_text
from schedulers.timeline import MECHANISM_ZONE, last_of_month

HORIZON_MONTHS = 24  # at least 18 months ahead, as promised to readers; 24 reaches the next COP


@dataclass(frozen=True)
class Projection:
    """One occurrence of a series that nobody has announced yet, as the rhythm predicts it.

    `id` is the deadline id the announced occurrence will have (`e-cd-2027-firearms` for
    the dialogue, `r-cd-2027-firearms` for its application deadline) and `event_id` the
    event's id. `earliest`..`latest` is the expected window: every day the occurrence may
    occupy (for a call: the days it may close on, at midnight Vienna time). `best`..
    `best_end` is one guess inside it. `held` lists the past dates it rests on, `basis`
    says it in words. For a call, `watch_from` is when to start looking for it.
    """

    id: str
    event_id: str
    series: str
    kind: SeriesKind
    title: str
    themes: tuple[str, ...]
    year: int
    earliest: dt.date
    latest: dt.date
    best: dt.date
    best_end: dt.date
    basis: str
    source: str
    held: tuple[dt.date, ...] = ()
    anchor: str | None = None
    watch_from: dt.date | None = None
    zone: str = VIENNA
    confidence: Literal["projected"] = "projected"

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        return self.earliest, self.latest

    def describe(self) -> str:
        """In words, in English: "expected 29 March to 15 May 2027, not yet announced"."""
        what = "closing" if self.kind == "application-call" else "expected"
        return (
            f"{what} {span(self.earliest, self.latest)}, not yet announced "
            f"(best guess {span(self.best, self.best_end)})"
        )


@dataclass(frozen=True)
class _Placed:
    """An occurrence placed in its year before `now` is applied: its possible first days."""

    first: dt.date  # the earliest possible first day
    last: dt.date  # the latest possible first day
    best: dt.date  # the best guess for the first day
    announced: Event | None = None


def span(first: dt.date, last: dt.date) -> str:
    """ "6 May 2022", "4-5 May 2022", "29 March to 15 May 2027", "30 December 2026 to ..."."""
    if first == last:
        return day_text(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}-{last.day} {MONTHS[first.month - 1]} {first.year}"
    if first.year == last.year:
        return f"{first.day} {MONTHS[first.month - 1]} to {day_text(last)}"
    return f"{day_text(first)} to {day_text(last)}"


def _event_text(event: Event) -> str:
    if event.precision == "month":
        return month_text(event.start)
    return day_text(event.start)


def _in_year(month_day: str, year: int) -> dt.date:
    month, day = int(month_day[:2]), int(month_day[3:])
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return dt.date(year, month, day)


def _allowed(series: Series, day: dt.date) -> bool:
    if series.weekdays == "monday":
        return day.weekday() == 0
    if series.weekdays == "working":
        return day.weekday() < 5
    return True


def _working_days_before(day: dt.date, count: int) -> dt.date:
    while count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _last_day(series: Series, first: dt.date) -> dt.date:
    """The last day of an occurrence starting on `first`: `days` working days, or days."""
    if series.weekdays == "any":
        return first + dt.timedelta(days=series.days - 1)
    day, left = first, series.days - 1
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def _nearest_allowed(series: Series, target: dt.date, first: dt.date, last: dt.date) -> dt.date:
    """The allowed day in [first, last] nearest `target` (the earlier on a tie)."""
    candidates = [
        first + dt.timedelta(days=n)
        for n in range((last - first).days + 1)
        if _allowed(series, first + dt.timedelta(days=n))
    ]
    return min(candidates, key=lambda d: (abs((d - target).days), d))


class Rhythm:
    """The dataset's series with the events that are their occurrences, indexed once."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.series: Mapping[str, Series] = data.rhythm
        self._cop = next((s for s in self.series.values() if s.kind == "cop"), None)
        self._by_series_year: dict[tuple[str, int], Event] = {}
        for series in self.series.values():
            for event in _occurrences_of(series, data.events.values()):
                self._by_series_year.setdefault((series.id, event.start.year), event)

    def occurrences(self, series: Series) -> list[tuple[int, Event]]:
        """(year, event) for each announced occurrence of `series` (none for a call)."""
        found = [
            (year, event)
            for (series_id, year), event in self._by_series_year.items()
            if series_id == series.id
        ]
        return sorted(found, key=lambda pair: pair[0])

    def cop_year(self, year: int) -> bool:
        return self._cop is not None and self._cop.runs_in(year)

    def announced(self, series: Series, year: int) -> Event | None:
        """The event that is `series`' occurrence in `year`, if one is known."""
        if series.kind == "application-call":
            assert series.before is not None
            dialogue = self.announced(self.series[series.before.series], year)
            return dialogue if dialogue is not None and dialogue.registration else None
        return self._by_series_year.get((series.id, year))

    def held(self, series: Series) -> list[Event]:
        """The past occurrences a series rests on, in date order.

        For an application call: the dialogues whose registration it was.
        """
        if series.kind == "application-call":
            assert series.before is not None
            listed = set(series.occurrences)
            dialogues = self.held(self.series[series.before.series])
            extra = [self.data.events[i] for i in listed if i in self.data.events]
            found = {e.id: e for e in [*dialogues, *extra] if e.registration is not None}
        else:
            found = {e.id: e for e in _occurrences_of(series, self.data.events.values())}
        return sorted(found.values(), key=lambda e: e.start)

    def window_for(self, series: Series, year: int) -> Window | None:
        kind = "cop" if self.cop_year(year) else "other"
        for window in series.windows:
            if window.years in ("every", kind):
                return window
        return None

    def place(self, series: Series, year: int) -> _Placed | None:
        """Where `series`' occurrence of `year` falls, announced or not, ignoring `now`."""
        if not series.runs_in(year):
            return None
        event = self.announced(series, year)
        if event is not None:
            last = (
                last_of_month(event.start)
                if event.precision == "month"
                else event.end or event.start
            )
            first = event.start.replace(day=1) if event.precision == "month" else event.start
            return _Placed(first, last, first, event)
        if series.before is not None:
            return self._place_before(series, year)
        window = self.window_for(series, year)
        if window is None:
            return None
        first, last = _in_year(window.start, year), _in_year(window.end, year)
        if not any(_allowed(series, first + dt.timedelta(days=n)) for n in range(8)):
            return None  # a window of a few days with none of the series' weekdays
        target = self._typical(series, year, window) or first + (last - first) // 2
        best = _nearest_allowed(series, target, first, last)
        first = _nearest_allowed(series, first, first, last)
        last = _nearest_allowed(series, last, first, last)
        return _Placed(first, last, best)

    def _typical(self, series: Series, year: int, window: Window) -> dt.date | None:
        """The median day of the past occurrences of the same kind of year, moved to `year`."""
        same = [
            e
            for e in self.held(series)
            if e.precision == "day"
            and self.window_for(series, e.start.year) == window
            and e.start.year != year
        ]
        if not same:
            return None
        days = sorted(_in_year(e.start.strftime("%m-%d"), year).toordinal() for e in same)
        middle = len(days) // 2
        median = days[middle] if len(days) % 2 else (days[middle - 1] + days[middle]) // 2
        return dt.date.fromordinal(median)

    def _place_before(self, series: Series, year: int) -> _Placed | None:
        placement = series.before
        assert placement is not None
        anchor_series = self.series[placement.series]
        anchor = self.place(anchor_series, year)
        if anchor is None:
            return None
        if placement.working_days is not None:
            # ends `working_days` working days before the anchor's first day
            def first_day(anchor_day: dt.date) -> dt.date:
                end = _working_days_before(anchor_day, placement.working_days or 1)
                return _working_days_before(end, series.days - 1)

            return _Placed(first_day(anchor.first), first_day(anchor.last), first_day(anchor.best))
        assert placement.weeks is not None
        fewest, most = (dt.timedelta(weeks=w) for w in placement.weeks)
        first, last = anchor.first - most, anchor.last - fewest
        gap = self._typical_gap(series)
        best = anchor.best - gap if gap is not None else anchor.best - (fewest + most) / 2
        best = min(max(best, anchor.best - most, first), anchor.best - fewest, last)
        return _Placed(first, last, best)

    def _typical_gap(self, series: Series) -> dt.timedelta | None:
        """The median time from an application deadline to its dialogue, in the past."""
        gaps = sorted(
            (e.start - e.registration.deadline).days
            for e in self.held(series)
            if e.registration is not None
        )
        if not gaps:
            return None
        middle = len(gaps) // 2
        days = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) // 2
        return dt.timedelta(days=days)

    def basis(self, series: Series, year: int) -> tuple[str, tuple[dt.date, ...], str | None]:
        """The words a projection rests on, the dates held, and the occurrence it is placed from."""
        held = self.held(series)
        if series.kind == "application-call":
            assert series.before is not None
            calls = [e for e in held if e.registration is not None]
            words = ", ".join(
                f"{day_text(e.registration.deadline)} for {day_text(e.start)}"
                for e in calls
                if e.registration is not None
            )
            dates = tuple(e.registration.deadline for e in calls if e.registration is not None)
            anchor_id, anchor_words = self._anchor_words(series, year)
            text = f"applications closed {words}" if words else "no past deadline known"
            return f"{text}; {anchor_words}; {series.pattern}", dates, anchor_id
        if series.before is not None:
            anchor_id, anchor_words = self._anchor_words(series, year)
            past = ", ".join(_event_text(e) for e in held)
            text = f"held {past}; " if past else ""
            dates = tuple(e.start for e in held if e.precision == "day")
            return f"{text}{anchor_words}; {series.pattern}", dates, anchor_id
        window = self.window_for(series, year)
        same = [e for e in held if self.window_for(series, e.start.year) == window]
        which = ""
        if any(w.years != "every" for w in series.windows):
            which = " in years with a COP session" if self.cop_year(year) else " in years without"
            which += "" if self.cop_year(year) else " a COP session"
        past = ", ".join(_event_text(e) for e in same)
        text = f"held{which} {past}" if past else f"no past occurrence{which} known"
        dates = tuple(e.start for e in same if e.precision == "day")
        return f"{text}; {series.pattern}", dates, None

    def _anchor_words(self, series: Series, year: int) -> tuple[str | None, str]:
        assert series.before is not None
        anchor_series = self.series[series.before.series]
        anchor = self.place(anchor_series, year)
        assert anchor is not None
        if anchor.announced is not None:
            event = anchor.announced
            return event.id, f"{event.title} announced for {_event_text(event)}"
        anchor_id = anchor_series.event_id_for(year)
        expected = span(anchor.first, _last_day(anchor_series, anchor.last))
        return anchor_id, f"{anchor_series.title} expected {expected}"


def _occurrences_of(series: Series, events: Iterable[Event]) -> Iterable[Event]:
    if series.kind == "application-call":
        return []  # a call is its dialogue's registration
    listed = set(series.occurrences)
    return [
        e
        for e in events
        if series.id in e.series
        or e.id in listed
        or e.id == series.event_id_for(e.start.year)
        or (e.kind == series.kind and set(e.themes) == set(series.themes) and not e.series)
    ]


def project(data: Dataset, now: dt.datetime, *, months: int = HORIZON_MONTHS) -> list[Projection]:
    """Every series' next occurrences not yet announced, up to `months` ahead of `now`.

    Depends only on (`data`, `now`). Sorted by best guess, then id. `now` must be aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    today = now.astimezone(MECHANISM_ZONE).date()
    horizon = today + dt.timedelta(days=months * 31)
    rhythm = Rhythm(data)
    found: list[Projection] = []
    for series in rhythm.series.values():
        for year in range(today.year - 1, horizon.year + 1):
            projection = _project_one(rhythm, series, year, today)
            if projection is not None and projection.earliest <= horizon:
                found.append(projection)
    found.sort(key=lambda p: (p.best, p.id))
    return found


def _project_one(rhythm: Rhythm, series: Series, year: int, today: dt.date) -> Projection | None:
    if rhythm.announced(series, year) is not None:
        return None
    placed = rhythm.place(series, year)
    if placed is None:
        return None
    first, last, best = placed.first, placed.last, placed.best
    if first < today:  # the window has begun: keep what is left of it, from today
        later = [
            today + dt.timedelta(days=n)
            for n in range((last - today).days + 1)
            if _allowed(series, today + dt.timedelta(days=n))
        ]
        if not later:
            return None
        first, best = later[0], max(best, later[0])
        if not _allowed(series, best):
            best = next(d for d in later if d >= best)
    basis, held, anchor = rhythm.basis(series, year)
    if series.kind == "application-call":
        assert anchor is not None
        event_id, deadline_id = anchor, f"r-{anchor}"
        watch = dt.timedelta(weeks=series.watch_weeks or 0)
        watch_from: dt.date | None = max(first - watch, today)
    else:
        event_id = series.event_id_for(year) or series.id
        deadline_id, watch_from = f"e-{event_id}", None
    return Projection(
        id=deadline_id,
        event_id=event_id,
        series=series.id,
        kind=series.kind,
        title=series.title,
        themes=tuple(series.themes),
        year=year,
        earliest=first,
        latest=_last_day(series, last),
        best=best,
        best_end=_last_day(series, best),
        basis=basis,
        source=series.source,
        held=held,
        anchor=anchor if series.before is not None else None,
        watch_from=watch_from,
    )
