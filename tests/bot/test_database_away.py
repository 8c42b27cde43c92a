"""The service while its PostgreSQL database is away: it waits, keeps what it knows, and
picks up where it was when the database answers again.

The database is taken away for real, and for this test's database only: the server
stops accepting connections to it and ends the ones open, as a restart does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.channels.base import Alert, ChannelLimits, Target
from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.models import Delivery
from bot.delivery.dispatcher import Dispatcher
from bot.filters.query import Query
from bot.publishing.publisher import Publisher
from config.dataset_loader import load_dataset
from config.settings import normalise_database_url
from schedulers.timeline import Deadline
from tests.bot.conftest import (
    POSTGRES_EXAMPLE,
    POSTGRES_URL_VARIABLE,
    REQUIRE_POSTGRES_VARIABLE,
    fresh_postgres_database,
)
from tests.bot.test_web import add_personal_subscriber, make_client

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        message = f"needs {POSTGRES_URL_VARIABLE}, e.g. {POSTGRES_EXAMPLE}"
        if os.environ.get(REQUIRE_POSTGRES_VARIABLE):
            pytest.fail(message)
        pytest.skip(message)
    async with fresh_postgres_database(server_url) as url:
        yield url


class Outage:
    """Takes one database away (no new connections, the open ones ended) and back."""

    def __init__(self, database_url: str) -> None:
        self.name = make_url(database_url).database
        server = normalise_database_url(os.environ[POSTGRES_URL_VARIABLE])
        self.admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.began = False

    async def begin(self) -> None:
        self.began = True
        async with self.admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": self.name},
            )

    async def end(self) -> None:
        async with self.admin.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))
        self.began = False


@pytest.fixture
async def outage(database_url: str) -> AsyncIterator[Outage]:
    """The test's database, to take away; it is always given back at the end."""
    taken = Outage(database_url)
    try:
        yield taken
    finally:
        if taken.began:
            await taken.end()
        await taken.admin.dispose()


class OutageChannel:
    """Accepts every message; its first send takes the database away, mid-batch."""

    name: ClassVar[str] = "telegram"
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=1000, per_target_per_second=1000
    )

    def __init__(self, outage: Outage) -> None:
        self.outage = outage
        self.sent: list[str] = []

    async def send(self, target: Target, alert: Alert) -> None:
        if not self.outage.began:
            await self.outage.begin()
        self.sent.append(alert.key)

    async def close(self) -> None:
        return None


async def _no_deadlines() -> list[Deadline]:
    return []


async def _until(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_alerts_sent_while_the_database_is_away_are_recorded_once_it_is_back(store, outage):
    async with store.sessions() as session, session.begin():
        rows = []
        for chat in range(100, 120):
            subscriber = await subs.ensure_subscriber(
                session, channel="telegram", address=str(chat), now=NOW
            )
            rows.append(
                outbox.new_row(
                    f"b|{chat}",
                    "broadcast",
                    {"text": "hi"},
                    NOW,
                    NOW,
                    subscriber_id=subscriber.id,
                )
            )
        await outbox.insert_rows(session, rows)
    channel = OutageChannel(outage)
    dispatcher = Dispatcher(
        store, {"telegram": channel}, _no_deadlines, lambda: dt.datetime.now(dt.UTC)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))

    async def all_handed_over() -> bool:
        return len(channel.sent) == len(rows)

    await _until(all_handed_over, 20, "the batch to be sent")
    await asyncio.sleep(1.0)  # the loop tries to record them, and cannot
    assert not running.done()
    await outage.end()

    async def all_recorded() -> bool:
        async with store.sessions() as session:
            states = set(await session.scalars(select(Delivery.state)))
        return states == {"sent"}

    await _until(all_recorded, 20, "the sent alerts to be recorded")
    await asyncio.sleep(1.0)  # nothing is claimed again
    stop.set()
    await running
    assert sorted(channel.sent) == sorted(str(row["key"]) for row in rows)


async def test_a_personal_calendar_asks_to_come_back_while_the_database_is_away(store, outage):
    token = await add_personal_subscriber(store, language="en", filters=[("country", "AT")])
    async with make_client(load_dataset(), store) as http:
        assert (await http.get(f"/calendar/{token}.ics")).status_code == 200
        await outage.begin()
        away = await http.get(f"/calendar/{token}.ics")
        public = await http.get("/calendar.ics")
        await outage.end()
        back = await http.get(f"/calendar/{token}.ics")
    assert away.status_code == 503 and away.headers["Retry-After"] == "60"
    assert "cannot read its database" in away.text and token not in away.text
    assert public.status_code == 200 and back.status_code == 200


async def test_calendars_are_served_from_the_last_facts_while_the_database_is_away(store, outage):
    publisher = Publisher(
        load_dataset(), store, "https://watch.example.org", facts_ttl=dt.timedelta(0)
    )
    before = await publisher.feed(Query())
    await outage.begin()
    during = await publisher.feed(Query())
    assert await publisher.deadlines()
    await outage.end()
    after = await publisher.feed(Query())
    assert before.etag == during.etag == after.etag and during.events > 0
