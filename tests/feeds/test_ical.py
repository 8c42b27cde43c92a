"""The iCal feed: RFC 5545 structure, and the same instants in independent parsers.

Our feed is read by `icalendar`, `vobject`, Mozilla's `ical.js` (node) and khal; every
event must have the same UTC instant (or date) in all of them, in winter and summer time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import vobject
from icalendar import Calendar

from config.dataset_loader import load_dataset
from feeds.ical import CalendarBuilder, Version, Words, uid
from schedulers.expected import expected_deadlines
from schedulers.timeline import compute_deadlines, fingerprint

PARSERS_DIR = Path(__file__).resolve().parents[1] / "calendar_parsers"
NOW = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
# The year ahead as of the day nothing of 2027 was announced: the rhythm's guesses.
GUESSING = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
GUESS = "e-cd-2027-firearms@untoc-watch"
WORDS = Words(gettext=lambda text: text, country_name=lambda code: code)
REQUIRED = os.environ.get("UNTOC_REQUIRE_PARSERS") == "1"


def _need(tool: str, available: bool) -> None:
    if not available:
        if REQUIRED:
            pytest.fail(f"{tool} is required here (UNTOC_REQUIRE_PARSERS=1) but missing")
        pytest.skip(f"{tool} is not installed; `.ci/run` installs it")


# A cancelled dialogue, and a deadline in a zone whose DST change falls elsewhere.
EXTRA_EVENTS = """\
events:
  - id: cd-2022-cooperation-technical-assistance
    kind: constructive-dialogue
    title: Constructive Dialogue on International Cooperation and Technical Assistance
    themes: [cooperation, technical-assistance]
    start: 2022-05-27
    status: cancelled
    registration: {deadline: 2022-03-17}
    source: test
    confidence: confirmed
  - id: late-night-in-new-york
    kind: other
    title: A deadline in another zone, across the US DST change
    start: 2022-03-20
    registration: {deadline: 2022-03-13, time: "23:30", zone: America/New_York}
    source: test
    confidence: reported
  - id: summer-time-in-sao-paulo
    kind: other
    title: A deadline from before its zone's rule changed (summer time ended in 2019)
    start: 2018-01-20
    registration: {deadline: 2018-01-15, time: "18:00", zone: America/Sao_Paulo}
    source: test
    confidence: reported
  - id: no-summer-time-in-sao-paulo
    kind: other
    title: The same zone after the change, in the same feed (no summer time in January)
    start: 2022-01-20
    registration: {deadline: 2022-01-15, time: "18:00", zone: America/Sao_Paulo}
    source: test
    confidence: reported
