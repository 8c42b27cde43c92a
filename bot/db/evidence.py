"""What a fact rests on, read back for its public page: the proposal, the page as read.

A watcher's proposal keeps the stored version of the page it was read on (older ones
fall back to the version stored last before the proposal); a change keeps the hashes of
the versions before and after. The reporter of a report is never read here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Proposal, SourceChange, SourceSnapshot


@dataclass(frozen=True)
class Evidence:
    """A proposal as the public may see it: what it says and what it rests on."""

    id: int
    origin: str
    kind: str
    state: str
    summary: str | None
    excerpt: str | None
    url: str | None
    source_id: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str | None
    page: tuple[str, ...] | None
    page_read_at: dt.datetime | None


@dataclass(frozen=True)
class ChangeView:
    """A page change: the page, when, and the lines of the versions before and after."""

    id: int
    source_id: str
    url: str
    summary: str
    detected_at: dt.datetime
    before: tuple[str, ...]
    after: tuple[str, ...]


async def _snapshot(
    session: AsyncSession, source_id: str, content_hash: str | None, before: dt.datetime
) -> SourceSnapshot | None:
    query = select(SourceSnapshot).where(
        SourceSnapshot.source_id == source_id,
        SourceSnapshot.content.is_not(None),
        SourceSnapshot.fetched_at <= before,
    )
    if content_hash is not None:
        query = query.where(SourceSnapshot.content_hash == content_hash)
    found = await session.scalars(
        query.order_by(SourceSnapshot.fetched_at.desc(), SourceSnapshot.id.desc()).limit(1)
    )
    return found.first()


def _lines(snapshot: SourceSnapshot | None) -> tuple[str, ...]:
    return tuple(snapshot.content.split("\n")) if snapshot and snapshot.content else ()


async def evidence(session: AsyncSession, proposal_id: int) -> Evidence | None:
    """The evidence behind proposal `proposal_id`, or None if there is none such."""
    proposal = await session.get(Proposal, proposal_id)
    if proposal is None:
        return None
    snapshot = None
    if proposal.snapshot_id is not None:
        snapshot = await session.get(SourceSnapshot, proposal.snapshot_id)
    elif proposal.source_id is not None:
        snapshot = await _snapshot(session, proposal.source_id, None, proposal.created_at)
    return Evidence(
        id=proposal.id,
        origin=proposal.origin or "watcher",
        kind=proposal.kind,
        state=proposal.state,
        summary=proposal.summary,
        excerpt=proposal.excerpt,
        url=proposal.url,
        source_id=proposal.source_id,
        created_at=proposal.created_at,
        decided_at=proposal.decided_at,
        decided_by=proposal.decided_by,
        page=_lines(snapshot) if snapshot is not None else None,
        page_read_at=snapshot.fetched_at if snapshot is not None else None,
    )


async def page_change(session: AsyncSession, change_id: int) -> ChangeView | None:
    """A recorded change with the versions before and after it, or None."""
    change = await session.get(SourceChange, change_id)
    if change is None:
        return None
    later = change.detected_at + dt.timedelta(minutes=1)
    after = await _snapshot(session, change.source_id, change.new_hash, later)
    before = None
    if change.old_hash is not None:
        before = await _snapshot(session, change.source_id, change.old_hash, later)
    return ChangeView(
        id=change.id,
        source_id=change.source_id,
        url=change.url,
        summary=change.summary,
        detected_at=change.detected_at,
        before=_lines(before),
        after=_lines(after),
    )
