"""What the watcher remembers and writes: a source's state, a poll's records, the ledger.

The watcher reads and writes only through a `WatchLedger`: `bot.db.store.Store` in the
service, `MemoryLedger` for a dry run of `sources check` without a database and for
tests. The records are plain data, so storage can import them without loading the
watcher's parsers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from config.dataset import Event
    from feeds.proposals import ProposalDraft

Health = Literal["ok", "failing", "selector_missing"]
NoticeKind = Literal[
    "operator.source_failing",
    "operator.source_recovered",
    "operator.selector_missing",
    "operator.selector_restored",
]


@dataclass(frozen=True)
class SourceState:
    """What the watcher remembers about one source between polls."""

    source_id: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    recent_hashes: tuple[str, ...] = ()
    config_hash: str | None = None
    consecutive_failures: int = 0
    failing_since: dt.datetime | None = None
    failure_notified: bool = False
    selector_missing_since: dt.datetime | None = None
    selector_notified: bool = False
    backoff_until: dt.datetime | None = None
    next_poll_at: dt.datetime | None = None
    last_polled_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_changed_at: dt.datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    health: Health = "ok"


@dataclass(frozen=True)
class Snapshot:
    """A new version of a source's normalised content."""

    source_id: str
    fetched_at: dt.datetime
    status_code: int
    etag: str | None
    last_modified: str | None
    content_hash: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class PageChange:
    """A real change of a source's content, for the change alerts subscribers get."""

    source_id: str
    url: str
    summary: str
    old_hash: str | None
    new_hash: str


@dataclass(frozen=True)
class OperatorNotice:
    """A message for the operators; its key makes it be told once per episode."""

    kind: NoticeKind
    key: str
    source_id: str
    url: str
    message: str


@dataclass(frozen=True)
class PollRecord:
    """Everything one poll of one source writes, in one transaction."""

    state: SourceState
    snapshot: Snapshot | None = None
    change: PageChange | None = None
    notices: tuple[OperatorNotice, ...] = ()
    proposals: tuple[ProposalDraft, ...] = ()


class WatchLedger(Protocol):
    """Where the watcher keeps its state and writes what it found."""

    async def source_states(self) -> dict[str, SourceState]:
        """The remembered state of every source polled before."""
        ...

    async def previous_lines(self, source_id: str) -> tuple[str, ...] | None:
        """The normalised lines of the source's latest stored version."""
        ...

    async def approved_events(self) -> list[Event]:
        """Events operators approved from earlier proposals."""
        ...

    async def record_poll(self, record: PollRecord, now: dt.datetime) -> int:
        """Store one poll's results; returns how many proposals were new."""
        ...


@dataclass
class MemoryLedger:
    """A `WatchLedger` in memory: for a dry run of `sources check` and for tests."""

    states: dict[str, SourceState] = field(default_factory=dict)
    snapshots: list[Snapshot] = field(default_factory=list)
    changes: list[PageChange] = field(default_factory=list)
    notices: dict[str, OperatorNotice] = field(default_factory=dict)
    proposals: dict[str, ProposalDraft] = field(default_factory=dict)
    approved: list[Event] = field(default_factory=list)

    async def source_states(self) -> dict[str, SourceState]:
        return dict(self.states)

    async def previous_lines(self, source_id: str) -> tuple[str, ...] | None:
        for snapshot in reversed(self.snapshots):
            if snapshot.source_id == source_id:
                return snapshot.lines
        return None

    async def approved_events(self) -> list[Event]:
        return list(self.approved)

    async def record_poll(self, record: PollRecord, now: dt.datetime) -> int:
        self.states[record.state.source_id] = record.state
        if record.snapshot is not None:
            self.snapshots.append(record.snapshot)
        if record.change is not None:
            self.changes.append(record.change)
        for notice in record.notices:
            self.notices.setdefault(notice.key, notice)
        new = [d for d in record.proposals if d.key not in self.proposals]
        for draft in new:
            self.proposals[draft.key] = draft
        return len(new)
