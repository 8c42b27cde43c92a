"""Whole worker processes against the fake Bot API: killed mid-broadcast, run side by side.

These start real `untoc-watch worker` processes (the same command the Procfile runs),
kill them with SIGKILL, and count what every chat received at the fake server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db import subscribers as subs
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.delivery.broadcasts import enqueue_broadcast
from bot.delivery.dispatcher import CONCURRENCY, RECORD_EVERY
from reliability.service import database
from tests.fakes.telegram_api import FakeTelegram, RateLimits

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram(
        limits=RateLimits(per_second=None, per_chat_per_second=None, per_group_per_minute=None)
    )
    server.start()
    yield server
    server.stop()


def _env(database_url: str, fake: FakeTelegram, tmp_path: Path, rate: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_MAX_RATE": str(rate),
        "DELIVERY_LEASE_SECONDS": "3",
        "WATCHER_ENABLED": "false",
        "UNTOC_CACHE_DIR": str(tmp_path / "cache"),
        "PUBLIC_BASE_URL": "https://watch.example.org",
    }


async def _prepare(database_url: str, chats: range, text: str) -> int:
    await upgrade(database_url)
    store = await Store.open(database_url)
    try:
        async with store.sessions() as session, session.begin():
            for chat in chats:
                await subs.ensure_subscriber(
                    session, channel="telegram", address=str(chat), now=NOW
                )
    finally:
        await store.close()
    return await _broadcast(database_url, text)


async def _broadcast(database_url: str, text: str) -> int:
    store = await Store.open(database_url)
    try:
        now = dt.datetime.now(dt.UTC)
        return await enqueue_broadcast(store, text, (), uuid.uuid4().hex[:12], now)
    finally:
        await store.close()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _received(fake: FakeTelegram, chats: range, text: str) -> dict[int, int]:
    counts = {chat: 0 for chat in chats}
    for call in list(fake.calls):
        if call.method.lower() == "sendmessage" and text in call.text:
            counts[int(call.chat_id)] = counts.get(int(call.chat_id), 0) + 1  # type: ignore[arg-type]
    return counts


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_killed_mid_broadcast_loses_nothing(fake, tmp_path):
    chats = range(10_000, 11_000)
    text = "Crash-safety broadcast"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}"
    assert asyncio.run(_prepare(database_url, chats, text)) == len(chats)
    env = _env(database_url, fake, tmp_path, rate=150)
    first = _worker(env, tmp_path / "worker.log")
    try:
        _wait(lambda: sum(_received(fake, chats, text).values()) >= 300, 60, "300 deliveries")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = sum(_received(fake, chats, text).values())
    assert at_kill < len(chats), "the broadcast finished before the kill; raise the count"
    second = _worker(env, tmp_path / "worker.log")
    try:
        _wait(
            lambda: all(_received(fake, chats, text).values()), 90, "every chat to get the message"
        )
        time.sleep(1)  # anything still on its way arrives now, so duplicates are counted
    finally:
        _stop(second)
    counts = _received(fake, chats, text)
    assert min(counts.values()) == 1, "a subscriber lost the message"
    duplicates = sum(counts.values()) - len(chats)
    # only messages in flight at the kill can repeat: being sent, or sent and not yet recorded
    assert duplicates <= CONCURRENCY + RECORD_EVERY, duplicates
    log = (tmp_path / "worker.log").read_text()
    assert fake.token not in log  # the token never reaches the logs


def _require_postgres() -> None:
    if not os.environ.get("UNTOC_TEST_POSTGRES_URL"):
        if os.environ.get("UNTOC_REQUIRE_POSTGRES"):
            pytest.fail("UNTOC_TEST_POSTGRES_URL is required here")
        pytest.skip("needs UNTOC_TEST_POSTGRES_URL")


@pytest.mark.postgres
def test_workers_on_postgresql_share_delivery_and_hand_over_the_schedule(fake, tmp_path):
    _require_postgres()
    workers: list[subprocess.Popen[bytes]] = []
    with database("postgresql", tmp_path) as database_url:
        try:
            chats = range(20_000, 20_300)
            text = "Shared broadcast"
            asyncio.run(_prepare(database_url, chats, text))
            env = _env(database_url, fake, tmp_path, rate=60)
            logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
            workers = [_worker(env, log) for log in logs]
            _wait(lambda: all(_received(fake, chats, text).values()), 90, "the broadcast")
            time.sleep(1)
            counts = _received(fake, chats, text)
            assert set(counts.values()) == {1}, "a chat got the broadcast twice or not at all"

            def leaders() -> list[int]:
                return [
                    n for n, log in enumerate(logs) if log.read_text().count("worker: leading") > 0
                ]

            _wait(lambda: len(leaders()) == 1, 30, "one leader")
            (leader,) = leaders()
            os.kill(workers[leader].pid, signal.SIGKILL)
            workers[leader].wait(timeout=10)
            _wait(lambda: len(leaders()) == 2, 30, "another worker to take over the schedule")
            second_text = "After the leader died"
            asyncio.run(_broadcast(database_url, second_text))
            _wait(
                lambda: all(_received(fake, chats, second_text).values()),
                90,
                "the second broadcast",
            )
            time.sleep(1)
            assert set(_received(fake, chats, second_text).values()) == {1}
            # the workers share the bot's overall rate: thirds while three lived, then halves
            survivors = [log.read_text() for n, log in enumerate(logs) if n != leader]
            assert all("3 workers deliver" in text for text in survivors)
            assert all("2 workers deliver" in text for text in survivors)
        finally:
            for process in workers:
                _stop(process)
