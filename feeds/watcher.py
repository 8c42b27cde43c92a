"""The poll cycle: fetch the sources that are due, notice real changes, propose dates.

For each due source: fetch (conditionally), read the body by the source's kind, hash
the normalised lines, and compare with what was seen before. A real change (not a flap
back to a version seen a moment ago) is recorded with a short summary and a link; new
and changed lines are read for events and deadlines, which become proposals. Failures
back off per source; after `failure_threshold` failures in a row, or when the selector
stops matching, the operator is told once, and told once again when it recovers.

Storage is a `WatchLedger` passed in (`feeds.ledger`: the service's store, or
`MemoryLedger` for a dry run and for tests); the clock is the `now` passed to each call.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal
from zoneinfo import ZoneInfo

from config.dataset import VIENNA, Event, Source
from feeds.extract import Finding, extract_findings
from feeds.fetch import Fetcher, FetchError, FetchResult
from feeds.formats import Document, UnreadableDocument, read_document
from feeds.ledger import OperatorNotice, PageChange, PollRecord, Snapshot, SourceState, WatchLedger
from feeds.normalise import (
    ChangeSummary,
    added_lines,
    content_hash,
    is_flap,
    remember,
    summarise_change,
)
from feeds.proposals import draft_proposals, is_past
from feeds.reading import PageReader, ThreadReader

log = logging.getLogger("untoc_watch.watcher")

DEFAULT_FAILURE_THRESHOLD = 5
MAX_CONCURRENT_FETCHES = 8
BACKOFF_BASE = dt.timedelta(minutes=15)
BACKOFF_MAX = dt.timedelta(hours=24)
MECHANISM_ZONE = ZoneInfo(VIENNA)

Result = Literal[
    "baseline", "unchanged", "not_modified", "changed", "flapping", "selector_missing", "failed"
]


@dataclass(frozen=True)
class PollOutcome:
    """How one poll went, for logs, the CLI and the benchmark."""

    source_id: str
    result: Result
    message: str
    status_code: int | None
    findings: int
    proposals: int
    elapsed: float
    next_poll_at: dt.datetime


@dataclass(frozen=True)
class CycleReport:
    """The outcomes of one cycle and when the next source is due."""

    outcomes: tuple[PollOutcome, ...]
    next_due: dt.datetime | None


def config_hash(source: Source) -> str:
    """What in a source's configuration shapes its normalised content."""
    parts = [source.url, source.kind, source.selector, list(source.ignore)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def backoff(
    failures: int, interval: dt.timedelta, retry_after: float | None = None
) -> dt.timedelta:
    """How long to wait after `failures` failures in a row: doubling from 15 minutes to a day.

    Never less than the source's own interval, nor than what the server asked for.
    """
    doubled: dt.timedelta = BACKOFF_BASE * (2 ** min(max(0, failures - 1), 16))
    delay = min(BACKOFF_MAX, doubled)
    delay = max(delay, interval)
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return delay


class Watcher:
    """Polls the configured sources; `poll_due` is one cycle, `check` polls chosen ones now."""

    def __init__(
        self,
        sources: Iterable[Source],
        fetcher: Fetcher,
        ledger: WatchLedger,
        *,
        events: Mapping[str, Event] | None = None,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        max_concurrent: int = MAX_CONCURRENT_FETCHES,
        reader: PageReader | None = None,
    ) -> None:
        self.sources = {source.id: source for source in sources}
        self.fetcher = fetcher
        self.ledger = ledger
        self.events = dict(events or {})
        self.failure_threshold = failure_threshold
        # Where pages are parsed and their dates read: a child process in the service.
        self.reader: PageReader = reader or ThreadReader()
        self._limit = asyncio.Semaphore(max_concurrent)
        self._writing = asyncio.Lock()  # one writer at a time: SQLite has one anyway
        # The latest lines of each source, so that a change is diffed without a read.
        self._lines: dict[str, tuple[str, ...]] = {}

    async def poll_due(self, now: dt.datetime) -> CycleReport:
        """Poll every source whose time has come; returns the outcomes and the next due time."""
        states = await self.ledger.source_states()
        due = [
            source
            for source in self.sources.values()
            if (state := states.get(source.id)) is None
            or state.next_poll_at is None
            or state.next_poll_at <= now
        ]
        outcomes = await self._poll(due, states, now, None) if due else []
        next_times = [o.next_poll_at for o in outcomes] + [
            s.next_poll_at
            for source_id, s in states.items()
            if source_id in self.sources
            and source_id not in {o.source_id for o in outcomes}
            and s.next_poll_at is not None
        ]
        return CycleReport(tuple(outcomes), min(next_times) if next_times else None)

    async def check(
        self,
        source_ids: Sequence[str],
        now: dt.datetime,
        on_done: Callable[[PollOutcome], None] | None = None,
    ) -> list[PollOutcome]:
        """Poll the named sources now, due or not (what `untoc-watch sources check` runs)."""
        states = await self.ledger.source_states()
        return await self._poll([self.sources[i] for i in source_ids], states, now, on_done)

    async def _poll(
        self,
        sources: Sequence[Source],
        states: Mapping[str, SourceState],
        now: dt.datetime,
        on_done: Callable[[PollOutcome], None] | None,
    ) -> list[PollOutcome]:
        known = {**self.events, **{e.id: e for e in await self.ledger.approved_events()}}

        async def one(source: Source) -> PollOutcome:
            state = states.get(source.id) or SourceState(source.id)
            outcome = await self._poll_one(source, state, now, known)
            if on_done is not None:
                on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(source) for source in sources)))

    async def _poll_one(
        self, source: Source, state: SourceState, now: dt.datetime, known: Mapping[str, Event]
    ) -> PollOutcome:
        started = time.perf_counter()
        try:
            async with self._limit:
                record, result, message, findings = await self._assess(source, state, now, known)
            async with self._writing:
                stored = await self.ledger.record_poll(record, now)
            if record.snapshot is not None:
                self._lines[source.id] = record.snapshot.lines
        except Exception as exc:  # a bug or a database outage must not stop the other sources
            log.exception("watcher: polling %s failed unexpectedly", source.id)
            failed = self._failed(source, state, now, exc, logged=True)
            with contextlib.suppress(Exception):  # so it backs off too, if the database lets us
                async with self._writing:
                    await self.ledger.record_poll(failed, now)
            return PollOutcome(
                source.id,
                "failed",
                "internal error (see the log)",
                None,
                0,
                0,
                time.perf_counter() - started,
                failed.state.next_poll_at or now,
            )
        next_poll = record.state.next_poll_at or now
        return PollOutcome(
            source.id,
            result,
            message,
            record.state.last_status,
            findings,
            stored,
            time.perf_counter() - started,
            next_poll,
        )

    async def _assess(
        self, source: Source, state: SourceState, now: dt.datetime, known: Mapping[str, Event]
    ) -> tuple[PollRecord, Result, str, int]:
        """Fetch and read one source, and decide what to record."""
        configured = config_hash(source)
        fresh = state.config_hash != configured or state.content_hash is None
        try:
            fetched = await self.fetcher.fetch(
                source.url,
                etag=None if fresh else state.etag,
                last_modified=None if fresh else state.last_modified,
            )
            # reading and extracting are pure and can take seconds on a huge page: by the
            # reader, so deliveries and the bot on this loop keep going meanwhile
            document = (
                None if fetched.not_modified else await self.reader.call(_read, source, fetched)
            )
        except (FetchError, UnreadableDocument) as exc:
            return self._failed(source, state, now, exc), "failed", str(exc), 0
        recovered = self._recovered(source, state, now)
        interval = _interval(source)
        base = replace(
            state,
            etag=fetched.etag or (state.etag if fetched.not_modified else None),
            last_modified=fetched.last_modified
            or (state.last_modified if fetched.not_modified else None),
            config_hash=configured,
            consecutive_failures=0,
            failing_since=None,
            failure_notified=False,
            backoff_until=None,
            next_poll_at=now + interval,
            last_polled_at=now,
            last_success_at=now,
            last_status=fetched.status_code,
            last_error=None,
            health="ok" if state.selector_missing_since is None else "selector_missing",
        )
        if document is None:
            return PollRecord(base, notices=recovered), "not_modified", "not modified (304)", 0
        if document.selector_matched is False:
            return self._selector_missing(source, base, now, recovered)
        if state.selector_missing_since is not None:
            recovered += (self._selector_restored(source, state),)
            base = replace(base, selector_missing_since=None, selector_notified=False, health="ok")
        try:
            return await self._compare(
                source, state, base, fetched, document, now, fresh, recovered, known
            )
        except UnreadableDocument as exc:  # over the reader's limits while reading dates
            return self._failed(source, state, now, exc), "failed", str(exc), 0

    async def _compare(
        self,
        source: Source,
        state: SourceState,
        base: SourceState,
        fetched: FetchResult,
        document: Document,
        now: dt.datetime,
        fresh: bool,
        notices: tuple[OperatorNotice, ...],
        known: Mapping[str, Event],
    ) -> tuple[PollRecord, Result, str, int]:
        new_hash = content_hash(document.lines)
        updated = replace(
            base, content_hash=new_hash, recent_hashes=remember(state.recent_hashes, new_hash)
        )
        snapshot = Snapshot(
            source.id,
            now,
            fetched.status_code,
            fetched.etag,
            fetched.last_modified,
            new_hash,
            document.lines,
        )
        if fresh:
            findings = await self.reader.call(_findings, document, now, None)
            drafts = draft_proposals(findings, known, url=source.url, source_id=source.id)
            message = f"first reading: {len(document.lines)} lines"
            record = PollRecord(
                updated, snapshot=snapshot, notices=notices, proposals=tuple(drafts)
            )
            return record, "baseline", message, len(findings)
        if new_hash == state.content_hash:
            return PollRecord(updated, notices=notices), "unchanged", "unchanged", 0
        if is_flap(new_hash, state.content_hash, state.recent_hashes):
            message = "back to a version seen recently (flapping): no alert"
            log.info("watcher: %s %s", source.id, message)
            return PollRecord(updated, snapshot=snapshot, notices=notices), "flapping", message, 0
        previous = self._lines.get(source.id)
        if previous is None:
            previous = await self.ledger.previous_lines(source.id) or ()
        summary, findings = await self.reader.call(_changes, previous, document, now, fetched.url)
        change = PageChange(source.id, source.url, summary.text, state.content_hash, new_hash)
        drafts = draft_proposals(findings, known, url=source.url, source_id=source.id)
        updated = replace(updated, last_changed_at=now)
        log.info(
            "watcher: %s changed (%d lines added, %d removed, %d proposals)",
            source.id,
            len(summary.added),
            len(summary.removed),
            len(drafts),
        )
        record = PollRecord(updated, snapshot, change, notices, tuple(drafts))
        message = f"changed: {len(summary.added)} lines added, {len(summary.removed)} removed"
        return record, "changed", message, len(findings)

    def _failed(
        self,
        source: Source,
        state: SourceState,
        now: dt.datetime,
        error: Exception,
        *,
        logged: bool = False,
    ) -> PollRecord:
        failures = state.consecutive_failures + 1
        retry_after = getattr(error, "retry_after", None)
        delay = backoff(failures, _interval(source), retry_after)
        since = state.failing_since or now
        notices: tuple[OperatorNotice, ...] = ()
        notified = state.failure_notified
        if failures >= self.failure_threshold and not notified:
            notified = True
            notices = (
                OperatorNotice(
                    "operator.source_failing",
                    _notice_key("operator.source_failing", source.id, since),
                    source.id,
                    source.url,
                    f"The watched page {source.id} ({source.url}) has failed {failures} times "
                    f"in a row since {since:%Y-%m-%d %H:%M} UTC; last error: {error}. "
                    f"Retrying every {_duration(delay)} at most; check the address, or its "
                    "selector and settings in the sources file.",
                ),
            )
        if not logged:
            log.warning(
                "watcher: %s failed (%s); failure %d in a row, next try in %s (at %s UTC)",
                source.id,
                error,
                failures,
                _duration(delay),
                f"{now + delay:%Y-%m-%d %H:%M}",
            )
        status = getattr(error, "status_code", None)
        state = replace(
            state,
            consecutive_failures=failures,
            failing_since=since,
            failure_notified=notified,
            backoff_until=now + delay,
            next_poll_at=now + delay,
            last_polled_at=now,
            last_status=status,
            last_error=str(error)[:2000],
            health="failing" if failures >= self.failure_threshold else state.health,
        )
        return PollRecord(state, notices=notices)

    def _recovered(
        self, source: Source, state: SourceState, now: dt.datetime
    ) -> tuple[OperatorNotice, ...]:
        if not (state.failure_notified and state.failing_since is not None):
            return ()
        log.info("watcher: %s answers again", source.id)
        return (
            OperatorNotice(
                "operator.source_recovered",
                _notice_key("operator.source_recovered", source.id, state.failing_since),
                source.id,
                source.url,
                f"The watched page {source.id} ({source.url}) answers again, after "
                f"{state.consecutive_failures} failed attempts since "
                f"{state.failing_since:%Y-%m-%d %H:%M} UTC.",
            ),
        )

    def _selector_missing(
        self,
        source: Source,
        base: SourceState,
        now: dt.datetime,
        notices: tuple[OperatorNotice, ...],
    ) -> tuple[PollRecord, Result, str, int]:
        since = base.selector_missing_since or now
        message = f"the selector {source.selector!r} matches nothing on the page"
        if not base.selector_notified:
            log.warning("watcher: %s: %s", source.id, message)
            notices += (
                OperatorNotice(
                    "operator.selector_missing",
                    _notice_key("operator.selector_missing", source.id, since),
                    source.id,
                    source.url,
                    f"On {source.url} ({source.id}) {message}: the page was probably "
                    "redesigned. Changes are not detected until the selector in the sources "
                    "file is fixed.",
                ),
            )
        state = replace(
            base, selector_missing_since=since, selector_notified=True, health="selector_missing"
        )
        return PollRecord(state, notices=notices), "selector_missing", message, 0

    def _selector_restored(self, source: Source, state: SourceState) -> OperatorNotice:
        since = state.selector_missing_since or dt.datetime.min.replace(tzinfo=dt.UTC)
        return OperatorNotice(
            "operator.selector_restored",
            _notice_key("operator.selector_restored", source.id, since),
            source.id,
            source.url,
            f"On {source.url} ({source.id}) the selector {source.selector!r} matches again.",
        )


