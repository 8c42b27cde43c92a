"""The iCalendar generator: one VEVENT per deadline, stable across rebuilds.

Pure: the deadlines, their versions, the words to use and the alarms are passed in, and
the same input gives the same bytes, so a feed can be cached and validated by content.
Whole-day milestones and events are `VALUE=DATE`; registration deadlines and timed
events carry their IANA zone (with a VTIMEZONE), so every client shows the right instant
in winter and in summer time. UIDs come from the deadline id and never change; SEQUENCE
and LAST-MODIFIED come from the version record that rises when a deadline's date moves.
The VEVENTs are written here, line by line, in the bytes icalendar would write for them;
icalendar itself writes the calendar's header and its VTIMEZONEs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, vDDDTypes

from config.urls import web_url
from feeds.vtimezone import vtimezone
from schedulers.timeline import Deadline, reader_title

PRODID = "-//UNTOC Watch//Review mechanism deadlines//EN"
UID_DOMAIN = "untoc-watch"
REFRESH_INTERVAL = dt.timedelta(hours=6)
# Before any version is recorded (no database), deadlines count as last changed here.
EPOCH = dt.datetime(2020, 10, 12, tzinfo=dt.UTC)
# RFC 5545 lines SHOULD NOT pass 75 octets; icalendar breaks after 74, and so do we.
FOLD_OCTETS = 74


@dataclass(frozen=True)
class Version:
    """How many times a deadline's dates changed, and when they last did."""

    sequence: int
    modified_at: dt.datetime


@dataclass(frozen=True)
class Words:
    """The texts of a feed, in the reader's language (gettext and CLDR injected)."""

    gettext: Callable[[str], str]
    country_name: Callable[[str], str]

    def __call__(self, text: str) -> str:
        return self.gettext(text)


def uid(deadline: Deadline) -> str:
    """The event's UID: the deadline id, the same in every feed and forever."""
    return f"{deadline.id}@{UID_DOMAIN}"


def summary(deadline: Deadline, words: Words) -> str:
    """The one-line title calendar apps show; a projection says it is expected."""
    title = _summary(deadline, words)
    if deadline.status == "expected":
        return words("Expected: {title}").format(title=title)
    return title


def _summary(deadline: Deadline, words: Words) -> str:
    if deadline.kind == "milestone" and deadline.country is not None:
        title = words(deadline.title)
        cluster = words("cluster {number}").format(number=deadline.cluster)
        return f"{words.country_name(deadline.country)}: {title} ({cluster})"
    return reader_title(deadline, words)


def description(deadline: Deadline, words: Words) -> str:
    """What to do now, how sure we are, where it comes from."""
    lines = []
    if deadline.status == "cancelled":
        lines.append(words("Cancelled."))
    if deadline.status == "expected" and deadline.earliest and deadline.latest:
        lines.append(
            words("Expected between {earliest} and {latest}; not announced yet.").format(
                earliest=deadline.earliest.isoformat(), latest=deadline.latest.isoformat()
            )
        )
        if deadline.basis:
            lines.append(words("Why we expect it: {basis}").format(basis=deadline.basis))
    if deadline.hint:
        lines.append(words("What you can do now: {hint}").format(hint=words(deadline.hint)))
    if deadline.end_of_day and isinstance(deadline.local, dt.datetime):
        day = (deadline.local - dt.timedelta(days=1)).date().isoformat()
        lines.append(
            words("Closes at midnight (end of {date}), {zone} time.").format(
                date=day, zone=deadline.zone
            )
        )
    # the confidence words are catalogued where the page shows them (bot.render)
    level = words(deadline.confidence)
    lines.append(words("Confidence: {level}").format(level=level))
    if deadline.confidence == "projected" and deadline.status != "expected":
        lines.append(words("Projected: computed from the review rules, not announced."))
    if deadline.note:
        lines.append(words(deadline.note))
    lines.append(words("Source: {source}").format(source=deadline.source))
    return "\n".join(lines)


