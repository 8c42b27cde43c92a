"""Reports from subscribers in the moderation queue, their decisions, and the questions.

A report is a `Proposal` row (origin telegram, slack, web or question) next to the
watcher's; `bot.db.watch` decides events, this module decides reports of review steps
and tells the reporter the outcome through the outbox (one row per report, its key the
proposal's). The functions take `now` from the caller and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import watch
from bot.db.facts import record_milestone_date
from bot.db.models import BlockedReporter, Proposal, ReportQuestion, SourceSnapshot
from bot.db.outbox import insert_rows, new_row
from config.dataset import Event, MilestoneDate
from feeds.reports import Report
from schedulers.questions import Asked
from schedulers.reminders import Planned

REPORT_OUTCOME = "report"
QUOTE_MAX = 200
REPORT_CONFIDENCE = "reported"


@dataclass(frozen=True)
class Decided:
    """What a decision did: the fact that entered the timeline (None when rejected)."""

    proposal_id: int
    approved: bool
    fact: Event | MilestoneDate | None
    origin: str
    told_reporter: bool


async def add_report(
    session: AsyncSession, report: Report, subscriber_id: int | None, now: dt.datetime
) -> int | None:
    """Queue a checked report for an operator; its id, or None if it was sent before."""
    values = {
        "source_id": None,
        "kind": report.kind,
        "payload": report.payload(),
        "excerpt": report.words or None,
        "url": report.url,
        "confidence": REPORT_CONFIDENCE,
        "state": "pending",
        "target_id": report.target_id,
        "created_at": now,
        "decided_at": None,
        "decided_by": None,
        "key": report.key,
        "summary": report.summary,
        "certainty": None,
        "origin": report.origin,
        "reporter": report.reporter,
        "reporter_subscriber_id": subscriber_id,
        "language": report.language,
        "snapshot_id": None,
    }
    result = await session.execute(watch._insert_new(watch._dialect(session), "proposals"), values)
    new_id = result.scalar()  # the id RETURNING gave, or None on a conflict
    return None if new_id is None else cast(int, new_id)


async def reports_since(session: AsyncSession, reporter: str, since: dt.datetime) -> int:
    """How many reports `reporter` sent since `since` (the daily limit counts these)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Proposal)
        .where(Proposal.reporter == reporter, Proposal.created_at >= since)
    )
    return int(count or 0)


async def is_blocked(session: AsyncSession, reporter: str) -> bool:
    return await session.get(BlockedReporter, reporter) is not None


async def block_reporter(
    session: AsyncSession, reporter: str, *, by: str | None, reason: str | None, now: dt.datetime
) -> None:
    """Refuse this reporter's reports from now on (blocking twice keeps the first)."""
    if await session.get(BlockedReporter, reporter) is None:
        session.add(
            BlockedReporter(reporter=reporter, blocked_at=now, blocked_by=by, reason=reason)
        )
        await session.flush()


async def reporter_of(session: AsyncSession, proposal_id: int) -> str | None:
    """The channel identity behind a report, for an operator to block it."""
    proposal = await session.get(Proposal, proposal_id)
    if proposal is None:
        raise watch.ProposalError(f"there is no proposal {proposal_id}")
    return proposal.reporter


async def decide(
    session: AsyncSession,
    proposal_id: int,
    *,
    approve: bool,
    decided_by: str | None,
    now: dt.datetime,
) -> Decided:
    """Approve or reject any proposal; a report's reporter is told, in the outbox.

    Raises `ProposalError` (nothing changes) for an unknown id, a decided proposal or a
    payload that is no longer a valid fact.
    """
    proposal = await watch._pending(session, proposal_id)
    fact: Event | MilestoneDate | None = None
    if not approve:
        await watch.reject_proposal(session, proposal_id, decided_by=decided_by, now=now)
    elif proposal.kind == "milestone":
        fact = await _approve_step(session, proposal, decided_by, now)
    else:
        await _cite(session, proposal, now)
        fact = await watch.approve_proposal(session, proposal_id, decided_by=decided_by, now=now)
    told = False
    if proposal.reporter_subscriber_id is not None:
        row = new_row(
            f"s{proposal.reporter_subscriber_id}|report|{proposal.id}",
            REPORT_OUTCOME,
            {
                "proposal_id": proposal.id,
                "approved": approve,
                "target": proposal.target_id,
                "date": _reported_day(proposal),
            },
            now,
            now,
            subscriber_id=proposal.reporter_subscriber_id,
            deadline_id=proposal.target_id if proposal.kind == "milestone" else None,
        )
        told = await insert_rows(session, [row]) > 0
    return Decided(proposal.id, approve, fact, proposal.origin, told)


