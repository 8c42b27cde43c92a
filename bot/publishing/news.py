"""What the Atom feed says, pure: the timeline's changes and the watched pages' edits.

Announcements, date changes and steps recorded as done come from the publisher's
changes (each deadline's stored version: its sequence rises whenever its date moves);
page changes come from what the watcher recorded. Each entry is worded once by
`bot/text/wording.py`, as the alerts are, and ends with its source line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.text.i18n import Texts
from bot.text.wording import Alert, title_of, word
from feeds.atom import Entry
from schedulers.reminders import Change
from schedulers.timeline import Deadline, Selection

MAX_ENTRIES = 100
NEWS_DAYS = 180  # how far back the feed reaches


@dataclass(frozen=True)
class PageChange:
    """A watched page changed: what the watcher recorded."""

    id: int
    source_id: str
    url: str
    summary: str
    detected_at: dt.datetime


def _previous(current: Deadline, previous: Mapping[str, Any]) -> Deadline | None:
    def parse(value: Any) -> dt.date | dt.datetime | None:
        if not isinstance(value, str):
            return None
        return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)

    due = parse(previous.get("due"))
    if due is None:
        return None
    local = parse(previous.get("local")) or due
    return replace(current, due=due, local=local, end=parse(previous.get("end")))


def deadline_link(base_url: str, deadline: Deadline, language: str) -> str:
    """Where a reader sees the deadline: its State's page, else the front page, at its id."""
    base = base_url.rstrip("/")
    if deadline.country:
        return f"{base}/country/{deadline.country}?lang={language}#{deadline.id}"
    return f"{base}/?lang={language}#{deadline.id}"


def _summary(*lines: str | None) -> str:
    return "\n".join(line for line in lines if line)


def news_entries(
    changes: Iterable[Change],
    deadlines: Mapping[str, Deadline],
    pages: Iterable[PageChange],
    page_themes: Mapping[str, frozenset[str]],
    selection: Selection,
    texts: Texts,
    base_url: str,
    now: dt.datetime,
) -> list[Entry]:
    """The newest entries first, at most `MAX_ENTRIES`, for what `selection` follows."""
    base = base_url.rstrip("/")
    since = now - dt.timedelta(days=NEWS_DAYS)
    entries: list[Entry] = []
    for change in changes:
        deadline = deadlines.get(change.deadline_id)
        if deadline is None or change.changed_at < since or not selection.matches(deadline):
            continue
        if change.announced:
            alert = Alert(key=change.deadline_id, kind="announced", deadline=deadline)
        else:
            before = _previous(deadline, change.previous)
            alert = Alert(key=change.deadline_id, kind="change", deadline=deadline, previous=before)
        wording = word(alert, texts, "UTC" if deadline.zone is None else deadline.zone, now)
        headline = wording.headline
        category = "announced" if change.announced else "changed"
        if deadline.status == "done":
            headline = texts("Recorded as done: {title}").format(title=title_of(deadline, texts))
            category = "fact"
        entries.append(
            Entry(
                id=f"{base}/feed.atom#{deadline.id}-v{change.sequence}",
                title=headline,
                updated=change.changed_at,
                link=deadline_link(base, deadline, texts.language),
                category=category,
                summary=_summary(
                    wording.title,
                    wording.when,
                    wording.note,
                    texts("Source: {source}").format(source=deadline.source),
                ),
            )
        )
    for page in pages:
        themes = page_themes.get(page.source_id, frozenset())
        if page.detected_at < since or (selection.themes and not set(selection.themes) & themes):
            continue
        entries.append(
            Entry(
                id=f"{base}/feed.atom#page-{page.id}",
                title=texts("A page you follow changed"),
                updated=page.detected_at,
                link=page.url,
                category="page",
                summary=_summary(page.summary, texts("Source: {source}").format(source=page.url)),
            )
        )
    entries.sort(key=lambda e: (e.updated, e.id), reverse=True)
    return entries[:MAX_ENTRIES]


def newest(entries: Sequence[Entry], default: dt.datetime) -> dt.datetime:
    """The feed's `updated`: its newest entry's, else a fixed date (so the bytes, and the
    ETag, stay the same while nothing happens)."""
    return max((e.updated for e in entries), default=default)
