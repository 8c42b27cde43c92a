"""The outbox: one `deliveries` row per alert per target, unique by key.

Planning inserts rows and ignores keys already there, so a re-run, a restart or a second
worker never adds an alert twice. Workers claim due rows with `FOR UPDATE SKIP LOCKED`
(on SQLite the single writer serialises claims); a claimed row is `sending` under a lease,
and a row whose lease ran out (its worker died mid-send) is claimed again. That is the
only way a message can repeat: at most the rows that were in flight.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, cast, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Delivery, Subscriber
from schedulers.reminders import Planned

LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 8
BASE_BACKOFF = dt.timedelta(seconds=5)
MAX_BACKOFF = dt.timedelta(hours=1)
INSERT_CHUNK = 500
RECOVERABLE = ("pending", "failed", "sending")
SUPERSEDED_KINDS = ("reminder", "last_call", "overdue")


@dataclass(frozen=True)
class OutboxStatus:
    """What `untoc-watch deliveries` and the metrics show."""

    counts: dict[str, int]
    oldest_pending: dt.datetime | None
    last_errors: list[tuple[str, str, str | None]]


def backoff(
    attempts: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base: dt.timedelta = BASE_BACKOFF,
) -> dt.timedelta:
    """Exponential backoff with jitter, never shorter than the service asked for."""
    ceiling = min(MAX_BACKOFF, base * (2 ** max(attempts - 1, 0)))
    delay = dt.timedelta(seconds=(rng or random).uniform(0.5, 1.0) * ceiling.total_seconds())
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return delay


def _insert(session: AsyncSession) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Delivery)
    return sqlite.insert(Delivery)


def new_row(
    key: str,
    kind: str,
    payload: Mapping[str, object],
    due: dt.datetime,
    now: dt.datetime,
    *,
    subscriber_id: int | None = None,
    deadline_id: str | None = None,
) -> dict[str, object]:
    """An outbox row, pending and due at `due`, as `insert_rows` takes it."""
    return {
        "key": key,
        "subscriber_id": subscriber_id,
        "kind": kind,
        "deadline_id": deadline_id,
        "payload": dict(payload),
        "due_at": due,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": due,
        "created_at": now,
    }


async def enqueue(session: AsyncSession, planned: Iterable[Planned], now: dt.datetime) -> int:
    """Insert planned alerts; keys already in the outbox are left alone. Returns new rows."""
    rows = [
        new_row(
            item.key,
            item.kind,
            item.payload,
            item.at,
            now,
            subscriber_id=item.subscriber_id,
            deadline_id=item.deadline_id,
        )
        for item in planned
    ]
    return await insert_rows(session, rows)


async def insert_rows(session: AsyncSession, rows: Sequence[Mapping[str, object]]) -> int:
    """Insert outbox rows, ignoring keys already present; returns how many were new.

    One statement, executed for many parameter sets: SQLAlchemy batches them into
    multi-row INSERTs compiled once, and RETURNING counts the rows that were new.
    """
    if not rows:
        return 0
    statement = (
        _insert(session)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Delivery.__table__.c.id)
    )
    inserted = 0
    connection = await session.connection()
    for start in range(0, len(rows), INSERT_CHUNK):
        result = await connection.execute(statement, list(rows[start : start + INSERT_CHUNK]))
        inserted += len(result.all())
    return inserted


async def drop_superseded(
    session: AsyncSession,
    fingerprints: Mapping[str, str],
    acknowledged: Mapping[int, set[str]],
) -> int:
    """Delete pending reminders planned for a date that moved, a deadline that is gone,
    or one the subscriber marked done."""
    rows = await session.execute(
        select(Delivery.id, Delivery.subscriber_id, Delivery.deadline_id, Delivery.payload).where(
            Delivery.state.in_(("pending", "failed")), Delivery.kind.in_(SUPERSEDED_KINDS)
        )
    )
    stale = [
        row_id
        for row_id, subscriber_id, deadline_id, payload in rows
        if deadline_id not in fingerprints
        or payload.get("fingerprint") != fingerprints[deadline_id]
        or deadline_id in acknowledged.get(subscriber_id or 0, set())
    ]
    for start in range(0, len(stale), INSERT_CHUNK):
        await session.execute(
            delete(Delivery).where(Delivery.id.in_(stale[start : start + INSERT_CHUNK]))
        )
    return len(stale)


async def claim(
    session: AsyncSession,
    limit: int,
    now: dt.datetime,
    lease: dt.timedelta = LEASE,
    *,
    part: tuple[int, int] | None = None,
) -> list[Delivery]:
    """Take up to `limit` due rows for this worker, under a lease; others skip them.

    One statement, so two claimers can never take the same row: PostgreSQL skips rows
    another transaction has locked, and SQLite runs the statement as one write. With
    `part` (rank, workers; PostgreSQL only, the one database several workers share),
    only rows to the addresses of that share of them: each chat is sent to by one
    worker, whose spacing then holds for it.
    """
    due = Delivery.state.in_(RECOVERABLE) & (Delivery.next_attempt_at <= now)
    if part is not None:
        rank, workers = part
        address = (
            select(Subscriber.address)
            .where(Subscriber.id == Delivery.subscriber_id)
            .scalar_subquery()
        )
        bucket = func.mod(
            cast(func.hashtext(func.coalesce(address, "")), BigInteger) + 2**31, workers
        )
        due = due & (bucket == rank)
    chosen = (
        select(Delivery.id)
        .where(due)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = await session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(chosen), due)
        .values(state="sending", attempts=Delivery.attempts + 1, next_attempt_at=now + lease)
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed, key=lambda row: (row.due_at, row.id))


async def reclaim_all(session: AsyncSession, now: dt.datetime) -> int:
    """Make every `sending` row due now: for a lone worker starting, whose previous run
    died with them in flight (no other worker can hold them)."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.state == "sending")
        .values(state="failed", next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_sent_many(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> None:
    """Record several rows as sent in one statement."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(ids)))
        .values(state="sent", sent_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )


async def mark_sent(session: AsyncSession, delivery_id: int, now: dt.datetime) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(state="sent", sent_at=now, last_error=None)
    )


async def retry_later(
    session: AsyncSession,
    delivery_id: int,
    error: str,
    at: dt.datetime,
    *,
    count_attempt: bool = True,
) -> None:
    """Back to the queue at `at`; an attempt that did not reach the service is not counted."""
    values: dict[str, object] = {
        "state": "failed",
        "next_attempt_at": at,
        "last_error": error[:1000],
    }
    if not count_attempt:
        values["attempts"] = Delivery.attempts - 1
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


async def postpone(session: AsyncSession, rows: Sequence[tuple[int, int, dt.datetime]]) -> None:
    """Claimed rows back to the queue untried, each (id, attempts before the claim, when
    it is due again): their targets cannot take them sooner. One statement for all."""
    await session.execute(
        update(Delivery).execution_options(synchronize_session=False),
        [
            {"id": row_id, "state": "pending", "attempts": attempts, "next_attempt_at": at}
            for row_id, attempts, at in rows
        ],
    )


async def give_up(session: AsyncSession, delivery_id: int, error: str, now: dt.datetime) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(state="dead", last_error=error[:1000], next_attempt_at=now)
    )


async def discard(session: AsyncSession, delivery_id: int) -> None:
    """Remove an alert that no longer applies (the deadline passed, moved or was done)."""
    await session.execute(delete(Delivery).where(Delivery.id == delivery_id))


async def status(session: AsyncSession) -> OutboxStatus:
    counts = dict(
        (await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
    )
    oldest = await session.scalar(
        select(func.min(Delivery.due_at)).where(
            Delivery.state.in_(("pending", "failed", "sending"))
        )
    )
    errors = await session.execute(
        select(Delivery.key, Delivery.state, Delivery.last_error)
        .where(Delivery.last_error.is_not(None))
        .order_by(Delivery.next_attempt_at.desc())
        .limit(5)
    )
    return OutboxStatus(
        counts={str(k): int(v) for k, v in counts.items()},
        oldest_pending=oldest,
        last_errors=[(k, s, e) for k, s, e in errors],
    )


async def housekeeping(session: AsyncSession, now: dt.datetime) -> int:
    """Forget sent alerts after 60 days and dead ones after 180."""
    result = await session.execute(
        delete(Delivery).where(
            or_(
                (Delivery.state == "sent") & (Delivery.sent_at < now - dt.timedelta(days=60)),
                (Delivery.state == "dead")
                & (Delivery.next_attempt_at < now - dt.timedelta(days=180)),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
