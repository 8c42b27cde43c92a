"""Typed reads and writes over an `AsyncSession`, one function per thing the service asks.

The functions take `now` from the caller and never commit: the caller owns the clock and
the transaction, so a job can group several writes and a test can fix the time. Writes
that must not race (a second worker, a retried job) are single upserts on a unique key.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Base, DeadlineVersion, MilestoneDateRecord, Subscriber
from config.dataset import MilestoneDate

RECORDED_CONFIDENCE = "confirmed"
CALENDAR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


async def record_milestone_date(
    session: AsyncSession,
    *,
    country: str,
    cluster: int,
    milestone: str,
    date: dt.date,
    source: str,
    recorded_by: str | None,
    now: dt.datetime,
) -> None:
    """Record the actual date of a review step, replacing any date recorded for it before.

    The values are validated as the dataset's `MilestoneDate` first, so whatever is stored
    reads back as a valid fact.
    """
    fact = MilestoneDate(
        country=country,
        cluster=cluster,
        milestone=milestone,
        date=date,
        source=source,
        confidence=RECORDED_CONFIDENCE,
    )
    values = {
        "country": fact.country,
        "cluster": fact.cluster,
        "milestone": fact.milestone,
        "date": fact.date,
        "source": fact.source,
        "recorded_by": recorded_by,
        "recorded_at": now,
    }
    upsert = _insert(session, MilestoneDateRecord).values(values)
    replaced = ("date", "source", "recorded_by", "recorded_at")
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=("country", "cluster", "milestone"),
            set_={name: upsert.excluded[name] for name in replaced},
        )
    )


async def list_milestone_dates(session: AsyncSession) -> list[MilestoneDate]:
    """Every recorded date as a confirmed dataset fact, ready for `Dataset.with_facts`."""
    rows = await session.scalars(
        select(MilestoneDateRecord).order_by(
            MilestoneDateRecord.country, MilestoneDateRecord.cluster, MilestoneDateRecord.milestone
        )
    )
    return [
        MilestoneDate(
            country=row.country,
            cluster=row.cluster,
            milestone=row.milestone,
            date=row.date,
            source=row.source,
            confidence=RECORDED_CONFIDENCE,
        )
        for row in rows
    ]


async def bump_deadline_version(
    session: AsyncSession, deadline_id: str, fingerprint: str, now: dt.datetime
) -> tuple[int, dt.datetime]:
    """The iCal SEQUENCE and LAST-MODIFIED for a deadline whose dates hash to `fingerprint`.

    A new deadline starts at 0; the sequence rises by one, and the time moves to `now`,
    only when the fingerprint differs from the one stored, so regenerating a feed
    without a change keeps calendars from seeing an update.
    """
    values = {
        "deadline_id": deadline_id,
        "fingerprint": fingerprint,
        "sequence": 0,
        "modified_at": now,
    }
    # One statement, so two writers cannot both read the old fingerprint and bump twice:
    # the update only happens (and only returns a row) when the fingerprint changed.
    upsert = _insert(session, DeadlineVersion).values(values)
    changed = (
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[DeadlineVersion.deadline_id],
                set_={
                    "fingerprint": upsert.excluded.fingerprint,
                    "sequence": DeadlineVersion.sequence + 1,
                    "modified_at": upsert.excluded.modified_at,
                },
                where=DeadlineVersion.fingerprint != upsert.excluded.fingerprint,
            ).returning(DeadlineVersion.sequence, DeadlineVersion.modified_at)
        )
    ).one_or_none()
    if changed is None:
        changed = (
            await session.execute(
                select(DeadlineVersion.sequence, DeadlineVersion.modified_at).where(
                    DeadlineVersion.deadline_id == deadline_id
                )
            )
        ).one()
    sequence, modified_at = changed
    return sequence, modified_at


async def find_subscriber_by_token(session: AsyncSession, token: str) -> Subscriber | None:
    """The active subscriber whose personal calendar token is `token`, with its filters."""
    if not CALENDAR_TOKEN.match(token):
        return None  # not one of ours: no query, and nothing to learn from timing
    found = await session.scalar(
        select(Subscriber).where(Subscriber.calendar_token == token, Subscriber.active)
    )
    # The index found the row; compare in constant time before trusting it.
    if found is None or not secrets.compare_digest(found.calendar_token, token):
        return None
    return found


def new_calendar_token() -> str:
    """A long, random, URL-safe token (256 bits) for a personal calendar feed."""
    return secrets.token_urlsafe(32)


def _insert(session: AsyncSession, entity: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT; both databases spell it alike, each in its dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(entity)
    if name == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"no upsert for {name}; use SQLite or PostgreSQL")
