"""The service's memory as the command line and the processes use it.

Two ways in, for two lifetimes:
- `Store` holds one engine for a long-running process (web, worker), built by the
  composition root and closed there.
- The module functions serve one CLI command each. Reading recorded dates from the
  default SQLite file goes through the standard library's driver: importing SQLAlchemy
  and Alembic would cost a short command several times its own work. A test keeps that
  reader equal to the one in `facts.py`.

A database that does not exist yet, or is not migrated, is not an error for reading:
the dataset still answers, and the caller gets a note that says how to set it up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.db import SCHEMA_REVISION
from bot.db.approved import latest_approved_events
from config.dataset import Dataset, Event, MilestoneDate
from schedulers.timeline import Selection

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.db.evidence import ChangeView, Evidence
    from bot.db.models import Proposal
    from bot.db.reports import Decided
    from feeds.ledger import PollRecord, SourceState
    from feeds.reports import Report, ReportLimits

MIGRATE_HINT = "run `untoc-watch db upgrade` (`make run` does it for you)"
RECORDED_CONFIDENCE = "confirmed"
_DATES_SQL = (
    "SELECT country, cluster, milestone, date, source, confidence FROM milestone_dates"
    " ORDER BY country, cluster, milestone"
)
_APPROVED_SQL = "SELECT payload FROM proposals WHERE state = 'approved' ORDER BY decided_at, id"


class StoreNotReady(Exception):
    """The database cannot serve the request yet; the message says how to fix that."""


@dataclass(frozen=True)
class PersonalFeed:
    """What a subscriber's own calendar shows: their filters, in their language."""

    selection: Selection
    language: str