"""


@pytest.fixture(scope="module")
def deadlines(tmp_path_factory):
    extra = tmp_path_factory.mktemp("data")
    (extra / "cancelled.yaml").write_text(EXTRA_EVENTS)
    data = load_dataset(extra)
    return [*compute_deadlines(data, NOW), *expected_deadlines(data, GUESSING)]


@pytest.fixture(scope="module")
def feed(deadlines, tmp_path_factory):
    versions = {"r-cd-2022-som-tip": Version(3, dt.datetime(2022, 4, 2, 9, 30, tzinfo=dt.UTC))}
    body = CalendarBuilder("https://watch.example.org").build(
        deadlines,
        versions,
        WORDS,
        name="UNTOC Watch",
        language="en",
        alarms=(dt.timedelta(days=7), dt.timedelta(hours=2)),
    )
    path = tmp_path_factory.mktemp("feed") / "untoc-watch.ics"
    path.write_bytes(body)
    return path


def expected(deadlines):
    """Per UID, the start as an ISO date or UTC instant, from the timeline itself."""
    result = {}
    for deadline in deadlines:
        if deadline.all_day:
            result[uid(deadline)] = deadline.due.isoformat()
        else:
            result[uid(deadline)] = deadline.due.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return result


def _normalise(start):
    if isinstance(start, dt.datetime):
        assert start.tzinfo is not None, "a timed event must not be floating"
        return start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return start.isoformat()


def test_the_feed_is_well_formed_rfc5545(feed, deadlines):
    raw = feed.read_bytes()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line  # folded at 75 octets
        assert b"\n" not in line
    calendar = Calendar.from_ical(raw)
    assert calendar["VERSION"] == "2.0"
    assert "PRODID" in calendar and "X-WR-CALNAME" in calendar and "REFRESH-INTERVAL" in calendar
    events = calendar.walk("VEVENT")
    assert len(events) == len(deadlines)
    assert len({str(e["UID"]) for e in events}) == len(events)
    for event in events:
        for name in ("UID", "DTSTAMP", "DTSTART", "SUMMARY", "DESCRIPTION", "STATUS", "SEQUENCE"):
            assert name in event, (name, event["UID"])
    zones = [z["TZID"] for z in calendar.walk("VTIMEZONE")]
    assert zones == ["America/New_York", "America/Sao_Paulo", "Europe/Vienna"]


def test_uids_are_stable_and_statuses_follow_confidence_and_cancellation(feed):
    events = {str(e["UID"]): e for e in Calendar.from_ical(feed.read_bytes()).walk("VEVENT")}
    assert str(events["m-at-c1-written-feedback@untoc-watch"]["STATUS"]) == "TENTATIVE"  # projected
    assert str(events["m-at-c1-self-assessment@untoc-watch"]["STATUS"]) == "CONFIRMED"
    cancelled = events["r-cd-2022-cooperation-technical-assistance@untoc-watch"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    som = events["r-cd-2022-som-tip@untoc-watch"]
    assert som["SEQUENCE"] == 3
    assert som["LAST-MODIFIED"].dt == dt.datetime(2022, 4, 2, 9, 30, tzinfo=dt.UTC)
    assert "end of 2022-05-08" in str(som["DESCRIPTION"])
    assert "Confidence: confirmed" in str(som["DESCRIPTION"])
    assert [a["TRIGGER"].to_ical() for a in som.walk("VALARM")] == [b"-P7D", b"-PT2H"]
    focal = events["m-at-c1-focal-points@untoc-watch"]
    assert "What you can do now:" in str(focal["DESCRIPTION"])
    assert str(focal["SUMMARY"]) == "AT: Appointment of focal points (cluster 1)"
    assert focal["SEQUENCE"] == 0


def test_whole_day_milestones_are_date_values_with_exclusive_end(feed):
    raw = feed.read_bytes().decode()
    events = {str(e["UID"]): e for e in Calendar.from_ical(raw).walk("VEVENT")}
    saq = events["m-at-c1-self-assessment@untoc-watch"]
    assert saq["DTSTART"].dt == dt.date(2022, 5, 1) and not isinstance(
        saq["DTSTART"].dt, dt.datetime
    )
    assert saq["DTEND"].dt == dt.date(2022, 5, 2)
    cop = events["e-cop-11@untoc-watch"]
    assert (cop["DTSTART"].dt, cop["DTEND"].dt) == (dt.date(2022, 10, 17), dt.date(2022, 10, 22))
    assert "DTSTART;VALUE=DATE:20220501" in raw


def test_icalendar_reads_the_same_instants(feed, deadlines):
    events = Calendar.from_ical(feed.read_bytes()).walk("VEVENT")
    parsed = {str(e["UID"]): _normalise(e["DTSTART"].dt) for e in events}
    assert parsed == expected(deadlines)
    # the two DOMAIN.md examples, winter and summer time
    assert parsed["r-cd-2022-firearms@untoc-watch"] == "2022-03-17T23:00:00Z"
    assert parsed["r-cd-2022-som-tip@untoc-watch"] == "2022-05-08T22:00:00Z"
    assert parsed["r-late-night-in-new-york@untoc-watch"] == "2022-03-14T03:30:00Z"  # EDT
    guess = next(e for e in events if str(e["UID"]) == GUESS)
    assert (str(guess["STATUS"]), str(guess["TRANSP"])) == ("TENTATIVE", "TRANSPARENT")
    assert not guess.walk("VALARM")


def test_vobject_reads_the_same_instants(feed, deadlines):
    calendar = vobject.readOne(feed.read_text(encoding="utf-8"))
    parsed = {str(e.uid.value): _normalise(e.dtstart.value) for e in calendar.vevent_list}
    assert parsed == expected(deadlines)
    guess = next(e for e in calendar.vevent_list if e.uid.value == GUESS)
    assert (guess.status.value, guess.transp.value) == ("TENTATIVE", "TRANSPARENT")
    assert guess.summary.value == "Expected: Constructive Dialogue on Firearms"
    assert not guess.contents.get("valarm")


def test_icaljs_reads_the_same_instants(feed, deadlines):
    node = shutil.which("node") or "node"
    installed = (PARSERS_DIR / "node_modules" / "ical.js").is_dir()
    _need(
        "node with ical.js (npm ci in tests/calendar_parsers)",
        bool(shutil.which("node")) and installed,
    )
    result = subprocess.run(
        [node, str(PARSERS_DIR / "parse_icaljs.mjs"), str(feed)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    parsed = json.loads(result.stdout)
    assert {key: value["start"] for key, value in parsed.items()} == expected(deadlines)
    assert parsed["r-cd-2022-som-tip@untoc-watch"]["sequence"] == 3
    assert parsed["m-at-c1-written-feedback@untoc-watch"]["status"] == "TENTATIVE"
    assert parsed["m-at-c1-focal-points@untoc-watch"]["alarms"] == 2
    # a guess: tentative, free time, marked expected, and no alarm to a guessed day
    guess = parsed[GUESS]
    assert (guess["status"], guess["transp"], guess["alarms"]) == ("TENTATIVE", "TRANSPARENT", 0)
    assert guess["summary"] == "Expected: Constructive Dialogue on Firearms"


def test_khal_imports_the_feed(feed, tmp_path, deadlines):
    _need("khal", shutil.which("khal") is not None)
    khal = shutil.which("khal") or "khal"
    store = tmp_path / "calendar"
    store.mkdir()
    config = tmp_path / "khal.conf"
    config.write_text(
        textwrap.dedent(
            f"""\
            [calendars]
            [[untoc]]
            path = {store}
            type = calendar
            [locale]
            timeformat = %H:%M
            dateformat = %Y-%m-%d
            longdateformat = %Y-%m-%d
            datetimeformat = %Y-%m-%d %H:%M
            longdatetimeformat = %Y-%m-%d %H:%M
            local_timezone = UTC
            default_timezone = UTC
            """
        )
    )
    result = subprocess.run(
        [khal, "-c", str(config), "import", "--batch", "-a", "untoc", str(feed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    assert len(list(store.glob("*.ics"))) == len(deadlines)
    listing = subprocess.run(
        [khal, "-c", str(config), "list", "--format", "{start} {title}", "2022-05-08", "2d"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "2022-05-08 22:00 Registration closes: Constructive Dialogues" in listing.stdout
    guess = next(d for d in deadlines if uid(d) == GUESS)
    guessed = subprocess.run(
        [
            khal,
            "-c",
            str(config),
            "list",
            "--format",
            "{start} {title} {status}",
            guess.due.isoformat(),
            "1d",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"{guess.due.isoformat()} Expected: Constructive Dialogue on Firearms" in guessed.stdout
    assert "TENTATIVE" in guessed.stdout


def test_fingerprint_changes_only_with_the_dates(deadlines):
    som = next(d for d in deadlines if d.id == "r-cd-2022-som-tip")
    later = compute_deadlines(load_dataset(), dt.datetime(2022, 5, 1, tzinfo=dt.UTC))
    same = next(d for d in later if d.id == "r-cd-2022-som-tip")
    assert som.status != same.status  # due soon by then
    assert fingerprint(som) == fingerprint(same)
    from dataclasses import replace

    moved = replace(som, due=som.due + dt.timedelta(days=9))
    assert fingerprint(moved) != fingerprint(som)


def test_rebuilding_reuses_unchanged_events_and_gives_identical_bytes(deadlines):
    builder = CalendarBuilder("https://watch.example.org")
    first = builder.build(deadlines, {}, WORDS, name="x", language="en")
    assert builder.build(deadlines, {}, WORDS, name="x", language="en") == first
    bumped = {"r-cd-2022-som-tip": Version(1, dt.datetime(2022, 4, 2, tzinfo=dt.UTC))}
    changed = builder.build(deadlines, bumped, WORDS, name="x", language="en")
    assert changed != first
    assert b"SEQUENCE:1" in changed


def test_a_stored_link_that_is_not_http_never_reaches_the_calendar(deadlines):
    import dataclasses

    first = deadlines[0]
    hostile = dataclasses.replace(first, url="javascript:alert(1)")
    builder = CalendarBuilder("https://watch.example.org")
    body = builder.build([hostile], {}, WORDS, name="x", language="en").decode()
    assert "javascript:" not in body
    assert f"URL:https://watch.example.org/#{first.id}" in body
