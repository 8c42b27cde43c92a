"""The iCalendar generator: one VEVENT per deadline, stable across rebuilds.

Pure: the deadlines, their versions, the words to use and the alarms are passed in, and
the same input gives the same bytes, so a feed can be cached and validated by content.
Whole-day milestones and events are `VALUE=DATE`; registration deadlines and timed
events carry their IANA zone (with a VTIMEZONE), so every client shows the right instant
in winter and in summer time. UIDs come from the deadline id and never change; SEQUENCE
and LAST-MODIFIED come from the version record that rises when a deadline's date moves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

from feeds.vtimezone import vtimezone
from schedulers.timeline import Deadline

PRODID = "-//UNTOC Watch//Review mechanism deadlines//EN"
UID_DOMAIN = "untoc-watch"
REFRESH_INTERVAL = dt.timedelta(hours=6)
# Before any version is recorded (no database), deadlines count as last changed here.
EPOCH = dt.datetime(2020, 10, 12, tzinfo=dt.UTC)


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
    """The one-line title calendar apps show."""
    if deadline.kind == "milestone" and deadline.country is not None:
        title = words(deadline.title)
        cluster = words("cluster {number}").format(number=deadline.cluster)
        return f"{words.country_name(deadline.country)}: {title} ({cluster})"
    if deadline.kind == "registration":
        event_title = deadline.title.removeprefix("Registration closes: ")
        return words("Registration closes: {event}").format(event=words(event_title))
    return words(deadline.title)


def description(deadline: Deadline, words: Words) -> str:
    """What to do now, how sure we are, where it comes from."""
    lines = []
    if deadline.status == "cancelled":
        lines.append(words("Cancelled."))
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
    if deadline.confidence == "projected":
        lines.append(words("Projected: computed from the review rules, not announced."))
    if deadline.note:
        lines.append(words(deadline.note))
    lines.append(words("Source: {source}").format(source=deadline.source))
    return "\n".join(lines)


def _dates(event: Event, deadline: Deadline) -> None:
    if deadline.all_day:
        first = deadline.due
        last = deadline.end if isinstance(deadline.end, dt.date) else first
        event.add("dtstart", first)
        event.add("dtend", last + dt.timedelta(days=1))  # DTEND is exclusive for dates
        event.add("transp", "TRANSPARENT")
        return
    zone = ZoneInfo(deadline.zone or "UTC")
    local = deadline.local
    if not isinstance(local, dt.datetime):
        raise TypeError(f"timed deadline {deadline.id} has no local time")
    event.add("dtstart", local.astimezone(zone))
    if isinstance(deadline.end, dt.datetime):
        event.add("dtend", deadline.end.astimezone(zone))
    else:
        event.add("dtend", local.astimezone(zone))  # a deadline is a moment, not a span


def vevent(
    deadline: Deadline,
    version: Version,
    words: Words,
    alarms: Sequence[dt.timedelta],
    base_url: str,
) -> Event:
    """One deadline as a VEVENT."""
    event = Event()
    event.add("uid", uid(deadline))
    event.add("dtstamp", version.modified_at)
    event.add("last-modified", version.modified_at)
    event.add("sequence", version.sequence)
    event.add("summary", summary(deadline, words))
    event.add("description", description(deadline, words))
    _dates(event, deadline)
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
    return event


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
            cached = vevent(deadline, version, words, alarms, self.base_url).to_ical()
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
        zones: set[str] = set()
        events: list[bytes] = []
        for deadline in deadlines:
            version = versions.get(deadline.id, Version(0, EPOCH))
            events.append(self.event_bytes(deadline, version, words, language, alarm_key))
            if not deadline.all_day and deadline.zone:
                zones.add(deadline.zone)
        for zone in sorted(zones):
            calendar.add_component(vtimezone(zone))
        head, end = calendar.to_ical().rsplit(b"END:VCALENDAR", 1)
        return b"".join([head, *events, b"END:VCALENDAR", end])
