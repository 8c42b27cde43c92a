"""The VEVENT writer against icalendar: the same bytes for every deadline we publish, and
any text read back unchanged from lines of at most 75 octets.

`reference_vevent` is the feed's former icalendar-based VEVENT, kept here as the reference:
for the bundled dataset, in every catalogued language, with and without alarms, our
writer must produce exactly the bytes `Event.to_ical()` produces. Two differences are
deliberate, and tested as such: a literal backslash-N in a text stays one (icalendar turns
it into a newline), and a zone icalendar deems equal to UTC (Atlantic/Reykjavik, ...)
keeps its TZID where icalendar writes a UTC time; the instant is the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from icalendar import Alarm, Calendar, Component, Event

from bot.text.i18n import LANGUAGES, Texts
from config.dataset_loader import load_dataset
from feeds.ical import (
    EPOCH,
    CalendarBuilder,
    Version,
    Words,
    description,
    summary,
    uid,
    vevent,
)
from schedulers.timeline import Deadline, compute_deadlines
from tests.feeds.test_ical import EXTRA_EVENTS

BASE_URL = "https://watch.example.org"
WORDS = Words(gettext=lambda text: text, country_name=lambda code: code)
# winter time, the bench's day, summer time: statuses and projections differ between them
NOWS = (
    dt.datetime(2021, 1, 15, tzinfo=dt.UTC),
    dt.datetime(2022, 3, 1, tzinfo=dt.UTC),
    dt.datetime(2022, 7, 15, 12, tzinfo=dt.UTC),
)
ALARMS = (
    (),
    (
        dt.timedelta(days=14),
        dt.timedelta(days=1, hours=12),
        dt.timedelta(hours=2),
        dt.timedelta(minutes=90),
        dt.timedelta(0),
    ),
)
# zones with their own rules; timed deadlines are moved into each of them
ZONES = (
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Europe/London",
    "UTC",
    None,
)


def reference_vevent(
    deadline: Deadline,
    version: Version,
    words: Words,
    alarms: Sequence[dt.timedelta],
    base_url: str,
) -> bytes:
    """The VEVENT as icalendar's object model writes it (what the feed published before)."""
    event = Event()
    event.add("uid", uid(deadline))
    event.add("dtstamp", version.modified_at)
    event.add("last-modified", version.modified_at)
    event.add("sequence", version.sequence)
    event.add("summary", summary(deadline, words))
    event.add("description", description(deadline, words))
    if deadline.all_day:
        first = deadline.due
        last = deadline.end if isinstance(deadline.end, dt.date) else first
        event.add("dtstart", first)
        event.add("dtend", last + dt.timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    else:
        zone = ZoneInfo(deadline.zone or "UTC")
        assert isinstance(deadline.local, dt.datetime)
        event.add("dtstart", deadline.local.astimezone(zone))
        end = deadline.end if isinstance(deadline.end, dt.datetime) else deadline.local
        event.add("dtend", end.astimezone(zone))
    if deadline.status == "cancelled":
        event.add("status", "CANCELLED")
    elif deadline.confidence == "projected":
        event.add("status", "TENTATIVE")
    else:
        event.add("status", "CONFIRMED")
    event.add("url", deadline.url or f"{base_url}/#{deadline.id}")
    if deadline.place:
        event.add("location", deadline.place)
    categories = [deadline.kind, *deadline.themes]
    if deadline.country:
        categories.append(deadline.country)
    event.add("categories", categories)
    for before in alarms:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary(deadline, words))
        alarm.add("trigger", -before)
        event.add_component(alarm)
    written: bytes = event.to_ical()
    return written


