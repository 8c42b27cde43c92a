"""Benchmark: email fan-out through the delivery loop to a local relay, at its rate.

The real dispatcher and email channel (aiosmtplib, STARTTLS and login) send one
broadcast to each of 10,000 email subscribers through a local aiosmtpd relay, paced by
`EMAIL_MAX_RATE` (the relay's rate, given here with --rate). Prints the achieved rate
against the allowed one, and lost and duplicate messages counted at the relay. Asserts
nothing: the figures are for reading.

    .venv/bin/python -m bench.bench_email [--quick] [--addresses N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bot.db import subscribers as subs
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.delivery.broadcasts import enqueue_broadcast
from bot.delivery.dispatcher import Dispatcher
from bot.main import email_channel
from bot.publishing.publisher import Publisher
from config.dataset_loader import load_dataset
from config.keys import calendar_key
from config.settings import load_settings
from tests.fakes.smtp_relay import SmtpRelay

SENDER = "UNTOC Watch <alerts@watch.example.org>"


async def _subscribe(store: Store, count: int) -> None:
    now = dt.datetime.now(dt.UTC)
    async with store.sessions() as session, session.begin():
        for n in range(count):
            await subs.ensure_subscriber(
                session, channel="email", address=f"ngo{n}@example.org", now=now
            )


async def _run(url: str, relay: SmtpRelay, count: int, rate: float) -> None:
    await upgrade(url)
    store = await Store.open(url)
    settings = load_settings(
        DATABASE_URL=url,
        SMTP_URL=relay.url,
        MAIL_FROM=SENDER,
        EMAIL_MAX_RATE=str(rate),
        PUBLIC_BASE_URL="https://watch.example.org",
    )
    try:
        await _subscribe(store, count)
        queued = await enqueue_broadcast(
            store,
            "Bench: the dialogues move online",
            [],
            uuid.uuid4().hex[:8],
            dt.datetime.now(dt.UTC),
        )
        channel = await email_channel(settings, store, calendar_key(settings), relay.client_context)
        assert channel is not None
        publisher = Publisher(load_dataset(), store, settings.public_base_url)
        dispatcher = Dispatcher(
            store,
            {"email": channel},
            publisher.deadlines,
            lambda: dt.datetime.now(dt.UTC),
            rates={"email": settings.email_max_rate},
        )
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(dispatcher.run(stop))
        limit = started + 2 * count / rate + 60
        # the relay counts in its own thread: polled, as it has no event to wait on
        while len(relay.messages) < queued and time.perf_counter() < limit:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        await channel.close()
    finally:
        await store.close()
    received = Counter(recipient for _, recipients, _ in relay.messages for recipient in recipients)
    expected = {f"ngo{n}@example.org" for n in range(count)}
    lost = len(expected - set(received))
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    print(f"email fan-out: {count} addresses, {queued} queued, {len(relay.messages)} received")
    print(
        f"  achieved {len(relay.messages) / elapsed:.1f} msg/s of {rate:.1f} allowed "
        f"({elapsed:.1f} s)"
    )
    print(f"  lost {lost}, duplicates {duplicates}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 addresses")
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0, help="EMAIL_MAX_RATE, msg/s")
    args = parser.parse_args()
    count = 1_000 if args.quick else args.addresses
    with tempfile.TemporaryDirectory(prefix="untoc-bench-email-") as scratch, SmtpRelay() as relay:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        asyncio.run(_run(url, relay, count, args.rate))


if __name__ == "__main__":
    main()
