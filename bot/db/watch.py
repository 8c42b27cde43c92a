"""The watcher's memory: per-source state, versions, changes, operator notices, proposals.

`bot.db.store.Store` writes one poll of one source through these functions in one
transaction. They take `now` from the caller and never commit. Rows that must exist once
(an operator notice per episode, a proposal per finding) are inserted on their unique
key, so a retried poll or a second worker adds nothing.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from bot.db.models import Base, Proposal, SourceSnapshot, SourceStateRecord
from config.dataset import Event
from feeds.ledger import SourceState

if TYPE_CHECKING:
    from feeds.ledger import OperatorNotice, PageChange, Snapshot
    from feeds.proposals import ProposalDraft


class ProposalError(Exception):
    """A proposal cannot be decided as asked; the message says why and what to do."""


async def load_source_states(session: AsyncSession) -> dict[str, SourceState]:
    """The watcher's remembered state of every source it polled before."""
    rows = await session.scalars(select(SourceStateRecord))
    return {
        row.source_id: SourceState(
            source_id=row.source_id,
            etag=row.etag,
            last_modified=row.last_modified,
            content_hash=row.content_hash,
            recent_hashes=tuple(row.recent_hashes or ()),
            config_hash=row.config_hash,
            consecutive_failures=row.consecutive_failures,
            failing_since=row.failing_since,
            failure_notified=row.failure_notified,
            selector_missing_since=row.selector_missing_since,
            selector_notified=row.selector_notified,
            backoff_until=row.backoff_until,
            next_poll_at=row.next_poll_at,
            last_polled_at=row.last_polled_at,
            last_success_at=row.last_success_at,
            last_changed_at=row.last_changed_at,
            last_status=row.last_status,
            last_error=row.last_error,
            health=row.health,
        )
        for row in rows
    }


async def save_source_state(session: AsyncSession, state: SourceState) -> None:
    """Store a source's state, replacing the one stored before."""
    values = {
        "source_id": state.source_id,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "content_hash": state.content_hash,
        "recent_hashes": list(state.recent_hashes),
        "config_hash": state.config_hash,
        "consecutive_failures": state.consecutive_failures,
        "failing_since": state.failing_since,
        "failure_notified": state.failure_notified,
        "selector_missing_since": state.selector_missing_since,
        "selector_notified": state.selector_notified,
        "backoff_until": state.backoff_until,
        "next_poll_at": state.next_poll_at,
        "last_polled_at": state.last_polled_at,
        "last_success_at": state.last_success_at,
        "last_changed_at": state.last_changed_at,
        "last_status": state.last_status,
        "last_error": state.last_error,
        "health": state.health,
    }
    await session.execute(_state_upsert(_dialect(session)), values)


async def add_source_snapshot(session: AsyncSession, snapshot: Snapshot) -> int:
    """Store a new version of a source's normalised content; returns its id."""
    table = Base.metadata.tables["source_snapshots"]
    result = await session.execute(
        insert(table).returning(table.c.id),
        {
            "source_id": snapshot.source_id,
            "fetched_at": snapshot.fetched_at,
            "status_code": snapshot.status_code,
            "etag": snapshot.etag,
            "last_modified": snapshot.last_modified,
            "content_hash": snapshot.content_hash,
            "content": "\n".join(snapshot.lines),
        },
    )
    return int(result.scalar_one())


async def latest_snapshot_lines(session: AsyncSession, source_id: str) -> tuple[str, ...] | None:
    """The normalised lines of a source's latest stored version, if any."""
    content = await session.scalar(
        select(SourceSnapshot.content)
        .where(SourceSnapshot.source_id == source_id, SourceSnapshot.content.is_not(None))
        .order_by(SourceSnapshot.fetched_at.desc(), SourceSnapshot.id.desc())
        .limit(1)
    )
    return None if content is None else tuple(content.split("\n")) if content else ()


async def add_source_change(session: AsyncSession, change: PageChange, now: dt.datetime) -> None:
    """Record a real change of a watched page, for the change alerts to come."""
    await session.execute(
        insert(Base.metadata.tables["source_changes"]),
        {
            "source_id": change.source_id,
            "detected_at": now,
            "url": change.url,
            "summary": change.summary,
            "old_hash": change.old_hash,
            "new_hash": change.new_hash,
        },
    )