def _text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 (3.3.11) says; a CR or CRLF counts as a newline.

    icalendar also reads a literal backslash-N in the text as a newline; we keep the
    characters the text has, so any text reads back as it was.
    """
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: bytes) -> bytes:
    """A content line folded as RFC 5545 (3.1) says, never inside a UTF-8 character.

    As icalendar does, a line carries at most 74 octets before its break (75 with the space
    that opens a continuation), and a break never follows a backslash or caret: that one
    moves to the next line, since some clients unfold a split escape wrongly.
    """
    if len(line) <= FOLD_OCTETS:
        return line
    parts = []
    start = 0
    while len(line) - start > FOLD_OCTETS:
        cut = start + FOLD_OCTETS
        while line[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            cut -= 1
        if line[cut - 1] in b"\\^":
            cut -= 1
        parts.append(line[start:cut])
        start = cut
    parts.append(line[start:])
    return b"\r\n ".join(parts)


def _date(day: dt.date) -> str:
    return f"{day.year:04}{day.month:02}{day.day:02}"


def _wall_time(moment: dt.datetime) -> str:
    """The DATE-TIME form of a wall-clock time, to the second (RFC 5545 has no fractions)."""
    return f"{_date(moment)}T{moment.hour:02}{moment.minute:02}{moment.second:02}"


def _utc(moment: dt.datetime) -> str:
    """A DATE-TIME in UTC; a naive one is taken to be UTC already, as icalendar takes it."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{_wall_time(moment)}Z"


def _zoned(name: str, moment: dt.datetime, zone: str) -> str:
    """A date-time property in the announced zone (with its TZID), or in UTC."""
    # icalendar writes UTC for any zone it finds equal to UTC (Atlantic/Reykjavik, ...);
    # we keep the zone the deadline was announced in, whose VTIMEZONE the feed carries.
    if zone == "UTC":
        return f"{name}:{_utc(moment)}"
    return f"{name};TZID={zone}:{_wall_time(moment.astimezone(ZoneInfo(zone)))}"


def _wall_times(deadline: Deadline) -> list[dt.datetime]:
    """The wall times a timed deadline's DTSTART and DTEND are written in, in its zone."""
    zone = ZoneInfo(deadline.zone or "UTC")
    moments = [deadline.local, deadline.end]
    return [m.astimezone(zone) for m in moments if isinstance(m, dt.datetime)]


def _dates(deadline: Deadline) -> tuple[str, str]:
    """DTSTART and DTEND: whole days as dates, timed deadlines as wall time in their zone."""
    if deadline.all_day:
        first = deadline.due
        last = deadline.end if isinstance(deadline.end, dt.date) else first
        end = last + dt.timedelta(days=1)  # DTEND is exclusive for dates
        return f"DTSTART;VALUE=DATE:{_date(first)}", f"DTEND;VALUE=DATE:{_date(end)}"
    zone = deadline.zone or "UTC"
    local = deadline.local
    if not isinstance(local, dt.datetime):
        raise TypeError(f"timed deadline {deadline.id} has no local time")
    # a deadline is a moment, not a span
    finish = deadline.end if isinstance(deadline.end, dt.datetime) else local
    return _zoned("DTSTART", local, zone), _zoned("DTEND", finish, zone)


def _status(deadline: Deadline) -> str:
    if deadline.status == "cancelled":
        return "CANCELLED"
    if deadline.confidence == "projected":
        return "TENTATIVE"
    return "CONFIRMED"


@cache
def _trigger(before: dt.timedelta) -> str:
    """An alarm's TRIGGER, `before` the start, in icalendar's DURATION form (-P7D, -PT2H)."""
    return vDDDTypes(-before).to_ical().decode()