def _version(index: int) -> Version:
    """No version yet, or one recorded in another zone and to the microsecond (DTSTAMP is UTC)."""
    if index % 2 == 0:
        return Version(0, EPOCH)
    moment = dt.datetime(2022, 4, 2, 11, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Vienna"))
    return Version(index % 7, moment)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    extra = tmp_path_factory.mktemp("data")
    (extra / "extra.yaml").write_text(EXTRA_EVENTS)
    return load_dataset(extra)


@pytest.fixture(scope="module")
def every_deadline(dataset) -> list[Deadline]:
    """Every deadline at every `now`, and each timed one moved into every zone of ZONES."""
    deadlines = [d for now in NOWS for d in compute_deadlines(dataset, now)]
    timed = [d for d in compute_deadlines(dataset, NOWS[1]) if not d.all_day]
    return deadlines + [replace(d, zone=zone) for d in timed for zone in ZONES]


def test_the_fixture_covers_what_the_feed_meets(every_deadline):
    kinds = {d.kind for d in every_deadline}
    assert {"milestone", "registration", "event"} <= kinds
    assert {d.status for d in every_deadline} >= {"cancelled", "no_news", "upcoming"}
    assert "projected" in {d.confidence for d in every_deadline}
    assert any(d.place for d in every_deadline) and any(d.end for d in every_deadline)
    offsets = {d.local.utcoffset() for d in every_deadline if not d.all_day}
    assert {dt.timedelta(hours=1), dt.timedelta(hours=2), dt.timedelta(hours=-4)} <= offsets


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("alarms", ALARMS, ids=["no-alarms", "alarms"])
def test_every_deadline_is_written_as_icalendar_writes_it(every_deadline, language, alarms):
    texts = Texts(language)
    words = Words(gettext=texts, country_name=texts.country)
    for index, deadline in enumerate(every_deadline):
        version = _version(index)
        ours = vevent(deadline, version, words, alarms, BASE_URL)
        assert ours == reference_vevent(deadline, version, words, alarms, BASE_URL), deadline.id


# any character a text may hold (not lone surrogates, nor controls but newline and tab),
# with the ones escaping and folding care about made frequent
_PIECES = st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(
    [*",;:\\^N\n\t\"' éß€😀", "🇦🇹", "مرحبا بالعالم", "中文字符", "e\u0301", "\u2028", "x" * 70]
)
TEXTS = st.lists(_PIECES, max_size=120).map("".join)


@pytest.fixture(scope="module")
def som(dataset) -> Deadline:
    """A timed deadline in Vienna, in summer time: 2022-05-08 24:00 local, 22:00 UTC."""
    return next(d for d in compute_deadlines(dataset, NOWS[1]) if d.id == "r-cd-2022-som-tip")


def _deadline(som: Deadline, title: str, place: str, note: str, themes: list[str]) -> Deadline:
    """A timed event carrying the given texts (the writer's inputs)."""
    return replace(
        som, kind="event", title=title, place=place, note=note, source=note, themes=tuple(themes)
    )


@settings(max_examples=300, deadline=None)
@given(title=TEXTS, place=TEXTS, note=TEXTS, themes=st.lists(TEXTS, max_size=3))
# "SUMMARY:" and 65 characters fill 73 octets: a backslash, or a 3-octet "€", comes next
@example(title="x" * 65 + "\\;" + "é" * 40, place="\\" * 200, note="^" * 150, themes=["a,b"])
@example(title="y" * 65 + "€😀" * 30, place="a\r\nb\rc", note="", themes=[])
def test_any_text_is_written_as_icalendar_writes_it(som, title, place, note, themes):
    texts = [title, place, note, *themes]
    assume(not any("\\N" in text for text in texts))  # icalendar makes a newline of it
    deadline = _deadline(som, title, place, note, themes)
    alarms = (dt.timedelta(days=7),)
    ours = vevent(deadline, Version(1, EPOCH), WORDS, alarms, BASE_URL)
    assert ours == reference_vevent(deadline, Version(1, EPOCH), WORDS, alarms, BASE_URL)


@pytest.fixture(scope="module")
def read_back():
    """Parse a one-event feed as a client would: icalendar's parser, lines unfolded."""

    def parse(deadline: Deadline) -> tuple[bytes, Component]:
        builder = CalendarBuilder(BASE_URL)
        feed = builder.build(
            [deadline], {}, WORDS, name="x", language="en", alarms=(dt.timedelta(hours=2),)
        )
        [event] = Calendar.from_ical(feed).walk("VEVENT")
        return feed, event

    return parse


@settings(max_examples=300, deadline=None)
@given(title=TEXTS, place=TEXTS, note=TEXTS, themes=st.lists(TEXTS.filter(bool), max_size=3))
@example(title="C:\\New folder\\N", place="", note="\\\\N\\n", themes=["\\N"])
def test_any_text_reads_back_the_same_from_lines_of_75_octets(
    som, read_back, title, place, note, themes
):
    deadline = _deadline(som, title, place, note, themes)
    feed, event = read_back(deadline)
    assert feed.endswith(b"\r\n")
    for line in feed[:-2].split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode()  # a fold never cuts a UTF-8 character
    assert str(event["SUMMARY"]) == title
    assert str(event["DESCRIPTION"]) == description(deadline, WORDS)
    assert str(event.get("LOCATION", "")) == place
    assert [str(c) for c in event["CATEGORIES"].cats] == ["event", *themes]
    assert [str(a["DESCRIPTION"]) for a in event.walk("VALARM")] == [title]


def test_a_carriage_return_is_a_newline_as_in_icalendar(som, read_back):
    deadline = _deadline(som, "one\r\ntwo\rthree", "", "", [])
    _, event = read_back(deadline)
    assert str(event["SUMMARY"]) == "one\ntwo\nthree"
    ours = vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)
    assert ours == reference_vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)


def test_a_literal_backslash_n_stays_where_icalendar_makes_it_a_newline(som, read_back):
    deadline = _deadline(som, "C:\\New", "", "", [])
    ours = vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)
    assert b"SUMMARY:C:\\\\New\r\n" in ours
    theirs = reference_vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)
    assert b"SUMMARY:C:\\new\r\n" in theirs  # an escaped newline: "C:", then "ew" below
    assert str(read_back(deadline)[1]["SUMMARY"]) == "C:\\New"


@pytest.mark.parametrize("zone", ["Atlantic/Reykjavik", "Africa/Abidjan", "Etc/UTC"])
def test_a_zone_icalendar_deems_utc_keeps_its_tzid_and_its_instant(som, read_back, zone):
    deadline = replace(som, zone=zone)
    ours = vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)
    theirs = reference_vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)
    assert f"DTSTART;TZID={zone}:20220508T220000".encode() in ours
    assert b"DTSTART:20220508T220000Z" in theirs
    _, event = read_back(deadline)
    assert event["DTSTART"].dt == som.due == dt.datetime(2022, 5, 8, 22, tzinfo=dt.UTC)


def test_the_writer_is_what_the_builder_publishes(every_deadline):
    builder = CalendarBuilder(BASE_URL)
    deadline = every_deadline[0]
    published = builder.event_bytes(deadline, Version(0, EPOCH), WORDS, "en", ())
    assert published == vevent(deadline, Version(0, EPOCH), WORDS, (), BASE_URL)
