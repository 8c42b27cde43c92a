"""Bodies by kind: HTML, RSS and Atom through feedparser, calendars through icalendar."""

from __future__ import annotations

import datetime as dt

import pytest

from feeds.formats import UnreadableDocument, read_document
from tests.fakes.unodc_site import fixture

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Review mechanism news</title>
  <id>urn:example:feed</id>
  <updated>2030-01-07T09:00:00Z</updated>
  <entry>
    <title>Working Group on Firearms, 23 to 27 May 2030</title>
    <id>urn:example:wg</id>
    <link href="https://ngo.example.org/wg-firearms"/>
    <updated>2030-01-07T09:00:00Z</updated>
    <summary type="html">&lt;p&gt;Hybrid meeting in Vienna.&lt;/p&gt;</summary>
  </entry>
</feed>
"""


def test_an_rss_feed_becomes_lines_linked_to_their_entries():
    document = read_document("rss", fixture("news.rss"))
    assert (
        document.lines[0]
        == "Call for participation: constructive dialogue on trafficking in persons"
    )
    assert (
        "Constructive Dialogue on Trafficking in Persons: 10 July 2030. Register here until "
        "2 May 2030 midnight Vienna time." in document.lines
    )
    assert document.link_of(1) == "https://ngo.example.org/news/cd-tip-2030"
    assert document.link_of(3) == "https://ngo.example.org/news/report"
    assert not any("2030 09:00" in line for line in document.lines)  # publication dates left out


def test_an_atom_feed_is_read_the_same_way():
    document = read_document("atom", ATOM)
    assert document.lines == (
        "Working Group on Firearms, 23 to 27 May 2030",
        "Hybrid meeting in Vienna.",
    )
    assert document.link_of(0) == "https://ngo.example.org/wg-firearms"


def test_a_broken_feed_is_unreadable_not_empty():
    with pytest.raises(UnreadableDocument, match="not an RSS or Atom feed"):
        read_document("rss", fixture("broken.rss"))
    with pytest.raises(UnreadableDocument):
        read_document("atom", fixture("constructive-dialogues-v1.html"))


def test_a_calendar_gives_structured_events_with_their_zone():
    document = read_document("ics", fixture("meetings.ics"))
    assert not document.has_prose
    dialogue, cop = document.findings
    assert dialogue.kind == "constructive-dialogue" and dialogue.themes == ("som",)
    assert (dialogue.start, dialogue.start_time, dialogue.end_time, dialogue.zone) == (
        dt.date(2030, 7, 5),
        dt.time(10),
        dt.time(18),
        "Europe/Vienna",
    )
    assert dialogue.starts_at == dt.datetime(2030, 7, 5, 8, tzinfo=dt.UTC)
    assert dialogue.url == "https://indico.un.org/event/1234/"
    assert (cop.kind, cop.cop_number, cop.start, cop.end) == (
        "cop",
        16,
        dt.date(2030, 10, 14),
        dt.date(2030, 10, 18),  # DTEND of a whole-day event is exclusive
    )
    assert all("DTSTAMP" not in line and "2030-01-01" not in line for line in document.lines)


def test_a_calendar_re_exported_with_a_new_stamp_reads_the_same():
    again = fixture("meetings.ics").replace(
        b"DTSTAMP:20300101T101010Z", b"DTSTAMP:20300301T000000Z"
    )
    assert read_document("ics", again).lines == read_document("ics", fixture("meetings.ics")).lines


def test_a_broken_calendar_is_unreadable():
    with pytest.raises(UnreadableDocument, match="not an iCalendar file"):
        read_document("ics", b"BEGIN:VCALENDAR\r\nthis is not a calendar\r\n")


def test_a_latin1_page_reads_with_its_accents():
    document = read_document("html", fixture("cst-latin1.html"), "text/html")
    assert any("12 février 2030" in line for line in document.lines)
