"""What the fault scenarios share: their scale, the fakes and the set-up of a drill."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.delivery.dispatcher import CONCURRENCY, RECORD_EVERY
from config.dataset_loader import load_dataset
from reliability.deliveries import outbox_rows, queue_broadcast, telegram_messages
from reliability.population import Population, add_subscribers
from reliability.service import ServiceProcess, environment, telegram_environment
from tests.fakes.telegram_api import FakeTelegram

IN_FLIGHT = CONCURRENCY + RECORD_EVERY  # what a worker can have sent and not yet recorded
LEASE_SECONDS = 5  # the delivery lease the workers run with: recovery on PostgreSQL waits it out
STALE_CONNECTIONS = 1.0  # seconds after a restart in which a reader may still use a dead one


@dataclass(frozen=True)
class Scale:
    """How big each scenario runs: `QUICK` for the tests, `FULL` for `make reliability`."""

    database: str
    kill_chats: int
    kills: int
    web_kills: int
    fault_chats: int
    faulty_per_kind: int
    drill_subscribers: int
    database_restart: bool


QUICK = Scale(
    database="sqlite",
    kill_chats=400,
    kills=1,
    web_kills=1,
    fault_chats=60,
    faulty_per_kind=2,
    drill_subscribers=30,
    database_restart=False,
)
FULL = Scale(
    database="postgresql",
    kill_chats=3000,
    kills=4,
    web_kills=3,
    fault_chats=600,
    faulty_per_kind=10,
    drill_subscribers=300,
    database_restart=True,
)


def fake_telegram() -> FakeTelegram:
    return FakeTelegram(limits=None).start()


def env_for(
    url: str, directory: Path, fake: FakeTelegram, rate: float, **extra: str
) -> dict[str, str]:
    return environment(
        url, directory, **telegram_environment(fake.token, fake.base_url, rate), **extra
    )


def short_lease(env: dict[str, str]) -> dict[str, str]:
    """For runs that kill workers: on PostgreSQL what a dead worker held waits out its lease."""
    return {**env, "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS)}


def populate(url: str, count: int, now: dt.datetime) -> Population:
    """A migrated database with `count` subscribers in private chats."""

    async def create() -> Population:
        await upgrade(url)
        store = await Store.open(url)
        try:
            return await add_subscribers(store, count, load_dataset(), now, group_share=0.0)
        finally:
            await store.close()

    return asyncio.run(create())


def broadcast(url: str, text: str) -> set[int]:
    """Queue a broadcast the way the operator's command does; returns its rows."""
    before = set(outbox_rows(url))
    queue_broadcast(url, text)
    return {i for i, row in outbox_rows(url).items() if row.kind == "broadcast"} - before


def chats_reached(fake: FakeTelegram, marker: str) -> int:
    return len({chat for chat, _ in telegram_messages(fake, marker)})


def reaching(fake: FakeTelegram, marker: str, chats: int) -> Callable[[], bool]:
    return lambda: chats_reached(fake, marker) >= chats


def sending_more(fake: FakeTelegram, marker: str, than: int) -> Callable[[], bool]:
    return lambda: len(telegram_messages(fake, marker)) > than


@contextlib.contextmanager
def stopping(*processes: ServiceProcess | None) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process is not None:
                process.stop()


def seconds(values: list[float]) -> str:
    if not values:
        return "none"
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s"