def citation(
    *, origin: str, url: str | None, excerpt: str | None, read_at: dt.datetime, checked: dt.datetime
) -> str:
    """A fact's source in one line: where, when it was read, the words, when it was checked.

    "www.unodc.org page, 3 Feb 2027: 'Constructive Dialogue ...', checked on 4 Feb 2027"
    """
    if origin == "watcher":
        host = urlsplit(url or "").hostname or "watched"
        where = f"{host} page"
    else:
        where = "Reported by a subscriber"
    quote = " ".join((excerpt or "").split())
    if len(quote) > QUOTE_MAX:
        quote = quote[: QUOTE_MAX - 1].rstrip() + "…"
    said = f": '{quote}'" if quote else ""
    link = f" ({url})" if url and origin != "watcher" else ""
    return f"{where}, {read_at:%-d %b %Y}{said}{link}, checked on {checked:%-d %b %Y}"


async def _cite(session: AsyncSession, proposal: Proposal, now: dt.datetime) -> None:
    """Put the one-line citation in the event about to be approved (its `source`)."""
    read_at = proposal.created_at
    if proposal.snapshot_id is not None:
        snapshot = await session.get(SourceSnapshot, proposal.snapshot_id)
        read_at = snapshot.fetched_at if snapshot is not None else read_at
    cited = citation(
        origin=proposal.origin or "watcher",
        url=proposal.url,
        excerpt=proposal.excerpt,
        read_at=read_at,
        checked=now,
    )
    proposal.payload = {**(proposal.payload or {}), "source": cited}
    await session.flush()


def _reported_day(proposal: Proposal) -> str | None:
    payload = proposal.payload or {}
    day = payload.get("date") or payload.get("start")
    return str(day) if day else None


async def _approve_step(
    session: AsyncSession, proposal: Proposal, decided_by: str | None, now: dt.datetime
) -> MilestoneDate:
    cited = citation(
        origin=proposal.origin,
        url=proposal.url,
        excerpt=proposal.excerpt,
        read_at=proposal.created_at,
        checked=now,
    )
    try:
        fact = MilestoneDate.model_validate(
            {**proposal.payload, "source": cited, "confidence": REPORT_CONFIDENCE}
        )
    except ValidationError:
        raise watch.ProposalError(
            f"proposal {proposal.id} does not describe a valid step date; reject it"
        ) from None
    await watch._decide(session, proposal, "approved", decided_by, now)
    return await record_milestone_date(
        session,
        country=fact.country,
        cluster=fact.cluster,
        milestone=fact.milestone,
        date=fact.date,
        source=fact.source,
        recorded_by=decided_by,
        now=now,
        confidence=REPORT_CONFIDENCE,
        proposal_id=proposal.id,
    )


# The service's questions about steps that passed unrecorded.


async def asked_questions(session: AsyncSession) -> dict[int, Asked]:
    """Per subscriber: every step asked about, and the States with a question open."""
    rows = await session.execute(
        select(
            ReportQuestion.subscriber_id,
            ReportQuestion.deadline_id,
            ReportQuestion.country,
            ReportQuestion.state,
        )
    )
    steps: dict[int, set[str]] = {}
    open_states: dict[int, set[str]] = {}
    for subscriber_id, deadline_id, country, state in rows:
        steps.setdefault(subscriber_id, set()).add(deadline_id)
        if state == "open":
            open_states.setdefault(subscriber_id, set()).add(country)
    return {
        sid: Asked(frozenset(ids), frozenset(open_states.get(sid, ())))
        for sid, ids in steps.items()
    }


async def open_questions(
    session: AsyncSession, planned: Iterable[Planned], now: dt.datetime
) -> list[Planned]:
    """Note the questions about to be asked; those already noted are left out."""
    fresh = []
    for item in planned:
        assert item.deadline_id is not None
        exists = await session.scalar(
            select(ReportQuestion.id).where(
                ReportQuestion.subscriber_id == item.subscriber_id,
                ReportQuestion.deadline_id == item.deadline_id,
            )
        )
        if exists is not None:
            continue
        session.add(
            ReportQuestion(
                subscriber_id=item.subscriber_id,
                country=str(item.payload.get("country", ""))[:2],
                deadline_id=item.deadline_id,
                state="open",
                asked_at=now,
            )
        )
        fresh.append(item)
    await session.flush()
    return fresh


async def answer_question(
    session: AsyncSession, subscriber_id: int, deadline_id: str, state: str, now: dt.datetime
) -> bool:
    """Close an open question with its answer; False if there was none open."""
    closed = await session.execute(
        update(ReportQuestion)
        .where(
            ReportQuestion.subscriber_id == subscriber_id,
            ReportQuestion.deadline_id == deadline_id,
            ReportQuestion.state == "open",
        )
        .values(state=state, answered_at=now)
        .returning(ReportQuestion.id)
        .execution_options(synchronize_session=False)
    )
    return closed.first() is not None