async def enqueue_operator_notice(
    session: AsyncSession, notice: OperatorNotice, now: dt.datetime
) -> bool:
    """Put a message for the operators in the outbox, once per key; True if it is new."""
    values = {
        "key": notice.key,
        "subscriber_id": None,
        "kind": notice.kind,
        "deadline_id": None,
        "payload": {"message": notice.message, "source_id": notice.source_id, "url": notice.url},
        "due_at": now,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    result = await session.execute(_insert_new(_dialect(session), "deliveries"), values)
    return result.first() is not None


async def add_proposal(
    session: AsyncSession,
    draft: ProposalDraft,
    now: dt.datetime,
    snapshot_id: int | None = None,
) -> bool:
    """Store a proposal unless the same finding was proposed before; True if it is new.

    `snapshot_id` is the stored version of the page the finding was read on: its evidence.
    """
    values = {
        "source_id": draft.source_id,
        "kind": draft.kind,
        "payload": draft.payload(),
        "excerpt": draft.excerpt,
        "url": draft.url,
        "confidence": draft.event.confidence,
        "state": "pending",
        "target_id": draft.target_id,
        "created_at": now,
        "decided_at": None,
        "decided_by": None,
        "key": draft.key,
        "summary": draft.summary,
        "certainty": draft.certainty,
        "origin": "watcher",
        "snapshot_id": snapshot_id,
    }
    result = await session.execute(_insert_new(_dialect(session), "proposals"), values)
    return result.first() is not None


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


@cache
def _state_upsert(dialect: str) -> postgresql.Insert | sqlite.Insert:
    """The upsert of a source's state, built once: the watcher runs it for every poll."""
    table = Base.metadata.tables["source_states"]
    upsert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    replaced = {c.name: upsert.excluded[c.name] for c in table.columns if c.name != "source_id"}
    return upsert.on_conflict_do_update(index_elements=["source_id"], set_=replaced)


@cache
def _insert_new(dialect: str, table_name: str) -> ReturningInsert[tuple[int]]:
    """INSERT ... ON CONFLICT (key) DO NOTHING RETURNING id: a row once per unique key."""
    table = Base.metadata.tables[table_name]
    insert_row = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert_row.on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)


async def list_proposals(session: AsyncSession, state: str | None = None) -> list[Proposal]:
    """Proposals, newest first, all or only those in `state` (pending, approved, rejected)."""
    query = select(Proposal).order_by(Proposal.created_at.desc(), Proposal.id.desc())
    if state is not None:
        query = query.where(Proposal.state == state)
    return list(await session.scalars(query))


async def approve_proposal(
    session: AsyncSession, proposal_id: int, *, decided_by: str | None, now: dt.datetime
) -> Event:
    """Approve a pending proposal; returns the event that now enters the timeline.

    Raises `ProposalError` for an unknown id, a decided proposal, or a payload that is not
    a valid event (then nothing changes).
    """
    proposal = await _pending(session, proposal_id)
    try:
        event = Event.model_validate(proposal.payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'event'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ProposalError(
            f"proposal {proposal_id} does not describe a valid event ({problems}); reject it, "
            "and record the fact in a dataset file instead"
        ) from None
    await _decide(session, proposal, "approved", decided_by, now)
    return event


async def reject_proposal(
    session: AsyncSession, proposal_id: int, *, decided_by: str | None, now: dt.datetime
) -> None:
    """Reject a pending proposal; the same finding will not be proposed again."""
    proposal = await _pending(session, proposal_id)
    await _decide(session, proposal, "rejected", decided_by, now)


async def _pending(session: AsyncSession, proposal_id: int) -> Proposal:
    proposal = await session.get(Proposal, proposal_id)
    if proposal is None:
        raise ProposalError(
            f"there is no proposal {proposal_id}; `untoc-watch proposals list` shows them"
        )
    if proposal.state != "pending":
        when = f" on {proposal.decided_at:%Y-%m-%d %H:%M} UTC" if proposal.decided_at else ""
        who = f" by {proposal.decided_by}" if proposal.decided_by else ""
        raise ProposalError(f"proposal {proposal_id} was already {proposal.state}{when}{who}")
    return proposal


async def _decide(
    session: AsyncSession,
    proposal: Proposal,
    state: str,
    decided_by: str | None,
    now: dt.datetime,
) -> None:
    """Decide in one statement, so that two operators cannot both decide the same proposal."""
    decided = await session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.state == "pending")
        .values(state=state, decided_at=now, decided_by=decided_by)
        .returning(Proposal.id)
        .execution_options(synchronize_session=False)
    )
    if decided.first() is None:
        raise ProposalError(f"proposal {proposal.id} was decided by someone else just now")
    await session.refresh(proposal)