@dataclass(frozen=True)
class RecordedFacts:
    """Facts the running service learned: recorded milestone dates, approved events."""

    milestone_dates: list[MilestoneDate] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def apply(self, dataset: Dataset) -> Dataset:
        """The dataset with these facts overriding the files."""
        return dataset.with_facts(self.milestone_dates, self.events)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory ones."""
    if not url.startswith("sqlite"):
        return None
    database = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(database) if database and database != ":memory:" else None


class Store:
    """Database access for a long-running process: one engine, opened once."""

    def __init__(self, engine: AsyncEngine) -> None:
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.engine import session_factory

        self.engine = engine
        # Opens a session on this store's engine; the one way other modules reach it.
        self.sessions = session_factory(engine)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect and check the schema; raises `StoreNotReady` with the fix."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.engine import create_engine
        from bot.db.migrate import current_revision

        engine = create_engine(url)
        try:
            revision = await current_revision(engine)
        except (OSError, ConnectionError) as exc:
            await engine.dispose()
            raise StoreNotReady(f"cannot reach the database: {exc}") from None
        if revision != SCHEMA_REVISION:
            await engine.dispose()
            raise StoreNotReady(
                f"the database is at revision {revision or 'none'}, this version needs "
                f"{SCHEMA_REVISION}; {MIGRATE_HINT}"
            )
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def recorded_facts(self) -> RecordedFacts:
        """Every fact recorded at run time, ready to apply to the dataset."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.facts import list_approved_events, list_milestone_dates

        async with self.sessions() as session:
            return RecordedFacts(
                milestone_dates=await list_milestone_dates(session),
                events=await list_approved_events(session),
            )

    async def deadline_versions(
        self, fingerprints: Mapping[str, str], now: dt.datetime
    ) -> dict[str, tuple[int, dt.datetime]]:
        """Each deadline's (sequence, last modified), raised where its fingerprint changed."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.facts import bump_deadline_version

        versions = {}
        async with self.sessions() as session, session.begin():
            for deadline_id, fingerprint in fingerprints.items():
                versions[deadline_id] = await bump_deadline_version(
                    session, deadline_id, fingerprint, now
                )
        return versions

    async def calendar_key_agrees(
        self, fingerprint: str, now: dt.datetime, *, record: bool = True
    ) -> bool:
        """Whether `fingerprint` is that of the calendar key in use. With `record`, the
        first one asked about is recorded as in use; without, none recorded agrees."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from sqlalchemy import select

        from bot.db.email import service_key
        from bot.db.models import ServiceKey
        from config.keys import FINGERPRINT_NAME

        kept: str | None
        async with self.sessions() as session, session.begin():
            if record:
                kept = await service_key(session, FINGERPRINT_NAME, lambda: fingerprint, now)
            else:
                kept = await session.scalar(
                    select(ServiceKey.value).where(ServiceKey.name == FINGERPRINT_NAME)
                )
        return kept in (fingerprint, None)

    async def forget_calendar_key(self) -> bool:
        """Forget the calendar key in use; True if one was recorded."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.email import forget_service_key
        from config.keys import FINGERPRINT_NAME

        async with self.sessions() as session, session.begin():
            return await forget_service_key(session, FINGERPRINT_NAME)

    async def forget_old_calendar_links(self) -> int:
        """Stop honouring the calendar tokens made before nonces; returns how many."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from sqlalchemy import update

        from bot.db.models import Subscriber

        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(Subscriber)
                .where(Subscriber.calendar_legacy_hash.is_not(None))
                .values(calendar_legacy_hash=None)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def personal_feed(self, token: str, key: bytes) -> PersonalFeed | None:
        """The filters and language behind a calendar token, or None if it is unknown."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.subscribers import find_subscriber_by_token, selection_of

        async with self.sessions() as session:
            subscriber = await find_subscriber_by_token(session, token, key)
            if subscriber is None:
                return None
            return PersonalFeed(selection=selection_of(subscriber), language=subscriber.language)

    async def recent_page_changes(
        self, since: dt.datetime
    ) -> list[tuple[int, str, str, str, dt.datetime]]:
        """Changes the watcher detected since `since`: id, source, url, summary, when."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from sqlalchemy import select

        from bot.db.models import SourceChange

        async with self.sessions() as session:
            rows = await session.execute(
                select(
                    SourceChange.id,
                    SourceChange.source_id,
                    SourceChange.url,
                    SourceChange.summary,
                    SourceChange.detected_at,
                ).where(SourceChange.detected_at >= since)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    async def record_milestone_date(
        self,
        *,
        country: str,
        cluster: int,
        milestone: str,
        date: dt.date,
        source: str,
        recorded_by: str | None,
        now: dt.datetime,
    ) -> None:
        """Store an actual milestone date (replacing an earlier one for the same step)."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db import facts

        async with self.sessions() as session, session.begin():
            await facts.record_milestone_date(
                session,
                country=country,
                cluster=cluster,
                milestone=milestone,
                date=date,
                source=source,
                recorded_by=recorded_by,
                now=now,
            )

    # The watcher's memory: `Store` is the `feeds.ledger.WatchLedger` of the service.

    async def source_states(self) -> dict[str, SourceState]:
        """The watcher's remembered state of every source it polled before."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.watch import load_source_states

        async with self.sessions() as session:
            return await load_source_states(session)

    async def previous_lines(self, source_id: str) -> tuple[str, ...] | None:
        """The normalised lines of a source's latest stored version."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.watch import latest_snapshot_lines

        async with self.sessions() as session:
            return await latest_snapshot_lines(session, source_id)

    async def approved_events(self) -> list[Event]:
        """Events operators approved from the watcher's proposals."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.facts import list_approved_events

        async with self.sessions() as session:
            return await list_approved_events(session)

    async def record_poll(self, record: PollRecord, now: dt.datetime) -> int:
        """Store one poll of one source in one transaction; returns the new proposals."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db import watch

        async with self.sessions() as session, session.begin():
            await watch.save_source_state(session, record.state)
            snapshot_id = None
            if record.snapshot is not None:
                snapshot_id = await watch.add_source_snapshot(session, record.snapshot)
            if record.change is not None:
                await watch.add_source_change(session, record.change, now)
            for notice in record.notices:
                await watch.enqueue_operator_notice(session, notice, now)
            new = 0
            for draft in record.proposals:
                new += await watch.add_proposal(session, draft, now, snapshot_id)
        return new

    async def proposals(self, state: str | None = None) -> list[Proposal]:
        """The watcher's proposals, newest first, all or those in one state."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.watch import list_proposals

        async with self.sessions() as session:
            return await list_proposals(session, state)

    async def decide_proposal(
        self, proposal_id: int, *, approve: bool, decided_by: str | None, now: dt.datetime
    ) -> Decided:
        """Approve or reject a proposal or report; a reporter is told (raises `ProposalError`)."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.reports import decide

        async with self.sessions() as session, session.begin():
            return await decide(
                session, proposal_id, approve=approve, decided_by=decided_by, now=now
            )

    async def approve_proposal(
        self, proposal_id: int, *, decided_by: str | None, now: dt.datetime
    ) -> Event | MilestoneDate:
        """Approve a proposal: its fact enters the timeline (raises `ProposalError`)."""
        decided = await self.decide_proposal(
            proposal_id, approve=True, decided_by=decided_by, now=now
        )
        assert decided.fact is not None
        return decided.fact

    async def reject_proposal(
        self, proposal_id: int, *, decided_by: str | None, now: dt.datetime
    ) -> None:
        """Reject a proposal; the same finding is not proposed again (raises `ProposalError`)."""
        await self.decide_proposal(proposal_id, approve=False, decided_by=decided_by, now=now)

    async def submit_report(
        self,
        report: Report,
        *,
        subscriber_id: int | None,
        now: dt.datetime,
        limits: ReportLimits | None = None,
    ) -> int:
        """Queue a report for the operators; raises `ReportRefused` (blocked, too many, twice)."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db import reports
        from feeds.reports import LIMITS, Problem, ReportRefused

        limits = limits or LIMITS
        async with self.sessions() as session, session.begin():
            if await reports.is_blocked(session, report.reporter):
                raise ReportRefused([Problem("blocked")])
            sent = await reports.reports_since(session, report.reporter, now - dt.timedelta(days=1))
            if sent >= limits.per_day:
                raise ReportRefused([Problem("too_many", {"limit": str(limits.per_day)})])
            proposal_id = await reports.add_report(session, report, subscriber_id, now)
        if proposal_id is None:
            raise ReportRefused([Problem("duplicate")])
        return proposal_id

    async def block_reporter_of(
        self, proposal_id: int, *, by: str | None, reason: str | None, now: dt.datetime
    ) -> str | None:
        """Block the reporter of a report; returns who (masked) or None for the watcher's."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db import reports
        from feeds.reports import mask

        async with self.sessions() as session, session.begin():
            reporter = await reports.reporter_of(session, proposal_id)
            if reporter is None:
                return None
            await reports.block_reporter(session, reporter, by=by, reason=reason, now=now)
        return mask(reporter)

    async def evidence(self, proposal_id: int) -> Evidence | None:
        """What a proposal or report rests on, as its public page shows it."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.evidence import evidence

        async with self.sessions() as session:
            return await evidence(session, proposal_id)

    async def page_change(self, change_id: int) -> ChangeView | None:
        """A watched page's change with the versions before and after."""
        # imported when first used: the CLI's fast path must not load SQLAlchemy
        from bot.db.evidence import page_change

        async with self.sessions() as session:
            return await page_change(session, change_id)


def read_sqlite_facts(path: Path) -> RecordedFacts:
    """Recorded facts from a migrated SQLite file, read-only, without SQLAlchemy."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        try:
            (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except (sqlite3.OperationalError, TypeError):
            revision = None
        if revision != SCHEMA_REVISION:
            raise StoreNotReady(f"the database is not migrated; {MIGRATE_HINT}")
        dates = [
            MilestoneDate(
                country=country,
                cluster=cluster,
                milestone=milestone,
                date=dt.date.fromisoformat(day),
                source=source,
                confidence=confidence or RECORDED_CONFIDENCE,
            )
            for country, cluster, milestone, day, source, confidence in connection.execute(
                _DATES_SQL
            )
        ]
        payloads = (payload for (payload,) in connection.execute(_APPROVED_SQL))
        return RecordedFacts(milestone_dates=dates, events=latest_approved_events(payloads))


async def read_recorded_facts(url: str) -> tuple[RecordedFacts, str | None]:
    """Facts recorded at run time, or none and a note saying why they are missing."""
    path = sqlite_path(url)
    missing = "recorded dates and approved events are not shown"
    try:
        if path is not None:
            if not path.exists():
                return RecordedFacts(), f"no database yet at {path}; {missing}; {MIGRATE_HINT}"
            return read_sqlite_facts(path), None
        store = await Store.open(url)
        try:
            return await store.recorded_facts(), None
        finally:
            await store.close()
    except StoreNotReady as exc:
        return RecordedFacts(), f"{exc}; {missing}"
    except sqlite3.Error as exc:
        return RecordedFacts(), f"cannot read the database at {path} ({exc}); {missing}"


async def record_milestone_date(
    url: str,
    *,
    country: str,
    cluster: int,
    milestone: str,
    date: dt.date,
    source: str,
    recorded_by: str | None,
    now: dt.datetime,
) -> None:
    """Open the database at `url`, record one actual date, close it."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise StoreNotReady(f"no database yet at {path}; {MIGRATE_HINT}")
    store = await Store.open(url)
    try:
        await store.record_milestone_date(
            country=country,
            cluster=cluster,
            milestone=milestone,
            date=date,
            source=source,
            recorded_by=recorded_by,
            now=now,
        )
    finally:
        await store.close()


async def database_status(url: str) -> str:
    """One line on the database: missing, unreachable, behind, or OK."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return f"not created yet ({path}); {MIGRATE_HINT}"
    try:
        store = await Store.open(url)
    except StoreNotReady as exc:
        return str(exc)
    await store.close()
    return f"OK (revision {SCHEMA_REVISION})"