def vevent(
    deadline: Deadline,
    version: Version,
    words: Words,
    alarms: Sequence[dt.timedelta],
    base_url: str,
) -> bytes:
    """One deadline as a serialised VEVENT: CRLF lines, folded at 75 octets.

    Written directly rather than through icalendar's Event, whose property objects made
    up most of a feed's build time. The properties come in icalendar's order (its canonical
    ones first, the rest alphabetical), so the bytes are those `Event.to_ical()` writes
    for the same event; tests/feeds/test_ical_writer.py holds the writer to that.
    """
    title = _text(summary(deadline, words))
    stamp = _utc(version.modified_at)
    start, end = _dates(deadline)
    categories = [deadline.kind, *deadline.themes]
    if deadline.country:
        categories.append(deadline.country)
    lines = [
        "BEGIN:VEVENT",
        f"SUMMARY:{title}",
        start,
        end,
        f"DTSTAMP:{stamp}",
        f"UID:{_text(uid(deadline))}",
        f"SEQUENCE:{version.sequence}",
        f"CATEGORIES:{','.join(map(_text, categories))}",
        f"DESCRIPTION:{_text(description(deadline, words))}",
        f"LAST-MODIFIED:{stamp}",
    ]
    if deadline.place:
        lines.append(f"LOCATION:{_text(deadline.place)}")
    lines.append(f"STATUS:{_status(deadline)}")
    if deadline.all_day:
        lines.append("TRANSP:TRANSPARENT")
    # a URI, not escaped: so only an http(s) link, checked again on the way out
    lines.append(f"URL:{web_url(deadline.url) or f'{base_url}/#{deadline.id}'}")
    # no countdown to a guessed day: an expected occurrence has no alarms
    for before in alarms if deadline.status != "expected" else ():
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{title}",
            f"TRIGGER:{_trigger(before)}",
            "END:VALARM",
        ]
    lines.append("END:VEVENT")
    return b"".join([_fold(line.encode()) + b"\r\n" for line in lines])


class CalendarBuilder:
    """Builds feeds, keeping each serialised VEVENT for as long as its input is unchanged.

    Serialising (escaping and folding every line) is most of the cost of a feed; the
    events of one language with one set of alarms rarely change, so a rebuild after a
    date moved re-serialises only the events that moved. The memo is bounded.
    """

    def __init__(self, base_url: str, max_events: int = 50_000) -> None:
        self.base_url = base_url
        self.max_events = max_events
        self._events: dict[tuple[object, ...], bytes] = {}

    def event_bytes(
        self,
        deadline: Deadline,
        version: Version,
        words: Words,
        language: str,
        alarms: tuple[dt.timedelta, ...],
    ) -> bytes:
        """The serialised VEVENT of one deadline (memoised)."""
        key = (deadline, version, language, alarms)
        cached = self._events.get(key)
        if cached is None:
            if len(self._events) >= self.max_events:
                self._events.clear()
            cached = vevent(deadline, version, words, alarms, self.base_url)
            self._events[key] = cached
        return cached

    def build(
        self,
        deadlines: Iterable[Deadline],
        versions: Mapping[str, Version],
        words: Words,
        *,
        name: str,
        language: str,
        alarms: Sequence[dt.timedelta] = (),
    ) -> bytes:
        """The whole feed as RFC 5545 bytes (CRLF lines, folded at 75 octets)."""
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("x-wr-calname", name)
        calendar.add("name", name)
        text = words("Deadlines of the UNTOC Implementation Review Mechanism, for civil society.")
        calendar.add("x-wr-caldesc", text)
        calendar.add("description", text)
        calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", REFRESH_INTERVAL)
        alarm_key = tuple(alarms)
        zones: dict[str, list[dt.datetime]] = {}
        events: list[bytes] = []
        for deadline in deadlines:
            version = versions.get(deadline.id, Version(0, EPOCH))
            events.append(self.event_bytes(deadline, version, words, language, alarm_key))
            if not deadline.all_day and deadline.zone and isinstance(deadline.local, dt.datetime):
                zones.setdefault(deadline.zone, []).extend(_wall_times(deadline))
        for zone in sorted(zones):
            calendar.add_component(vtimezone(zone, zones[zone]))
        head, end = calendar.to_ical().rsplit(b"END:VCALENDAR", 1)
        return b"".join([head, *events, b"END:VCALENDAR", end])
