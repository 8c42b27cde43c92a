"""What a fetched body says, by the kind of source: HTML pages, RSS/Atom feeds, calendars.

Pure: each reader takes the bytes the fetcher brought and returns a `Document`, the
normalised lines that change detection hashes, the link each line came from, and, for
calendars, the events they define (already structured: no guessing from words).
feedparser only ever gets bytes here, so it never fetches anything by itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from config.dataset import VIENNA
from feeds.extract import Finding, cop_number_in, event_kind_in, themes_in
from feeds.normalise import clean_line, decode_body, normalise_lines, page_text

SourceKind = Literal["html", "rss", "atom", "ics"]
# Events read from a calendar are structured data: as sure as a reading gets.
CALENDAR_CERTAINTY = 0.95


class UnreadableDocument(Exception):
    """The body is not what the source's kind promises (a broken feed or calendar)."""


@dataclass(frozen=True)
class Document:
    """A fetched body reduced to what matters: lines to compare, links, calendar events.

    `selector_matched` is False when the source's selector found nothing (the page was
    redesigned), None when no selector applies.
    """

    lines: tuple[str, ...]
    links: tuple[str | None, ...] = ()
    findings: tuple[Finding, ...] = ()
    selector_matched: bool | None = None
    # False for calendars: their events are read from their fields, not from words.
    has_prose: bool = True

    def link_of(self, index: int) -> str | None:
        """The link of the feed entry or calendar event line `index` came from, if any."""
        return self.links[index] if index < len(self.links) else None


def read_document(
    kind: SourceKind,
    body: bytes,
    content_type: str | None = None,
    *,
    selector: str | None = None,
    ignore: Sequence[str] = (),
) -> Document:
    """Read a body as its source's kind says; raises `UnreadableDocument` if it is not."""
    if kind in {"rss", "atom"}:
        return read_feed(body, ignore)
    if kind == "ics":
        return read_calendar(body)
    text = page_text(decode_body(body, content_type), selector)
    return Document(
        lines=normalise_lines(text.lines, ignore), selector_matched=text.selector_matched
    )


def read_feed(body: bytes, ignore: Sequence[str] = ()) -> Document:
    """The entries of an RSS or Atom feed as lines: title, date, summary text, link."""
    import feedparser  # type: ignore[import-untyped]

    parsed = feedparser.parse(body)
    # A feed may be empty; a broken one with nothing readable in it is a failure.
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception") or "no feed elements"
        raise UnreadableDocument(f"not an RSS or Atom feed ({problem})")
    lines: list[str] = []
    links: list[str | None] = []
    for entry in parsed.entries:
        link = entry.get("link") or None
        # The entry's publication date is left out: it is not an event, and a feed that
        # re-dates an unchanged entry has not changed.
        entry_lines = [clean_line(str(entry.get("title", "")))]
        summary = entry.get("summary") or ""
        if summary:
            entry_lines.extend(page_text(f"<div>{summary}</div>", "div").lines)
        for line in normalise_lines(entry_lines, ignore):
            lines.append(line)
            links.append(link)
    return Document(lines=tuple(lines), links=tuple(links))


def read_calendar(body: bytes) -> Document:
    """The events of an iCalendar file: one line each for change detection, and findings.

    DTSTAMP and SEQUENCE change at every export, so they are left out of the lines.
    """
    # icalendar is loaded only when a watched source is a calendar
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(body)
    except (ValueError, OSError) as exc:  # a TZID that names a folder is an OSError
        raise UnreadableDocument(f"not an iCalendar file ({exc})") from None
    events = []
    broken: list[str] = []
    for component in calendar.walk("VEVENT"):
        try:
            read = _calendar_event(component)
        except (ValueError, OSError) as exc:  # e.g. DTSTART:20230230
            broken.append(str(exc))
            continue
        if read is not None:
            events.append(read)
    if broken and not events:
        raise UnreadableDocument(f"no event could be read ({broken[0]})")
    events.sort(key=lambda pair: pair[0])
    lines = tuple(line for line, _ in events)
    findings = tuple(
        Finding(
            kind=data["kind"],
            title=data["title"],
            themes=data["themes"],
            start=data["start"],
            end=data["end"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            zone=data["zone"],
            closing=None,
            excerpt=line,
            lines=(index,),
            certainty=CALENDAR_CERTAINTY,
            cancelled=data["cancelled"],
            url=data["url"],
            cop_number=data["cop"],
        )
        for index, (line, data) in enumerate(events)
    )
    return Document(
        lines=lines, links=tuple(f.url for f in findings), findings=findings, has_prose=False
    )


def _calendar_event(component: Any) -> tuple[str, dict[str, Any]] | None:
    start_prop = component.get("dtstart")
    if start_prop is None or not str(component.get("summary", "")).strip():
        return None
    title = clean_line(str(component.get("summary")))
    start_value = start_prop.dt
    end_prop = component.get("dtend")
    end_value = end_prop.dt if end_prop is not None else None
    zone = VIENNA
    start_time = end_time = None
    if isinstance(start_value, dt.datetime):
        zone = _zone_name(start_value)
        local = start_value if zone != "UTC" else start_value.astimezone(dt.UTC)
        start, start_time = local.date(), local.time().replace(tzinfo=None, second=0)
        end = None
        if isinstance(end_value, dt.datetime):
            finish = end_value.astimezone(local.tzinfo)
            end_time = finish.time().replace(tzinfo=None, second=0)
            end = finish.date() if finish.date() != start else None
    else:
        start = start_value
        # An all-day DTEND is exclusive: the event ends the day before.
        last = end_value - dt.timedelta(days=1) if isinstance(end_value, dt.date) else None
        end = last if last is not None and last > start else None
    description = str(component.get("description", ""))
    place = clean_line(str(component.get("location", "")))
    url = str(component.get("url")) if component.get("url") else None
    cancelled = str(component.get("status", "")).upper() == "CANCELLED"
    when = start.isoformat() + (f"..{end.isoformat()}" if end else "")
    if start_time is not None:
        when += f" {start_time:%H:%M}" + (f"-{end_time:%H:%M}" if end_time else "") + f" {zone}"
    line = " | ".join(
        part for part in (when, title, place, "cancelled" if cancelled else "") if part
    )
    data = {
        "kind": event_kind_in(title) or event_kind_in(description) or "other",
        "title": title[:200],
        "themes": themes_in(title) or themes_in(description),
        "start": start,
        "end": end,
        "start_time": start_time,
        "end_time": end_time,
        "zone": zone,
        "cancelled": cancelled,
        "url": url,
        "cop": cop_number_in(title),
    }
    return line, data


def _zone_name(moment: dt.datetime) -> str:
    """The IANA name of a calendar time's zone; UTC for fixed offsets and unnamed zones."""
    key = getattr(moment.tzinfo, "key", None)
    if isinstance(key, str) and "/" in key:
        return key
    return "UTC"
