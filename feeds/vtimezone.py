"""VTIMEZONE components that calendar clients read the same way.

Clients disagree on long lists of transition dates (RDATE): some apply the standard
offset all summer. What Google, Outlook and Apple publish, and every client reads, is
the zone's rule as two yearly RRULEs. The IANA database carries the zone's current rule
as a POSIX TZ string at the end of each TZif file (e.g. `CET-1CEST,M3.5.0,M10.5.0/3`);
this module turns that string into such a VTIMEZONE. A rule RRULEs cannot express
(transition times past midnight, Julian-day rules) falls back to icalendar's list form.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
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


def from_posix(zone: str, rule: str) -> Timezone:
    """A VTIMEZONE for `zone` whose components follow the POSIX TZ `rule`."""
    match = _POSIX.match(rule)
    if match is None:
        raise UnsupportedRule(f"{zone}: cannot read rule {rule!r}")
    standard = -_duration(match["std_offset"])  # POSIX counts west of Greenwich as positive
    timezone = Timezone()
    timezone.add("tzid", zone)
    if match["dst"] is None:
        timezone.add_component(_component(TimezoneStandard, match["std"], standard, standard, None))
        return timezone
    if match["start"] is None:
        raise UnsupportedRule(f"{zone}: daylight saving time without a rule")
    daylight = (
        -_duration(match["dst_offset"]) if match["dst_offset"] else standard + dt.timedelta(hours=1)
    )
    start = _transition(match["start"], match["start_time"])
    end = _transition(match["end"], match["end_time"])
    timezone.add_component(_component(TimezoneDaylight, match["dst"], standard, daylight, start))
    timezone.add_component(_component(TimezoneStandard, match["std"], daylight, standard, end))
    return timezone


@cache
def vtimezone(zone: str) -> Timezone:
    """The VTIMEZONE to publish for an IANA zone."""
    try:
        return from_posix(zone, posix_rule(zone))
    except (UnsupportedRule, OSError):
        return Timezone.from_tzid(zone)
