"""VTIMEZONE from the zone's POSIX rule: read back by an independent parser, it agrees
with the IANA database at every instant since the zone's current rule began."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.vtimezone import Transition, from_posix, parse_posix, posix_rule, vtimezone

# zone -> the first year its present rule applies
ZONES = {
    "Europe/Vienna": 1996,
    "America/New_York": 2007,
    "Australia/Sydney": 2008,
    "Asia/Kolkata": 1970,
    "Europe/London": 1996,
    "America/Sao_Paulo": 2020,  # no DST since 2019
    "UTC": 1970,
}


def _dateutil_zone(zone: str) -> dt.tzinfo:
    text = vtimezone(zone).to_ical().decode()
    parsed = tz.tzical(io.StringIO(text)).get(zone)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_our_vtimezones_use_yearly_rules_not_date_lists(zone):
    text = vtimezone(zone).to_ical().decode()
    assert "RDATE" not in text
    assert text.count("RRULE") in {0, 2}


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(sorted(ZONES)),
    seconds=st.integers(min_value=0, max_value=int(30 * 365.25 * 86400)),
)
def test_offsets_agree_with_the_iana_database(zone, seconds):
    start = dt.datetime(max(ZONES[zone], 2008), 1, 1, tzinfo=dt.UTC)
    moment = start + dt.timedelta(seconds=seconds)
    expected = moment.astimezone(ZoneInfo(zone)).utcoffset()
    assert moment.astimezone(_dateutil_zone(zone)).utcoffset() == expected


@pytest.mark.parametrize(
    ("transition", "year", "day"),
    [
        (Transition(3, 5, 0, dt.timedelta(hours=2)), 2022, dt.date(2022, 3, 27)),  # last Sunday
        (Transition(10, 5, 0, dt.timedelta(hours=3)), 2022, dt.date(2022, 10, 30)),
        (Transition(3, 2, 0, dt.timedelta(hours=2)), 2022, dt.date(2022, 3, 13)),  # 2nd Sunday
        (Transition(11, 1, 0, dt.timedelta(hours=2)), 2022, dt.date(2022, 11, 6)),
        (Transition(12, 5, 6, dt.timedelta(hours=2)), 2022, dt.date(2022, 12, 31)),  # last Sat
    ],
)
def test_transition_dates(transition, year, day):
    assert transition.first_date(year) == day


def test_rules_an_rrule_cannot_carry_fall_back_to_transition_lists():
    rule = posix_rule("America/Santiago")
    assert "/24" in rule  # Chile changes at 24:00, which an RRULE cannot say
    text = vtimezone("America/Santiago").to_ical().decode()
    assert "TZID:America/Santiago" in text
    with pytest.raises(ValueError, match="outside the day"):
        from_posix("America/Santiago", rule)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(sorted(ZONES)),
    seconds=st.integers(min_value=0, max_value=int(30 * 365.25 * 86400)),
)
def test_the_rule_gives_each_wall_time_the_offset_the_zone_has(zone, seconds):
    actual = ZoneInfo(zone)
    moment = dt.datetime(max(ZONES[zone], 2008), 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=seconds
    )
    local = moment.astimezone(actual).replace(tzinfo=None)
    rule = parse_posix(zone, posix_rule(zone))
    assert rule.offset(local) == local.replace(tzinfo=actual).utcoffset()


@pytest.mark.parametrize(
    ("local", "listed"),
    [
        (dt.datetime(2024, 1, 15, 18), False),  # the present rule: no summer time
        (dt.datetime(2018, 1, 15, 18), True),  # summer time then, at -02:00
        (dt.datetime(2018, 7, 15, 18), False),  # winter then: the present rule agrees
    ],
)
def test_an_event_the_current_rule_would_misplace_gets_the_real_transitions(local, listed):
    component = vtimezone("America/Sao_Paulo", [local])
    text = component.to_ical().decode()
    assert (text.count("BEGIN:DAYLIGHT") > 1) is listed
    assert "RDATE" not in text  # vobject and ical.js skip RDATE lists
    parsed = tz.tzical(io.StringIO(text)).get("America/Sao_Paulo")
    assert parsed is not None
    expected = local.replace(tzinfo=ZoneInfo("America/Sao_Paulo")).utcoffset()
    assert local.replace(tzinfo=parsed).utcoffset() == expected


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        ("Europe/Vienna", dt.datetime(2024, 10, 27, 2, 30)),  # the hour that comes twice
        ("Australia/Sydney", dt.datetime(2024, 4, 7, 2, 30)),
        ("America/New_York", dt.datetime(2024, 11, 3, 1, 30)),
    ],
)
@pytest.mark.parametrize("fold", [0, 1])
def test_the_hour_that_comes_twice_gets_the_offset_of_its_first_or_second_time(zone, local, fold):
    rule = parse_posix(zone, posix_rule(zone))
    moment = local.replace(fold=fold)
    assert rule.offset(moment) == moment.replace(tzinfo=ZoneInfo(zone)).utcoffset()
