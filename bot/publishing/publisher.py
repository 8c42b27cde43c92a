"""Publishes the timeline: the current snapshot of deadlines, calendar feeds, and caches.

The web process asks here for deadlines and feeds. Facts recorded at run time are
re-read at most every `facts_ttl`; when they change, the snapshot is rebuilt, every
deadline whose dates moved gets a higher iCal SEQUENCE, and cached feeds are dropped.
Feeds are cached by what they contain, so a calendar app polling an unchanged feed gets
the same bytes and the same ETag, and a 304.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from bot.db.store import RecordedFacts, Store
from bot.filters.query import Query
from bot.publishing.news import NEWS_DAYS, PageChange, newest, news_entries
from bot.text.i18n import DEFAULT_LANGUAGE, Texts
from config.dataset import Dataset
from feeds.atom import build_atom
from feeds.ical import EPOCH, CalendarBuilder, Version, Words
from schedulers.dates import Clock
from schedulers.expected import announced_ids, timeline
from schedulers.reminders import Change
from schedulers.timeline import Deadline, Selection, fingerprint

log = logging.getLogger(__name__)

FACTS_TTL = dt.timedelta(seconds=5)
MAX_CACHED_FEEDS = 256


def with_expected(dataset: Dataset, now: dt.datetime) -> list[Deadline]:
    """The announced deadlines and, where nothing is announced yet, the expected ones."""
    return timeline(dataset, now)


def system_clock() -> dt.datetime:
    """Now, in UTC: the only place the publisher learns the time."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Feed:
    """A built calendar: its bytes (plain and gzip), validators, and what it holds."""

    body: bytes
    etag: str
    last_modified: dt.datetime
    events: int
    _gzipped: list[bytes] = field(default_factory=list, compare=False, repr=False)

    @property
    def gzipped(self) -> bytes:
        if not self._gzipped:
            self._gzipped.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._gzipped[0]


@dataclass(frozen=True)
class Snapshot:
    """The timeline as of the last change of facts."""

    revision: int
    facts: RecordedFacts
    dataset: Dataset
    deadlines: list[Deadline]
    versions: dict[str, Version]


