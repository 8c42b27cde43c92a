"""What operators measure, read from the database: the outbox, subscribers, sources, the leader.

Several web and worker processes share one database, so the database is the one place
that knows the whole truth; the web app's `/readyz` and `/metrics` read it here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import ADVISORY_LOCK
from bot.db.models import Delivery, SourceStateRecord, Subscriber

WAITING = ("pending", "failed", "sending")


@dataclass(frozen=True)
class Counts:
    """The figures `/metrics` exposes, as rows."""

    by_state: list[tuple[str, str, int]]  # channel ("operator" for notices), state, rows
    oldest_waiting: dt.datetime | None  # the earliest due moment of a row not yet sent
    active: list[tuple[str, int]]  # channel, active subscribers
    sources: list[tuple[str, int, dt.datetime | None]]  # source, failures in a row, last success


async def oldest_overdue(session: AsyncSession, now: dt.datetime) -> dt.datetime | None:
    """The earliest next attempt of a row that should have gone out by `now` (a ping too)."""
    await session.execute(text("SELECT 1"))
    oldest: dt.datetime | None = await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now
        )
    )
    return oldest


async def counts(session: AsyncSession) -> Counts:
    """Outbox rows by channel and state, subscribers by channel, and each source's health."""
    by_state = (
        await session.execute(
            select(func.coalesce(Subscriber.channel, "operator"), Delivery.state, func.count())
            .select_from(Delivery)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id, isouter=True)
            .group_by(Subscriber.channel, Delivery.state)
        )
    ).all()
    oldest = await session.scalar(
        select(func.min(Delivery.due_at)).where(Delivery.state.in_(WAITING))
    )
    active = (
        await session.execute(
            select(Subscriber.channel, func.count())
            .where(Subscriber.active)
            .group_by(Subscriber.channel)
        )
    ).all()
    sources = (
        await session.execute(
            select(
                SourceStateRecord.source_id,
                SourceStateRecord.consecutive_failures,
                SourceStateRecord.last_success_at,
            )
        )
    ).all()
    return Counts(
        by_state=[(str(c), str(s), int(n)) for c, s, n in by_state],
        oldest_waiting=oldest,
        active=[(str(c), int(n)) for c, n in active],
        sources=[(str(i), int(f), at) for i, f, at in sources],
    )


async def leader_known(engine: AsyncEngine) -> bool | None:
    """Whether some worker holds leadership (None on SQLite, where the worker leads)."""
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        held = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :key"
                # advisory locks are per database: another service on this server is not ours
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": ADVISORY_LOCK},
        )
    return bool(held)
