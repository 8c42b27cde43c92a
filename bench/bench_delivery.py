"""Benchmark: fan-out and latency of the delivery loop, and the worker's memory.

A real `untoc-watch worker` process sends to the local fake Bot API, which enforces a
global rate (and answers 429 beyond it). Prints, for each run: achieved rate / allowed
rate, lost and duplicate messages, 429s, and the worker's peak memory; then the latency
from each alert's scheduled moment to the fake server receiving it. Asserts nothing.

    .venv/bin/python -m bench.bench_delivery [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.migrate import upgrade
from bot.db.store import Store
from tests.fakes.telegram_api import FakeTelegram, RateLimits

EPOCH_OFFSET = time.time() - time.monotonic()  # the fake stamps calls with monotonic time
CEILING_GUESS = 60.0  # msg/s a worker surely reaches; the wait allows twice the time


async def _prepare(url: str, chats: int, due: list[dt.datetime]) -> None:
    """`chats` subscribers; one alert each, due at the matching moment of `due`."""
    await upgrade(url)
    store = await Store.open(url)
    now = dt.datetime.now(dt.UTC)
    try:
        async with store.sessions() as session, session.begin():
            ids = []
            for chat in range(chats):
                subscriber = await subs.ensure_subscriber(
                    session, channel="telegram", address=str(1_000_000 + chat), now=now
                )
                ids.append(subscriber.id)
            rows = [
                {
                    "key": f"s{sid}|bench|{n}",
                    "subscriber_id": sid,
                    "kind": "broadcast",
                    "deadline_id": None,
                    "payload": {"text": f"bench {n} due {due[n].timestamp():.3f}"},
                    "due_at": due[n],
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": due[n],
                    "created_at": now,
                }
                for n, sid in enumerate(ids)
            ]
            await outbox.insert_rows(session, rows)
    finally:
        await store.close()


def _peak_memory_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(chats: int, rate: float, spread: float, label: str) -> None:
    fake = FakeTelegram(
        limits=RateLimits(per_second=rate, per_chat_per_second=None, per_group_per_minute=None)
    )
    fake.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)  # after the worker starts
            due = [start + dt.timedelta(seconds=spread * n / max(chats, 1)) for n in range(chats)]
            asyncio.run(_prepare(url, chats, due))
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "TELEGRAM_MAX_RATE": str(rate),
                "WATCHER_ENABLED": "false",
                "UNTOC_CACHE_DIR": f"{tmp}/cache",
                "PUBLIC_BASE_URL": "https://watch.example.org",
            }
            worker = subprocess.Popen(
                [sys.executable, "-m", "bot", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                # wait for what a worker can do (~150/s here), not for the allowed rate
                limit = time.monotonic() + 60 + chats / min(rate, CEILING_GUESS) * 2 + spread
                while time.monotonic() < limit:
                    if (
                        len([c for c in list(fake.messages_received) if str(c).startswith("1")])
                        >= chats
                    ):
                        break
                    time.sleep(0.2)
                time.sleep(1)
                memory = _peak_memory_kib(worker.pid)
            finally:  # never leave a worker behind, whatever happened here
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        sends = [
            c
            for c in fake.calls
            if c.method.lower() == "sendmessage" and c.status == 200 and "bench " in c.text
        ]
        received = {c.chat_id for c in sends}
        if not sends:
            print(f"{label}: nothing delivered")
            return
        first, last = min(c.at for c in sends), max(c.at for c in sends)
        achieved = (len(sends) - 1) / (last - first) if last > first else float(len(sends))
        latencies = sorted(
            c.at + EPOCH_OFFSET - float(c.text.removesuffix("</b>").rsplit(" ", 1)[1])
            for c in sends
        )
        print(f"{label}:", flush=True)
        print(
            f"  {chats} chats at an allowed {rate:g}/s: achieved {achieved:.1f}/s "
            f"= {achieved / rate:.3f} of allowed; lost {chats - len(received)}, "
            f"duplicates {len(sends) - len(received)}, 429s {fake.rate_limited}"
        )
        print(
            f"  latency, scheduled moment to receipt: p50 {statistics.median(latencies):.3f} s, "
            f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.3f} s, max {latencies[-1]:.3f} s"
        )
        print(f"  worker peak memory (VmHWM): {memory / 1024:.0f} MiB")
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    if args.quick:
        run(300, 30, 0, "fan-out at Telegram's 30/s (300 chats)")
        run(2000, 1000, 0, "fan-out at a scaled 1000/s (2,000 chats)")
        run(200, 1000, 20, "latency: 200 alerts due over 20 s")
        return
    run(10_000, 30, 0, "fan-out at Telegram's real 30/s (10,000 chats, about 6 minutes)")
    run(10_000, 2000, 0, "fan-out at a scaled 2000/s, our ceiling (10,000 chats)")
    run(600, 1000, 60, "latency: 600 alerts due over 60 s (10/s)")


if __name__ == "__main__":
    main()
