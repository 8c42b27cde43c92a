"""Deadline arithmetic: calendar months, weeks, end of day, and DST, exactly."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedulers.dates import NonexistentLocalTime, add_offset, end_of_day, local_instant, to_utc

VIENNA = ZoneInfo("Europe/Vienna")
ZONES = [
    ZoneInfo(z)
    for z in (
        "Europe/Vienna",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Kolkata",
        "America/Santiago",
        "Pacific/Apia",
        "UTC",
    )
]
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31))


def test_the_domain_examples_are_exact():
    assert end_of_day(dt.date(2022, 5, 8), VIENNA).astimezone(dt.UTC) == dt.datetime(
        2022, 5, 8, 22, 0, tzinfo=dt.UTC
    )
    assert end_of_day(dt.date(2022, 3, 17), VIENNA).astimezone(dt.UTC) == dt.datetime(
        2022, 3, 17, 23, 0, tzinfo=dt.UTC
    )
    start = dt.date(2021, 11, 1)
    assert add_offset(start, weeks=2) == dt.date(2021, 11, 15)
    assert add_offset(start, weeks=4) == dt.date(2021, 11, 29)
    assert add_offset(start, weeks=6) == dt.date(2021, 12, 13)
    assert add_offset(start, months=6) == dt.date(2022, 5, 1)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2021, 8, 31), 6, dt.date(2022, 2, 28)),
        (dt.date(2023, 8, 31), 6, dt.date(2024, 2, 29)),
        (dt.date(2022, 1, 31), 1, dt.date(2022, 2, 28)),
        (dt.date(2022, 3, 31), 6, dt.date(2022, 9, 30)),
        (dt.date(2022, 12, 15), 1, dt.date(2023, 1, 15)),
    ],
)
def test_calendar_months_clamp_to_the_last_day(start, months, expected):
    assert add_offset(start, months=months) == expected


@given(dates, st.integers(min_value=0, max_value=60))
def test_adding_months_keeps_the_day_or_lands_on_the_month_end(start, months):
    result = add_offset(start, months=months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    last_day = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last_day)


@given(dates, st.integers(min_value=0, max_value=100))
def test_weeks_are_exactly_seven_days(start, weeks):
    assert (add_offset(start, weeks=weeks) - start).days == 7 * weeks


@given(dates, st.sampled_from(ZONES))
def test_end_of_day_is_the_first_instant_that_is_no_longer_that_day(day, zone):
    end = end_of_day(day, zone)
    # in UTC: arithmetic on an aware local datetime moves its wall clock, and the wall
    # clock just before a skipped midnight (Santiago in September) does not exist
    before = end.astimezone(dt.UTC) - dt.timedelta(microseconds=1)
    assert before.astimezone(zone).date() == day
    assert end.astimezone(zone).date() > day


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # Chile springs forward at midnight: 10 Sep 2022 ends when the clocks jump, at 04:00Z
        ("America/Santiago", dt.date(2022, 9, 10), dt.datetime(2022, 9, 11, 4, 0, tzinfo=dt.UTC)),
        # Samoa skipped 30 Dec 2011: the 29th ended at 10:00Z, and the next day was the 31st
        ("Pacific/Apia", dt.date(2011, 12, 29), dt.datetime(2011, 12, 30, 10, 0, tzinfo=dt.UTC)),
        ("Europe/Vienna", dt.date(2022, 10, 30), dt.datetime(2022, 10, 30, 23, 0, tzinfo=dt.UTC)),
    ],
)
def test_end_of_day_where_the_clocks_skip_midnight(zone, day, expected):
    assert to_utc(end_of_day(day, ZoneInfo(zone))) == expected


# Since 1996 the EU changes clocks on the last Sundays of March and October.
@given(st.integers(min_value=1996, max_value=2060))
def test_vienna_days_around_dst_changes_last_23_and_25_hours(year):
    march = max(
        d
        for d in (dt.date(year, 3, day) for day in range(25, 32))
        if d.weekday() == calendar.SUNDAY
    )
    october = max(
        d
        for d in (dt.date(year, 10, day) for day in range(25, 32))
        if d.weekday() == calendar.SUNDAY
    )
    for day, hours in ((march, 23), (october, 25), (march - dt.timedelta(days=1), 24)):
        start = end_of_day(day - dt.timedelta(days=1), VIENNA)
        assert (to_utc(end_of_day(day, VIENNA)) - to_utc(start)) == dt.timedelta(hours=hours)
    # the end of the spring-forward Sunday is 22:00 UTC (summer time), of the Saturday 23:00 UTC
    assert to_utc(end_of_day(march, VIENNA)).hour == 22
    assert to_utc(end_of_day(march - dt.timedelta(days=1), VIENNA)).hour == 23


def test_wall_times_in_the_spring_gap_are_refused_and_the_autumn_fold_takes_the_first():
    with pytest.raises(NonexistentLocalTime, match="does not exist in Europe/Vienna"):
        local_instant(dt.date(2022, 3, 27), dt.time(2, 30), VIENNA)
    first = local_instant(dt.date(2022, 10, 30), dt.time(2, 30), VIENNA)
    assert to_utc(first) == dt.datetime(2022, 10, 30, 0, 30, tzinfo=dt.UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        to_utc(dt.datetime(2022, 1, 1))


@pytest.mark.parametrize("day", [dt.date(2022, 9, 10), dt.date(2028, 9, 2)])
def test_the_instant_before_a_skipped_midnight_is_still_that_day(day):
    zone = ZoneInfo("America/Santiago")
    end = end_of_day(day, zone)
    assert (end.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).astimezone(zone).date() == day
