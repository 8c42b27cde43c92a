"""The facts the timeline is built from: recorded milestone dates, approved events, versions.

What operators record (`untoc-watch record`, `/record`) and approve (the watcher's
proposals) overrides the dataset; the stored version of each deadline gives calendars
their SEQUENCE. The functions take `now` from the caller and never commit: the caller
owns the clock and the transaction, so a job can group several writes and a test can fix
the time. Writes that must not race (a second worker, a retried job) are single upserts
on a unique key.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.approved import latest_approved_events
from bot.db.models import Base, DeadlineVersion, MilestoneDateRecord, Proposal
from config.dataset import Event, MilestoneDate

RECORDED_CONFIDENCE = "confirmed"


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
    confidence: str = RECORDED_CONFIDENCE,
    proposal_id: int | None = None,
) -> MilestoneDate:
    """Record the actual date of a review step, replacing any date recorded for it before.

    The values are validated as the dataset's `MilestoneDate` first, so whatever is stored
    reads back as a valid fact. An operator's own word is `confirmed`; an approved report
    is `reported`, and keeps the proposal whose evidence it rests on.
    """
    fact = MilestoneDate.model_validate(
        {
            "country": country,
            "cluster": cluster,
            "milestone": milestone,
            "date": date,
            "source": source,
            "confidence": confidence,
        }
    )
    values = {
        "country": fact.country,
        "cluster": fact.cluster,
        "milestone": fact.milestone,
        "date": fact.date,
        "source": fact.source,
        "recorded_by": recorded_by,
        "recorded_at": now,
        "confidence": fact.confidence,
        "proposal_id": proposal_id,
    }
    upsert = _insert(session, MilestoneDateRecord).values(values)
    replaced = ("date", "source", "recorded_by", "recorded_at", "confidence", "proposal_id")
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=("country", "cluster", "milestone"),
            set_={name: upsert.excluded[name] for name in replaced},
        )
    )
    return fact


async def list_milestone_dates(session: AsyncSession) -> list[MilestoneDate]:
    """Every recorded date as a dataset fact, ready for `Dataset.with_facts`."""
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
            confidence=row.confidence or RECORDED_CONFIDENCE,
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


async def list_approved_events(session: AsyncSession) -> list[Event]:
    """Events from approved proposals, the latest approval winning for each event id."""
    rows = await session.execute(
        select(Proposal.payload)
        .where(Proposal.state == "approved")
        .order_by(Proposal.decided_at, Proposal.id)
    )
    return latest_approved_events(payload for (payload,) in rows)


def _insert(session: AsyncSession, entity: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT; both databases spell it alike, each in its dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(entity)
    if name == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"no upsert for {name}; use SQLite or PostgreSQL")