def _read(source: Source, fetched: FetchResult) -> Document:
    return read_document(
        source.kind,
        fetched.body,
        fetched.content_type,
        selector=source.selector,
        ignore=source.ignore,
    )


def _findings(document: Document, now: dt.datetime, added: set[int] | None) -> list[Finding]:
    """Events and deadlines on the new or changed lines that are not over yet."""
    reference = now.astimezone(MECHANISM_ZONE).date()
    found = list(document.findings)
    if document.has_prose:
        found += extract_findings(document.lines, reference)
    kept = []
    for finding in found:
        if added is not None and not set(finding.lines) & added:
            continue
        if is_past(finding, now):
            continue
        link = document.link_of(finding.lines[-1]) if finding.url is None else finding.url
        kept.append(replace(finding, url=link) if link else finding)
    return kept


def _changes(
    previous: Sequence[str], document: Document, now: dt.datetime, url: str
) -> tuple[ChangeSummary, list[Finding]]:
    """What a changed page added and removed, and the dates on its added lines."""
    summary = summarise_change(previous, document.lines, url)
    return summary, _findings(document, now, added_lines(previous, document.lines))


def _interval(source: Source) -> dt.timedelta:
    return dt.timedelta(minutes=source.interval_minutes)


def _notice_key(kind: str, source_id: str, since: dt.datetime) -> str:
    return f"{kind}:{source_id}:{since.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def _duration(delay: dt.timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")
