"""The watcher on the real database (SQLite and PostgreSQL): what it stores, told once.

The store is the watcher's ledger in the service: states, versions, changes, operator
notices in the outbox, proposals; approved proposals enter the timeline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

import httpx
import pytest
from sqlalchemy import func, select

from bot.db.models import Delivery, Proposal, SourceChange, SourceSnapshot
from bot.db.store import Store
from bot.db.watch import ProposalError
from bot.delivery.watch import build_watcher, run_watcher
from config.dataset import Source
from config.dataset_loader import load_dataset
from config.settings import load_settings
from feeds.fetch import LOOPBACK_NETWORKS
from feeds.ledger import SourceState
from feeds.reading import ThreadReader
from schedulers.timeline import compute_deadlines
from tests.fakes.unodc_site import FakeUnodcSite, fixture

PAGE = "/unodc/en/ngos/constructive-dialogues.html"
NOW = dt.datetime(2022, 2, 1, 9, tzinfo=dt.UTC)
LATER = dt.timedelta(hours=4)


@pytest.fixture
def site():
    with FakeUnodcSite() as fake:
        yield fake


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
        yield http


def settings(**extra):
    return load_settings(WATCHER_HOST_DELAY=0, WATCHER_FAILURE_THRESHOLD=2, **extra)


def dataset_with(*sources: Source):
    return dataclasses.replace(load_dataset(), sources={s.id: s for s in sources})


def page_source(site, path=PAGE, source_id="cd") -> Source:
    return Source(
        id=source_id, url=site.url(path), interval_minutes=180, source="test", confidence="reported"
    )


async def count(store: Store, model, *where) -> int:
    async with store.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_polls_are_stored_and_what_is_told_is_told_once(site, store, client):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = build_watcher(
        settings(),
        dataset_with(page_source(site)),
        store,
        client,
        ThreadReader(),
        allowed=LOOPBACK_NETWORKS,
    )
    await watcher.check(["cd"], NOW)
    site.publish_fixture(PAGE, "constructive-dialogues-v2.html")
    (changed,) = await watcher.check(["cd"], NOW + LATER)
    assert changed.result == "changed" and changed.proposals == 1
    rebuilt = fixture("constructive-dialogues-v2.html") + b"<!-- rebuilt at 10:02 -->"
    site.publish(PAGE, rebuilt)  # a new ETag, the same content
    (again,) = await watcher.check(["cd"], NOW + 2 * LATER)
    assert again.result == "unchanged" and again.proposals == 0
    assert await count(store, SourceSnapshot) == 2
    assert await count(store, SourceChange) == 1
    assert await count(store, Proposal, Proposal.state == "pending") == 1
    (proposal,) = await store.proposals("pending")
    assert proposal.summary.endswith("registration deadline moved from 8 May 2022 to 17 May 2022")
    assert (proposal.target_id, proposal.confidence, proposal.url) == (
        "cd-2022-som-tip",
        "reported",
        site.url(PAGE),
    )
    assert proposal.certainty == 85 and "17 May 2022" in proposal.excerpt
    previous = await store.previous_lines("cd") or ()
    assert any("until 17 May 2022 midnight" in line for line in previous)

    site.set(PAGE, status=500)
    now = NOW + 3 * LATER
    for _ in range(4):
        now += dt.timedelta(days=1)
        await watcher.check(["cd"], now)
    site.set(PAGE, status=200)
    await watcher.check(["cd"], now + dt.timedelta(days=1))
    async with store.sessions() as session:
        told = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    assert [(d.kind, d.subscriber_id, d.state) for d in told] == [
        ("operator.source_failing", None, "pending"),
        ("operator.source_recovered", None, "pending"),
    ]
    assert "has failed 2 times in a row" in told[0].payload["message"]
    assert told[0].payload["url"] == site.url(PAGE)


async def test_a_state_reads_back_as_it_was_saved(store):
    from bot.db.watch import latest_snapshot_lines
    from feeds.ledger import PollRecord

    state = SourceState(
        source_id="cd",
        etag='"abc"',
        last_modified="Sun, 13 Sep 2020 12:26:40 GMT",
        content_hash="f" * 64,
        recent_hashes=("e" * 64, "f" * 64),
        config_hash="0123456789abcdef",
        consecutive_failures=3,
        failing_since=NOW,
        failure_notified=True,
        backoff_until=NOW + LATER,
        next_poll_at=NOW + LATER,
        last_polled_at=NOW,
        last_status=503,
        last_error="HTTP 503",
        health="failing",
    )
    await store.record_poll(PollRecord(state), NOW)
    assert (await store.source_states())["cd"] == state
    async with store.sessions() as session:
        assert await latest_snapshot_lines(session, "cd") is None


async def test_an_approved_proposal_enters_the_timeline_with_the_page_as_its_source(
    site, store, client
):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = build_watcher(
        settings(),
        dataset_with(page_source(site)),
        store,
        client,
        ThreadReader(),
        allowed=LOOPBACK_NETWORKS,
    )
    await watcher.check(["cd"], NOW)
    site.publish_fixture(PAGE, "constructive-dialogues-v2.html")
    await watcher.check(["cd"], NOW + LATER)
    (proposal,) = await store.proposals("pending")

    event = await store.approve_proposal(proposal.id, decided_by="op", now=NOW + LATER)
    assert event.id == "cd-2022-som-tip"
    facts = await store.recorded_facts()
    assert [e.id for e in facts.events] == ["cd-2022-som-tip"]
    deadlines = {d.id: d for d in compute_deadlines(facts.apply(load_dataset()), NOW)}
    registration = deadlines["r-cd-2022-som-tip"]
    assert registration.due == dt.datetime(2022, 5, 17, 22, tzinfo=dt.UTC)
    assert registration.confidence == "reported"
    # One line: the page, the day it was read, its words, and the day it was checked.
    assert registration.source.startswith("127.0.0.1 page, 1 Feb 2022: 'Constructive Dialogues")
    assert registration.source.endswith("', checked on 1 Feb 2022")

    with pytest.raises(ProposalError, match=r"already approved on .* by op"):
        await store.approve_proposal(proposal.id, decided_by="op", now=NOW)
    with pytest.raises(ProposalError, match="already approved"):
        await store.reject_proposal(proposal.id, decided_by="op", now=NOW)
    with pytest.raises(ProposalError, match="no proposal 999"):
        await store.approve_proposal(999, decided_by="op", now=NOW)

    # The same finding read again (after a flap) is not proposed a second time.
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    await watcher.check(["cd"], NOW + 2 * LATER)
    site.publish_fixture(PAGE, "constructive-dialogues-v3.html")
    await watcher.check(["cd"], NOW + 3 * LATER)
    assert [p.summary for p in await store.proposals("pending")] == []


async def test_rejected_and_invalid_proposals(store):
    async with store.sessions() as session, session.begin():
        for key, payload in (("good", _event("cd-2027-firearms")), ("bad", {"id": "Not An Id"})):
            session.add(
                Proposal(
                    kind="event",
                    payload=payload,
                    confidence="reported",
                    created_at=NOW,
                    key=key,
                )
            )
    good, bad = sorted(await store.proposals("pending"), key=lambda p: p.id)
    await store.reject_proposal(good.id, decided_by=None, now=NOW)
    assert [p.state for p in await store.proposals("rejected")] == ["rejected"]
    with pytest.raises(ProposalError, match="does not describe a valid event"):
        await store.approve_proposal(bad.id, decided_by=None, now=NOW)
    assert [p.id for p in await store.proposals("pending")] == [bad.id]
    assert (await store.recorded_facts()).events == []


async def test_the_latest_approval_wins_for_an_event(store):
    async with store.sessions() as session, session.begin():
        for day, key in ((5, "first"), (12, "second")):
            session.add(
                Proposal(
                    kind="event",
                    payload=_event("cd-2027-firearms", day=day),
                    confidence="reported",
                    created_at=NOW,
                    key=key,
                )
            )
    first, second = sorted(await store.proposals("pending"), key=lambda p: p.id)
    await store.approve_proposal(second.id, decided_by=None, now=NOW)
    await store.approve_proposal(first.id, decided_by=None, now=NOW + LATER)
    (event,) = (await store.recorded_facts()).events
    assert event.start == dt.date(2027, 4, 5)


def _event(event_id: str, day: int = 5) -> dict[str, object]:
    return {
        "id": event_id,
        "kind": "constructive-dialogue",
        "title": "Constructive Dialogue on Firearms",
        "themes": ["firearms"],
        "start": f"2027-04-{day:02d}",
        "source": "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html",
        "confidence": "reported",
    }


async def test_run_watcher_polls_until_stopped_and_survives_failures(site, store, client, caplog):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    dataset = dataset_with(
        page_source(site),
        Source(id="unreachable", url="http://127.0.0.1:9/x", source="t", confidence="reported"),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_watcher(
            settings(WATCHER_ALLOW_PRIVATE=True),
            dataset,
            store,
            client,
            ThreadReader(),
            stop,
            clock=lambda: NOW,
        )
    )
    with caplog.at_level(logging.WARNING, logger="untoc_watch.watcher"):
        for _ in range(200):
            states = await store.source_states()
            if len(states) == 2:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 2)
    states = await store.source_states()
    assert states["cd"].content_hash is not None
    assert states["unreachable"].consecutive_failures == 1
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "watcher: unreachable failed"
    ]


async def test_run_watcher_logs_a_broken_cycle_and_goes_on(client, caplog):
    class BrokenLedger:
        calls = 0

        async def source_states(self):
            BrokenLedger.calls += 1
            raise ConnectionError("database away")

        async def previous_lines(self, source_id):
            raise ConnectionError("database away")

        async def approved_events(self):
            raise ConnectionError("database away")

        async def record_poll(self, record, now):
            raise ConnectionError("database away")

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_watcher(
            settings(),
            load_dataset(),
            BrokenLedger(),
            client,
            ThreadReader(),
            stop,
            clock=lambda: NOW,
        )
    )
    with caplog.at_level(logging.ERROR, logger="untoc_watch.watcher"):
        for _ in range(100):
            if BrokenLedger.calls:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 2)
    assert "the poll cycle failed" in caplog.text
    assert task.exception() is None
