"""The outbox and the delivery loop on SQLite and PostgreSQL: once, on time, nothing lost."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
import os
import time
from typing import ClassVar

import pytest
from sqlalchemy import select, text

from bot.channels.base import (
    Alert,
    ChannelLimits,
    RetryLater,
    Target,
    TargetGone,
    TargetMoved,
    calendar_links,
)
from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.models import Delivery, Subscriber
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.leadership import Leadership, Presence
from bot.delivery.pacing import RATE_MIN_GAP, Rate, Standing
from bot.delivery.worker import AlertPlanner
from bot.publishing.publisher import Publisher
from config.dataset_loader import load_dataset
from config.keys import calendar_key, calendar_token
from config.settings import load_settings

NOW = dt.datetime(2022, 4, 30, 12, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class RecordingChannel:
    """A channel whose service answers as the test scripts it, and that records sends."""

    name: ClassVar[str] = "telegram"
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=1000, per_target_per_second=1000
    )

    def __init__(self) -> None:
        self.sent: list[tuple[Target, Alert]] = []
        self.script: dict[str, list[Exception]] = {}

    async def send(self, target: Target, alert: Alert) -> None:
        failures = self.script.get(target.address)
        if failures:
            raise failures.pop(0)
        self.sent.append((target, alert))

    async def close(self) -> None:
        return None


async def _subscribe(store, address, **filters):
    async with store.sessions() as session, session.begin():
        chat = await subs.ensure_subscriber(session, channel="telegram", address=address, now=NOW)
        await subs.follow(session, chat, filters, NOW)
        return chat.id


def _engine(store, clock, channel):
    publisher = Publisher(load_dataset(), store, "https://watch.example.org", clock=clock)
    planner = AlertPlanner(store, publisher, clock)
    dispatcher = Dispatcher(store, {"telegram": channel}, publisher.deadlines, clock)
    return planner, dispatcher


async def _rows(store):
    async with store.sessions() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def test_planned_once_delivered_once(store):
    clock, channel = Clock(NOW), RecordingChannel()
    await _subscribe(store, "100", kind=["registration"])
    planner, dispatcher = _engine(store, clock, channel)
    first = await planner.run_once()
    assert first > 0
    assert await planner.run_once() == 0  # planning twice inserts nothing
    clock.now = NOW + dt.timedelta(hours=36)
    while await dispatcher.deliver_once():
        pass
    kinds = sorted(
        (a.kind, a.deadline.id if a.deadline else None, a.lead_days) for _, a in channel.sent
    )
    assert ("reminder", "r-cd-2022-som-tip", 7) in kinds
    assert len(kinds) == len(set(a.key for _, a in channel.sent))
    assert await dispatcher.deliver_once() == 0
    assert {r.state for r in await _rows(store)} == {"sent"}


async def test_each_target_carries_its_own_calendar_without_asking_the_database(store):
    clock, channel = Clock(NOW), RecordingChannel()
    ids = [await _subscribe(store, address, kind=["registration"]) for address in ("100", "200")]
    planner, dispatcher = _engine(store, clock, channel)
    await planner.run_once()
    clock.now = NOW + dt.timedelta(hours=36)
    while await dispatcher.deliver_once():
        pass
    async with store.sessions() as session:
        key = calendar_key(load_settings())
        tokens = {
            s.id: calendar_token(key, s.calendar_nonce)
            for s in await session.scalars(select(Subscriber))
        }
    link = calendar_links("https://watch.example.org/", key)
    seen = {target.subscriber_id: link(target) for target, _ in channel.sent}
    assert seen == {
        ids[0]: f"https://watch.example.org/calendar/{tokens[ids[0]]}.ics",
        ids[1]: f"https://watch.example.org/calendar/{tokens[ids[1]]}.ics",
    }
    assert link(Target(None, "telegram", "operator")) is None


async def test_a_restarted_planner_plans_nothing_already_in_the_outbox(store):
    """The database's unique key, not the planner's memory, is what keeps alerts single."""
    clock = Clock(NOW)
    await _subscribe(store, "100", kind=["registration"])
    first, _ = _engine(store, clock, RecordingChannel())
    assert await first.run_once() > 0
    again, _ = _engine(store, clock, RecordingChannel())  # a new process, or a new leader
    assert await again.run_once() == 0
    clock.now += dt.timedelta(days=6)  # the day-before reminder enters the window
    planned = await again.run_once()
    assert planned > 0 and await first.run_once() == 0
    keys = [r.key for r in await _rows(store)]
    assert len(keys) == len(set(keys))


async def test_done_drops_the_pending_reminders_of_that_deadline(store):
    clock, channel = Clock(NOW), RecordingChannel()
    chat = await _subscribe(store, "1", kind=["registration"])
    planner, _ = _engine(store, clock, channel)
    assert await planner.run_once() > 0
    pending = {r.deadline_id for r in await _rows(store) if r.state == "pending"}
    assert "r-cd-2022-som-tip" in pending
    async with store.sessions() as session, session.begin():
        await subs.acknowledge(session, chat, "r-cd-2022-som-tip", NOW)
    clock.now += dt.timedelta(minutes=1)
    await planner.run_once()
    left = {r.deadline_id for r in await _rows(store) if r.state == "pending"}
    assert "r-cd-2022-som-tip" not in left and left == pending - {"r-cd-2022-som-tip"}


async def test_a_temporary_failure_retries_and_other_targets_go_on(store):
    clock, channel = Clock(NOW), RecordingChannel()
    await _subscribe(store, "1", kind=["registration"])
    await _subscribe(store, "2", kind=["registration"])
    channel.script["1"] = [RetryLater("429 Too Many Requests", retry_after=30)]
    planner, dispatcher = _engine(store, clock, channel)
    await planner.run_once()
    clock.now = NOW + dt.timedelta(hours=36)
    await dispatcher.deliver_once()
    assert {t.address for t, _ in channel.sent} == {"2"}
    failed = [r for r in await _rows(store) if r.state == "failed"]
    assert len(failed) == 1 and "429" in (failed[0].last_error or "")
    assert failed[0].next_attempt_at >= clock.now + dt.timedelta(seconds=30)
    clock.now += dt.timedelta(minutes=5)
    await dispatcher.deliver_once()
    assert sorted(t.address for t, _ in channel.sent) == ["1", "2"]


async def test_a_target_that_is_gone_is_deactivated_and_the_operator_told(store):
    clock, channel = Clock(NOW), RecordingChannel()
    gone = await _subscribe(store, "blocked", kind=["registration"])
    channel.script["blocked"] = [TargetGone("Forbidden: bot was blocked by the user")]
    planner, dispatcher = _engine(store, clock, channel)
    await planner.run_once()
    clock.now = NOW + dt.timedelta(hours=36)
    await dispatcher.deliver_once()
    async with store.sessions() as session:
        subscriber = await session.get(Subscriber, gone)
        assert subscriber is not None and not subscriber.active
        assert "blocked" in (subscriber.deactivated_reason or "")
    rows = await _rows(store)
    assert any(r.state == "dead" for r in rows)
    operator = [r for r in rows if r.kind == "operator"]
    assert len(operator) == 1 and "blocked" in operator[0].payload["text"]
    assert await planner.run_once() == 0  # an inactive target gets nothing new


async def test_a_migrated_chat_is_followed_to_its_new_address(store):
    clock, channel = Clock(NOW), RecordingChannel()
    await _subscribe(store, "-100", kind=["registration"])
    channel.script["-100"] = [TargetMoved("group upgraded", new_address="-1009999")]
    planner, dispatcher = _engine(store, clock, channel)
    await planner.run_once()
    clock.now = NOW + dt.timedelta(hours=36)
    while await dispatcher.deliver_once():
        pass
    assert channel.sent and {t.address for t, _ in channel.sent} == {"-1009999"}


async def test_a_row_whose_worker_died_mid_send_is_claimed_again_after_the_lease(store):
    clock = Clock(NOW)
    await _subscribe(store, "1", kind=["registration"])
    planner, _ = _engine(store, clock, RecordingChannel())
    await planner.run_once()
    clock.now = NOW + dt.timedelta(hours=36)
    async with store.sessions() as session, session.begin():
        claimed = await outbox.claim(session, 100, clock.now)  # a worker claims, then dies
    assert claimed
    async with store.sessions() as session, session.begin():
        assert await outbox.claim(session, 100, clock.now) == []  # leased: nobody else takes them
    async with store.sessions() as session, session.begin():
        again = await outbox.claim(session, 100, clock.now + outbox.LEASE + dt.timedelta(seconds=1))
    assert {r.id for r in again} == {r.id for r in claimed}


async def test_concurrent_dispatchers_never_send_one_row_twice(store):
    clock = Clock(NOW)
    for n in range(30):
        await _subscribe(store, str(n), kind=["registration"])
    channels = [RecordingChannel(), RecordingChannel(), RecordingChannel()]
    planner, _ = _engine(store, clock, channels[0])
    await planner.run_once()
    clock.now = NOW + dt.timedelta(hours=36)
    dispatchers = [_engine(store, clock, c)[1] for c in channels]
    for d in dispatchers:
        d.batch = 7
    for _ in range(20):
        await asyncio.gather(*(d.deliver_once() for d in dispatchers))
    keys = [a.key for c in channels for _, a in c.sent]
    assert len(keys) == len(set(keys)) == len(await _rows(store))


async def test_a_date_moved_drops_the_old_reminders(store):
    clock, channel = Clock(NOW), RecordingChannel()
    await _subscribe(store, "1", kind=["milestone"], country=["AT"])
    planner, _ = _engine(store, clock, channel)
    clock.now = dt.datetime(
        2022, 10, 24, 12, tzinfo=dt.UTC
    )  # a week before written feedback is due
    assert await planner.run_once() > 0
    await store.record_milestone_date(
        country="AT",
        cluster=1,
        milestone="self-assessment",
        date=dt.date(2022, 8, 31),
        source="https://example.org/at",
        recorded_by="t",
        now=clock.now,
    )
    clock.now += dt.timedelta(seconds=10)
    await planner.run_once()
    pending = [r for r in await _rows(store) if r.state == "pending" and r.kind == "reminder"]
    assert all(r.deadline_id != "m-at-c1-written-feedback" for r in pending)
    changes = [r for r in await _rows(store) if r.kind == "change"]
    assert {r.deadline_id for r in changes} >= {"m-at-c1-written-feedback"}


@pytest.mark.postgres
async def test_one_leader_at_a_time_and_a_successor_when_it_goes(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("leadership is only contested on PostgreSQL")
    first, second = Leadership(store.engine), Leadership(store.engine)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.held()
        await first.release()
        assert await second.acquire()  # a leader that steps down lets another take over
        await second.release()
        assert await first.acquire()
        pid = await first.backend_pid()
        async with store.engine.connect() as admin:  # the leader's server session dies
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert not await first.held()
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()


async def test_readiness_and_metrics_come_from_the_database(store, monkeypatch):
    import httpx

    from bot.web.app import create_app
    from config.settings import load_settings

    clock, channel = Clock(NOW), RecordingChannel()
    await _subscribe(store, "1", kind=["registration"])
    planner, dispatcher = _engine(store, clock, channel)
    await planner.run_once()
    publisher = Publisher(load_dataset(), store, "https://watch.example.org", clock=clock)
    # figures read fresh each time (the service reuses them for a few seconds)
    app = create_app(load_settings(METRICS_CACHE_SECONDS=0), load_dataset(), publisher)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        ready = (await http.get("/readyz")).json()
        assert ready["database"] == "ok" and ready["outbox_lag_seconds"] == 0
        body = (await http.get("/metrics")).text
        assert 'untoc_deliveries{channel="telegram",state="pending"}' in body
        assert "untoc_outbox_depth" in body and 'untoc_subscribers{channel="telegram"} 1.0' in body
        assert "untoc_source_consecutive_failures" in body
        clock.now = NOW + dt.timedelta(days=2)  # nothing delivered for two days: lagging
        late = await http.get("/readyz")
        assert late.status_code == 503 and late.json()["outbox_lag_seconds"] > 900
        await dispatcher.deliver_once()
        while await dispatcher.deliver_once():
            pass
        leadership = Leadership(store.engine)
        if not leadership.embedded:
            answer = await http.get("/readyz")
            assert answer.status_code == 503 and answer.json()["leader"] == "none"
            assert await leadership.acquire()
        try:
            answer = await http.get("/readyz")
            assert answer.status_code == 200, answer.json()
        finally:
            await leadership.release()
        assert 'state="sent"' in (await http.get("/metrics")).text


@pytest.mark.postgres
async def test_workers_count_each_other_and_share_the_overall_rate(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("several workers run only on PostgreSQL")
    first, second = Presence(store.engine), Presence(store.engine)
    try:
        assert await first.join() and await second.join()
        standings = {await first.standing(), await second.standing()}
        assert standings == {Standing(2, 0), Standing(2, 1)}  # one rank each
        dispatcher = _engine(store, Clock(NOW), RecordingChannel())[1]
        rate = dispatcher._paces["telegram"].overall.per_second
        dispatcher.share(await first.standing())
        assert dispatcher._paces["telegram"].overall.per_second == pytest.approx(rate / 2)
        await second.leave()  # a worker that stops, or dies with its session, is not counted
        assert await first.standing() == Standing(1, 0)
        dispatcher.share(await first.standing())
        assert dispatcher._paces["telegram"].overall.per_second == pytest.approx(rate)
        # A worker that lost its count keeps what it knew, rather than taking every chat.
        second = Presence(store.engine)
        assert await second.join() and (await second.standing()).workers == 2
        await second.leave()
        assert await second.standing() == Standing(2, 1)  # what it last knew
    finally:
        await first.leave()
        await second.leave()


async def _broadcast(store, now, tag):
    """One broadcast row for every subscriber, due `now`."""
    async with store.sessions() as session, session.begin():
        ids = list(await session.scalars(select(Subscriber.id)))
        rows = [
            outbox.new_row(
                f"s{i}|broadcast|{tag}", "broadcast", {"text": tag}, now, now, subscriber_id=i
            )
            for i in ids
        ]
        await outbox.insert_rows(session, rows)


@pytest.mark.postgres
async def test_each_chat_is_sent_to_by_one_worker_so_its_limits_hold(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("several workers run only on PostgreSQL")
    clock = Clock(NOW)
    addresses = {str(1000 + n) for n in range(40)}
    for address in sorted(addresses):
        await _subscribe(store, address)
    workers = []
    for rank in (0, 1):
        channel = RecordingChannel()
        dispatcher = _engine(store, clock, channel)[1]
        dispatcher.share(Standing(2, rank))
        workers.append((dispatcher, channel))
    await _broadcast(store, NOW, "first")
    await _broadcast(store, NOW, "second")  # two messages for each chat
    while sum([await dispatcher.deliver_once() for dispatcher, _ in workers]):
        pass
    reached = [[target.address for target, _ in channel.sent] for _, channel in workers]
    assert reached[0] and reached[1] and not set(reached[0]) & set(reached[1])
    assert collections.Counter(reached[0] + reached[1]) == dict.fromkeys(addresses, 2)
    # The worker of rank 1 is gone: the one left takes every chat.
    alone, channel = workers[0]
    alone.share(Standing(1, 0))
    await _broadcast(store, NOW, "third")
    while await alone.deliver_once():
        pass
    third = [target.address for target, alert in channel.sent if alert.text == "third"]
    assert sorted(third) == sorted(addresses)


async def test_the_overall_pace_never_exceeds_the_rate_in_any_second():
    """However late the loop wakes, no second holds more sends than the rate allows, and
    sends never bunch closer than nearly an interval."""
    rate = Rate(30)
    moments = []
    for n in range(75):
        await rate.acquire()
        moments.append(asyncio.get_running_loop().time())
        if n % 10 == 0:
            busy_until = time.monotonic() + 0.05  # the loop is busy: a late wake
            while time.monotonic() < busy_until:
                pass
    for index, start in enumerate(moments):
        assert sum(1 for m in moments[index:] if m < start + 1.0) <= 30
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert min(gaps) >= RATE_MIN_GAP / 30 * 0.99


@pytest.mark.postgres
async def test_a_leader_in_another_database_on_the_server_is_not_ours(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("leadership is only contested on PostgreSQL")
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.db import ADVISORY_LOCK
    from bot.db.stats import leader_known
    from config.settings import normalise_database_url

    other = create_async_engine(normalise_database_url(os.environ["UNTOC_TEST_POSTGRES_URL"]))
    try:
        async with other.connect() as connection:  # the server's `test` database, not ours
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK})
            assert await leader_known(store.engine) is False
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
    finally:
        await other.dispose()
