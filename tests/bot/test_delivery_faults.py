"""Faults from the Bot API (429, 500, time-outs, blocked bots) lose nothing for live chats.

The real TelegramChannel and the real delivery loop talk to the fake Bot API, which
answers as the test scripts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from bot.db import subscribers as subs
from bot.db.migrate import upgrade
from bot.db.models import Delivery, Subscriber
from bot.db.store import Store
from bot.delivery.broadcasts import enqueue_broadcast
from bot.delivery.dispatcher import Dispatcher
from bot.telegram.app import build_bot
from bot.telegram.channel import TelegramChannel
from config.settings import load_settings
from schedulers.timeline import Deadline
from tests.fakes.telegram_api import (
    BLOCKED,
    SERVER_ERROR,
    FakeTelegram,
    RateLimits,
    retry_after,
    slow,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CHATS = range(500, 540)
RETRY, FAILING, SLOW, BLOCKED_CHAT = 500, 501, 502, 503


def clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def fake():
    server = FakeTelegram(
        limits=RateLimits(per_second=None, per_chat_per_second=None, per_group_per_minute=None)
    )
    server.start()
    yield server
    server.stop()


async def test_faults_are_retried_and_only_the_blocked_chat_is_dropped(fake, database_url):
    await upgrade(database_url)
    store = await Store.open(database_url)
    settings = load_settings(
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.base_url,
    )
    channel = TelegramChannel(build_bot(settings), clock)
    try:
        async with store.sessions() as session, session.begin():
            for chat in CHATS:
                await subs.ensure_subscriber(
                    session, channel="telegram", address=str(chat), now=NOW
                )
        fake.script(RETRY, retry_after(1))
        fake.script(FAILING, SERVER_ERROR, SERVER_ERROR)
        fake.script(SLOW, slow(6))  # longer than the client's read time-out
        fake.script(BLOCKED_CHAT, always=BLOCKED)
        assert await enqueue_broadcast(
            store, "Fault drill", (), uuid.uuid4().hex[:8], clock()
        ) == len(CHATS)
        dispatcher = Dispatcher(
            store,
            {"telegram": channel},
            _no_deadlines,
            clock,
            base_backoff=dt.timedelta(milliseconds=200),
        )
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            await dispatcher.deliver_once()
            async with store.sessions() as session:
                open_rows = await session.scalar(
                    select(Delivery.id)
                    .where(Delivery.state.in_(("pending", "failed", "sending")))
                    .limit(1)
                )
            if open_rows is None:
                break
            await asyncio.sleep(0.2)
        clean = [c for c in CHATS if c not in (BLOCKED_CHAT, SLOW)]
        assert {c: fake.messages_received[c] for c in clean} == dict.fromkeys(clean, 1)
        # A time-out leaves it unknown whether Telegram delivered; we retry, preferring a
        # repeat to a loss (the server here did deliver the request we gave up on).
        assert fake.messages_received[SLOW] in (1, 2)
        assert fake.messages_received[BLOCKED_CHAT] == 0
        async with store.sessions() as session:
            blocked = await subs.find_subscriber(session, "telegram", str(BLOCKED_CHAT))
            assert blocked is not None and not blocked.active
            rows = {r.key: r for r in await session.scalars(select(Delivery))}
            active = await session.scalar(select(Subscriber.id).where(Subscriber.active.is_(False)))
        assert active == blocked.id
        retried = [r for r in rows.values() if r.attempts > 1 and r.state == "sent"]
        assert len(retried) >= 3  # the 429, the 500s and the time-out were retried
        assert any(r.kind == "operator" and "blocked" in r.payload["text"] for r in rows.values())
        assert fake.rate_limited >= 1
    finally:
        await channel.close()
        await store.close()


async def _no_deadlines() -> list[Deadline]:
    return []
