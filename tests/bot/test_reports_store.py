"""Reports in the moderation queue: stored pending, decided once, limits and blocks held."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.db.models import Delivery, MilestoneDateRecord, Proposal
from bot.db.subscribers import ensure_subscriber
from bot.db.watch import ProposalError
from config.dataset_loader import load_dataset
from feeds.reports import LIMITS, Draft, ReportLimits, ReportRefused, check_report

NOW = dt.datetime(2027, 1, 20, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def report(dataset, reporter="telegram:1001", date="2027-01-15", step="self-assessment"):
    return check_report(
        Draft("AT", step, date, "https://www.example.org/at-responses submitted in January"),
        dataset=dataset,
        country_of=lambda text: text.upper() if len(text) == 2 else None,
        origin="telegram",
        reporter=reporter,
        language="fr",
        today=NOW.date(),
    )


async def reporter(store) -> int:
    async with store.sessions() as session, session.begin():
        subscriber = await ensure_subscriber(
            session, channel="telegram", address="1001", now=NOW, language="fr"
        )
        return subscriber.id


async def test_a_report_waits_pending_and_changes_nothing(store, dataset):
    proposal_id = await store.submit_report(report(dataset), subscriber_id=None, now=NOW)
    (pending,) = await store.proposals("pending")
    assert pending.id == proposal_id
    assert (pending.origin, pending.kind, pending.reporter) == (
        "telegram",
        "milestone",
        "telegram:1001",
    )
    assert pending.url == "https://www.example.org/at-responses"
    assert pending.excerpt == "submitted in January"
    assert (await store.recorded_facts()).milestone_dates == []


async def test_approving_records_a_reported_date_and_tells_the_reporter(store, dataset):
    subscriber_id = await reporter(store)
    proposal_id = await store.submit_report(report(dataset), subscriber_id=subscriber_id, now=NOW)
    decided = await store.decide_proposal(proposal_id, approve=True, decided_by="cli:ops", now=NOW)
    assert decided.told_reporter
    (fact,) = (await store.recorded_facts()).milestone_dates
    assert (fact.country, fact.milestone, fact.date) == (
        "AT",
        "self-assessment",
        dt.date(2027, 1, 15),
    )
    assert fact.confidence == "reported"
    assert fact.source == (
        "Reported by a subscriber, 20 Jan 2027: 'submitted in January' "
        "(https://www.example.org/at-responses), checked on 20 Jan 2027"
    )
    async with store.sessions() as session:
        row = await session.scalar(select(MilestoneDateRecord))
        told = await session.scalar(select(Delivery).where(Delivery.kind == "report"))
    assert (row.recorded_by, row.proposal_id) == ("cli:ops", proposal_id)
    assert told.subscriber_id == subscriber_id and told.payload["approved"] is True
    with pytest.raises(ProposalError, match="already approved"):
        await store.decide_proposal(proposal_id, approve=False, decided_by="x", now=NOW)


async def test_rejecting_tells_the_reporter_and_records_nothing(store, dataset):
    subscriber_id = await reporter(store)
    proposal_id = await store.submit_report(report(dataset), subscriber_id=subscriber_id, now=NOW)
    decided = await store.decide_proposal(proposal_id, approve=False, decided_by="x", now=NOW)
    assert decided.told_reporter and decided.fact is None
    assert (await store.recorded_facts()).milestone_dates == []


async def test_the_same_report_twice_is_one_proposal(store, dataset):
    await store.submit_report(report(dataset), subscriber_id=None, now=NOW)
    with pytest.raises(ReportRefused) as refused:
        await store.submit_report(report(dataset), subscriber_id=None, now=NOW)
    assert [p.code for p in refused.value.problems] == ["duplicate"]


async def test_reports_per_day_are_limited_and_blocked_reporters_refused(store, dataset):
    limits = ReportLimits(per_day=2)
    for day in ("2027-01-10", "2027-01-11"):
        await store.submit_report(
            report(dataset, date=day), subscriber_id=None, now=NOW, limits=limits
        )
    with pytest.raises(ReportRefused) as refused:
        await store.submit_report(
            report(dataset, date="2027-01-12"), subscriber_id=None, now=NOW, limits=limits
        )
    assert refused.value.problems[0].code == "too_many"
    later = NOW + dt.timedelta(days=1, minutes=1)
    first = await store.submit_report(
        report(dataset, date="2027-01-12"), subscriber_id=None, now=later
    )
    assert await store.block_reporter_of(first, by="ops", reason="spam", now=later) == "telegram:1…"
    with pytest.raises(ReportRefused) as refused:
        await store.submit_report(report(dataset, date="2027-01-13"), subscriber_id=None, now=later)
    assert refused.value.problems[0].code == "blocked"
    assert LIMITS.per_day >= 1


async def test_a_watcher_proposal_has_no_reporter_to_block(store):
    async with store.sessions() as session, session.begin():
        session.add(
            Proposal(
                kind="event", payload={}, confidence="reported", state="pending", created_at=NOW
            )
        )
    (proposal,) = await store.proposals()
    assert proposal.origin == "watcher"
    assert await store.block_reporter_of(proposal.id, by=None, reason=None, now=NOW) is None
