"""VTIMEZONE components that calendar clients read the same way.

Clients disagree on long lists of transition dates (RDATE): some apply the standard
offset all summer. What Google, Outlook and Apple publish, and every client reads, is
the zone's rule as two yearly RRULEs. The IANA database carries the zone's current rule
as a POSIX TZ string at the end of each TZif file (e.g. `CET-1CEST,M3.5.0,M10.5.0/3`);
this module turns that string into such a VTIMEZONE. A rule RRULEs cannot express
(transition times past midnight, Julian-day rules) falls back to icalendar's list form,
and so does a feed with an event the current rule would misplace: one from before the
zone's rule last changed (Sao Paulo kept summer time until 2019).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

FIRST_YEAR = 1970
_OFFSET = r"[+-]?\d{1,3}(?::\d{2}){0,2}"
_NAME = r"<[^>]+>|[A-Za-z]{3,}"
_RULE = r"M\d{1,2}\.\d\.\d"
_POSIX = re.compile(
    rf"^(?P<std>{_NAME})(?P<std_offset>{_OFFSET})"
    rf"(?:(?P<dst>{_NAME})(?P<dst_offset>{_OFFSET})?"
    rf"(?:,(?P<start>{_RULE})(?:/(?P<start_time>{_OFFSET}))?"
    rf",(?P<end>{_RULE})(?:/(?P<end_time>{_OFFSET}))?)?)?$"
)
_WEEKDAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")


class UnsupportedRule(ValueError):
    """The zone's rule has a form an RRULE cannot carry."""


@dataclass(frozen=True)
class Transition:
    """A yearly change: month, n-th (5 = last) weekday (0 = Sunday), local wall time."""

    month: int
    week: int
    weekday: int
    time: dt.timedelta

    def first_date(self, year: int) -> dt.date:
        if self.week == 5:
            last = dt.date(year + (self.month == 12), self.month % 12 + 1, 1) - dt.timedelta(days=1)
            return last - dt.timedelta(days=(last.weekday() + 1 - self.weekday) % 7)
        first = dt.date(year, self.month, 1)
        shift = (self.weekday - (first.weekday() + 1)) % 7
        return first + dt.timedelta(days=shift + 7 * (self.week - 1))

    def rrule(self) -> dict[str, object]:
        nth = -1 if self.week == 5 else self.week
        return {"FREQ": "YEARLY", "BYMONTH": self.month, "BYDAY": f"{nth}{_WEEKDAYS[self.weekday]}"}


def _duration(text: str) -> dt.timedelta:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * dt.timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])


def _transition(rule: str, time: str | None) -> Transition:
    month, week, weekday = (int(p) for p in rule[1:].split("."))
    at = _duration(time) if time else dt.timedelta(hours=2)
    if not dt.timedelta(0) <= at < dt.timedelta(days=1):
        raise UnsupportedRule(f"transition at {time} is outside the day")
    return Transition(month, week, weekday, at)


def posix_rule(zone: str) -> str:
    """The POSIX TZ string in the footer of `zone`'s TZif file, where zoneinfo finds it."""
    parts = zone.split("/")
    for directory in zoneinfo.TZPATH:
        path = Path(directory, *parts)
        if path.is_file():
            data = path.read_bytes()
            break
    else:
        data = resources.files("tzdata.zoneinfo").joinpath(*parts).read_bytes()
    if not data.startswith(b"TZif") or data[4:5] < b"2":
        raise UnsupportedRule(f"{zone}: no footer in a version-1 TZif file")
    return data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("ascii")


def _component(
    kind: type[TimezoneStandard] | type[TimezoneDaylight],
    name: str,
    offset_from: dt.timedelta,
    offset_to: dt.timedelta,
    transition: Transition | None,
) -> TimezoneStandard | TimezoneDaylight:
    component = kind()
    component.add("tzname", name.strip("<>"))
    component.add("tzoffsetfrom", offset_from)
    component.add("tzoffsetto", offset_to)
    if transition is None:
        component.add("dtstart", dt.datetime(FIRST_YEAR, 1, 1))  # noqa: DTZ001 - local by RFC 5545
    else:
        day = transition.first_date(FIRST_YEAR)
        onset = dt.datetime.combine(day, dt.time(0)) + transition.time
        component.add("dtstart", onset)
        component.add("rrule", transition.rrule())
    return component


