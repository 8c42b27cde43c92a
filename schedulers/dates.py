"""Deadline arithmetic: offsets in weeks and calendar months, and local times as instants.

Pure functions. Local times are always (date, time, IANA zone), turned into UTC instants
with the zone database at the moment of use, so a deadline in Vienna summer time and one
in winter time are each right. "Midnight" on a date means the end of that date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from config.dataset import wall_time_exists

UTC = dt.UTC
# What reads the time, for the service's loops and jobs; the pure code takes `now` instead.
Clock = Callable[[], dt.datetime]
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_text(day: dt.date) -> str:
    """A date in plain English, the same on every machine: "6 May 2022"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def month_text(day: dt.date) -> str:
    """A date known only to the month: "October 2026"."""
    return f"{MONTHS[day.month - 1]} {day.year}"


class NonexistentLocalTime(ValueError):
    """A local time that the clocks skip (the spring-forward gap of a DST change)."""


def add_offset(start: dt.date, *, days: int = 0, weeks: int = 0, months: int = 0) -> dt.date:
    """`start` plus calendar months, then weeks and days.

    A month added to the 31st lands on the last day of a shorter month (31 Aug + 6 months
    is 28 or 29 Feb), which is how "within six months" is read.
    """
    return start + relativedelta(months=months, weeks=weeks, days=days)


def end_of_day(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant a date ends in `zone` (24:00 local), as an aware datetime in `zone`.

    Usually 00:00 of the next day. Where the clocks skip midnight itself (Santiago in
    September; Apia skipped a whole day in 2011), 24:00 on the old offset is the moment
    the clocks jump, which is exactly when the day ends.
    """
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return midnight.astimezone(UTC).astimezone(zone)


def local_instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The aware local datetime for a wall-clock time; refuses times a DST gap skips.

    In the autumn fold (a wall time that happens twice) the first occurrence is meant.
    """
    if not wall_time_exists(day, time, zone):
        raise NonexistentLocalTime(
            f"{day.isoformat()} {time.strftime('%H:%M')} does not exist in {zone.key} "
            "(the clocks skip it); give a time outside the daylight-saving gap"
        )
    return dt.datetime.combine(day, time, tzinfo=zone)


def to_utc(moment: dt.datetime) -> dt.datetime:
    """The same instant in UTC; naive datetimes are refused, never guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime (with its zone)")
    return moment.astimezone(UTC)