def _dates(deadline: Deadline) -> dict[str, str | None]:
    def iso(value: dt.date | dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {"due": iso(deadline.due), "local": iso(deadline.local), "end": iso(deadline.end)}


class Publisher:
    """Deadlines and feeds for the web process, cached and kept current."""

    def __init__(
        self,
        dataset: Dataset,
        store: Store | None,
        base_url: str,
        clock: Clock = system_clock,
        facts_ttl: dt.timedelta = FACTS_TTL,
    ) -> None:
        self.dataset = dataset
        self.store = store
        self.base_url = base_url
        self.clock = clock
        self.facts_ttl = facts_ttl
        self.builder = CalendarBuilder(base_url)
        self._snapshot: Snapshot | None = None
        self._checked_at: dt.datetime | None = None
        self._lock = asyncio.Lock()
        self._feeds: OrderedDict[tuple[object, ...], Feed] = OrderedDict()
        self._statuses: tuple[tuple[int, dt.datetime], list[Deadline]] | None = None
        self._previous: dict[str, dict[str, str | None]] = {}
        self._pages: tuple[dt.datetime, list[PageChange]] | None = None

    async def snapshot(self) -> Snapshot:
        """The current snapshot, rebuilt when recorded facts changed.

        While the database cannot be read, the last snapshot is served (and the facts
        asked for again every `facts_ttl`): yesterday's facts beat an error page.
        """
        if self._snapshot is not None and self._fresh():
            return self._snapshot
        async with self._lock:
            if self._snapshot is not None and self._fresh():
                return self._snapshot  # another request refreshed it while we waited
            now = self.clock()
            try:
                facts = await self.store.recorded_facts() if self.store else RecordedFacts()
            except Exception as exc:
                if self._snapshot is None:
                    raise
                log.warning("publisher: cannot read recorded facts (%s); serving the last", exc)
                self._checked_at = now
                return self._snapshot
            self._checked_at = now
            if self._snapshot is None or facts != self._snapshot.facts:
                self._snapshot = await self._rebuild(facts, now)
                self._feeds.clear()
            return self._snapshot

    def _fresh(self) -> bool:
        return self._checked_at is not None and self.clock() - self._checked_at < self.facts_ttl

    async def _rebuild(self, facts: RecordedFacts, now: dt.datetime) -> Snapshot:
        dataset = facts.apply(self.dataset)
        deadlines = with_expected(dataset, now)
        versions: dict[str, Version] = {}
        if self.store is not None:
            stored = await self.store.deadline_versions(
                {d.id: fingerprint(d) for d in deadlines}, now
            )
            versions = {key: Version(*value) for key, value in stored.items()}
        revision = self._snapshot.revision + 1 if self._snapshot else 1
        if self._snapshot is not None:
            before = {d.id: d for d in self._snapshot.deadlines}
            for deadline in deadlines:
                old = before.get(deadline.id)
                if old is not None and fingerprint(old) != fingerprint(deadline):
                    self._previous[deadline.id] = _dates(old)
        return Snapshot(revision, facts, dataset, deadlines, versions)

    def changes(self) -> list[Change]:
        """Deadlines whose dates changed, with the dates before where this process saw them.

        The first change of an occurrence announced after its series was declared is its
        announcement: the guess (fingerprint "expected") became a date.
        """
        if self._snapshot is None:
            return []
        announced = announced_ids(self._snapshot.dataset)
        return [
            Change(
                deadline_id=deadline_id,
                sequence=version.sequence,
                changed_at=version.modified_at,
                previous=self._previous.get(deadline_id, {}),
                announced=version.sequence == 1 and deadline_id in announced,
            )
            for deadline_id, version in self._snapshot.versions.items()
            if version.sequence > 0
        ]

    async def deadlines(self) -> list[Deadline]:
        """Every deadline with statuses as of now (recomputed at most once a minute)."""
        snapshot = await self.snapshot()
        minute = self.clock().replace(second=0, microsecond=0)
        key = (snapshot.revision, minute)
        if self._statuses is None or self._statuses[0] != key:
            self._statuses = (key, with_expected(snapshot.dataset, self.clock()))
        return self._statuses[1]

    async def sources_read(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """When the watcher last read a source, and last saw one change (None: never).

        Answers say how fresh they are with it; a database that cannot be read makes it
        unknown rather than an error.
        """
        if self.store is None:
            return None, None
        try:
            states = (await self.store.source_states()).values()
        except Exception as exc:
            log.warning("publisher: cannot read the watcher's state (%s)", exc)
            return None, None
        read = [s.last_success_at for s in states if s.last_success_at is not None]
        changed = [s.last_changed_at for s in states if s.last_changed_at is not None]
        return max(read, default=None), max(changed, default=None)

    async def feed(self, query: Query, language: str | None = None) -> Feed:
        """The calendar for `query`, from the cache when nothing changed."""
        snapshot = await self.snapshot()
        language = language or query.language or DEFAULT_LANGUAGE
        selection = query.selection
        key = (
            snapshot.revision,
            frozenset(selection.countries),
            frozenset(selection.clusters),
            frozenset(selection.kinds),
            frozenset(selection.themes),
            language,
            query.alarms,
        )
        cached = self._feeds.get(key)
        if cached is not None:
            self._feeds.move_to_end(key)
            return cached
        feed = self._build(snapshot, selection, language, query.alarms)
        self._feeds[key] = feed
        if len(self._feeds) > MAX_CACHED_FEEDS:
            self._feeds.popitem(last=False)
        return feed

    def _build(
        self,
        snapshot: Snapshot,
        selection: Selection,
        language: str,
        alarms: tuple[dt.timedelta, ...],
    ) -> Feed:
        texts = Texts(language)
        chosen = [d for d in snapshot.deadlines if selection.matches(d)]
        body = self.builder.build(
            chosen,
            snapshot.versions,
            Words(gettext=texts, country_name=texts.country),
            name=texts("UNTOC Watch: review deadlines"),
            language=language,
            alarms=alarms,
        )
        modified = [
            snapshot.versions[d.id].modified_at for d in chosen if d.id in snapshot.versions
        ]
        return Feed(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=max(modified, default=EPOCH).replace(microsecond=0),
            events=len(chosen),
        )

    async def page_changes(self) -> list[PageChange]:
        """The watched pages' recorded changes of the feed's period, read at most every
        `facts_ttl`; none while the database cannot be read."""
        now = self.clock()
        if self._pages is not None and now - self._pages[0] < self.facts_ttl:
            return self._pages[1]
        found: list[PageChange] = []
        if self.store is not None:
            try:
                rows = await self.store.recent_page_changes(now - dt.timedelta(days=NEWS_DAYS))
            except Exception as exc:
                log.warning("publisher: cannot read page changes (%s)", exc)
                rows = []
            found = [PageChange(*row) for row in rows]
        self._pages = (now, found)
        return found

    async def news(self, query: Query, self_url: str) -> Feed:
        """The Atom feed of news for `query`: announcements, date changes, facts, pages."""
        snapshot = await self.snapshot()
        pages = await self.page_changes()
        language = query.language or DEFAULT_LANGUAGE
        selection = query.selection
        key = (
            "atom",
            snapshot.revision,
            max((p.id for p in pages), default=0),
            frozenset(selection.countries),
            frozenset(selection.clusters),
            frozenset(selection.kinds),
            frozenset(selection.themes),
            language,
            self_url,
        )
        cached = self._feeds.get(key)
        if cached is not None:
            self._feeds.move_to_end(key)
            return cached
        texts = Texts(language)
        themes = {s.id: frozenset(s.themes) for s in snapshot.dataset.sources.values()}
        entries = news_entries(
            self.changes(),
            {d.id: d for d in snapshot.deadlines},
            pages,
            themes,
            selection,
            texts,
            self.base_url,
            self.clock(),
        )
        updated = newest(entries, EPOCH)
        body = build_atom(
            feed_id=f"{self.base_url.rstrip('/')}/feed.atom",
            title=texts("UNTOC Watch: news and changes"),
            self_url=self_url,
            page_url=f"{self.base_url.rstrip('/')}/?lang={language}",
            language=language,
            entries=entries,
            updated=updated,
        )
        feed = Feed(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=updated.replace(microsecond=0),
            events=len(entries),
        )
        self._feeds[key] = feed
        if len(self._feeds) > MAX_CACHED_FEEDS:
            self._feeds.popitem(last=False)
        return feed