@dataclass(frozen=True)
class Rule:
    """A zone's rule as its POSIX TZ string gives it: standard time, and summer time
    between two yearly transitions (local wall times), if it has any."""

    std_name: str
    standard: dt.timedelta
    dst_name: str | None = None
    daylight: dt.timedelta | None = None
    start: Transition | None = None
    end: Transition | None = None

    def offset(self, local: dt.datetime) -> dt.timedelta:
        """The UTC offset this rule gives the wall time `local` (naive; in the hour that
        comes twice when summer time ends, `fold=1` is its second time, as in PEP 495)."""
        if self.daylight is None or self.start is None or self.end is None:
            return self.standard
        begins = dt.datetime.combine(self.start.first_date(local.year), dt.time()) + self.start.time
        ends = dt.datetime.combine(self.end.first_date(local.year), dt.time()) + self.end.time
        if local.fold and ends - (self.daylight - self.standard) <= local < ends:
            return self.standard
        # In the north summer lies inside the year; in the south it spans the new year.
        inside = begins <= local < ends if begins < ends else local >= begins or local < ends
        return self.daylight if inside else self.standard


def parse_posix(zone: str, rule: str) -> Rule:
    """The `Rule` in a POSIX TZ string; `UnsupportedRule` for what RRULEs cannot carry."""
    match = _POSIX.match(rule)
    if match is None:
        raise UnsupportedRule(f"{zone}: cannot read rule {rule!r}")
    standard = -_duration(match["std_offset"])  # POSIX counts west of Greenwich as positive
    if match["dst"] is None:
        return Rule(match["std"], standard)
    if match["start"] is None:
        raise UnsupportedRule(f"{zone}: daylight saving time without a rule")
    daylight = (
        -_duration(match["dst_offset"]) if match["dst_offset"] else standard + dt.timedelta(hours=1)
    )
    start = _transition(match["start"], match["start_time"])
    end = _transition(match["end"], match["end_time"])
    return Rule(match["std"], standard, match["dst"], daylight, start, end)


def from_posix(zone: str, rule: str) -> Timezone:
    """A VTIMEZONE for `zone` whose components follow the POSIX TZ `rule`."""
    parsed = parse_posix(zone, rule)
    timezone = Timezone()
    timezone.add("tzid", zone)
    standard = parsed.standard
    if parsed.dst_name is None or parsed.daylight is None:
        timezone.add_component(
            _component(TimezoneStandard, parsed.std_name, standard, standard, None)
        )
        return timezone
    daylight = parsed.daylight
    timezone.add_component(
        _component(TimezoneDaylight, parsed.dst_name, standard, daylight, parsed.start)
    )
    timezone.add_component(
        _component(TimezoneStandard, parsed.std_name, daylight, standard, parsed.end)
    )
    return timezone


@cache
def _current_rule(zone: str) -> tuple[Rule, Timezone] | None:
    try:
        rule = posix_rule(zone)
        return parse_posix(zone, rule), from_posix(zone, rule)
    except (UnsupportedRule, OSError):
        return None


@cache
def _listed(zone: str, first_year: int = FIRST_YEAR, last_year: int = 2037) -> Timezone:
    """Every transition of `zone` in those years, each its own observance.

    icalendar lists them as RDATEs, which vobject and ical.js skip (they keep the first
    offset of each list for good); one DTSTART per observance they all read.
    """
    first, last = dt.date(first_year, 1, 1), dt.date(last_year + 1, 1, 1)
    listed = Timezone.from_tzid(zone, first_date=first, last_date=last)
    observances: list[TimezoneStandard | TimezoneDaylight] = []
    for component in listed.subcomponents:
        kind = TimezoneDaylight if isinstance(component, TimezoneDaylight) else TimezoneStandard
        rdates = component.get("RDATE", [])
        onsets = [
            component.decoded("DTSTART"),
            *(
                one.dt
                for dates in (rdates if isinstance(rdates, list) else [rdates])
                for one in dates.dts
            ),
        ]
        for onset in onsets:
            observance = kind()
            observance.add("tzname", str(component["TZNAME"]))
            observance.add("tzoffsetfrom", component.decoded("TZOFFSETFROM"))
            observance.add("tzoffsetto", component.decoded("TZOFFSETTO"))
            observance.add("dtstart", onset)
            observances.append(observance)
    timezone = Timezone()
    timezone.add("tzid", zone)
    for observance in sorted(observances, key=lambda o: o.decoded("DTSTART")):
        timezone.add_component(observance)
    return timezone


def vtimezone(zone: str, moments: Iterable[dt.datetime] = ()) -> Timezone:
    """The VTIMEZONE to publish for an IANA zone, for events at the wall times `moments`.

    The zone's current rule as two yearly RRULEs where it gives each moment the offset
    the zone really had; otherwise the real transitions over the moments' years.
    """
    local = sorted({moment.replace(tzinfo=None) for moment in moments})
    current = _current_rule(zone)
    if current is not None:
        rule, timezone = current
        actual = zoneinfo.ZoneInfo(zone)
        if all(rule.offset(m) == m.replace(tzinfo=actual).utcoffset() for m in local):
            return timezone
    if not local:
        return _listed(zone)
    return _listed(zone, local[0].year - 1, local[-1].year + 1)
