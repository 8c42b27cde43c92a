"""The watched pages broken: cut short, cut off mid-body, in a wrong charset, binary,
500, oversized, redirecting in a loop.

Each failure is recorded and backed off from; the worker keeps running and delivering.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.db.models import SourceStateRecord
from bot.db.store import Store
from config.dataset_loader import load_dataset
from feeds.watcher import BACKOFF_BASE
from reliability.deliveries import outbox_rows, tally, telegram_messages, unexpected_errors
from reliability.faults._common import (
    Scale,
    broadcast,
    chats_reached,
    env_for,
    fake_telegram,
    populate,
    stopping,
)
from reliability.population import write_overrides
from reliability.report import Section
from reliability.service import database, start_worker, wait_until
from tests.fakes.unodc_site import FakeUnodcSite, fixture


def broken_pages(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    page = fixture("constructive-dialogues-v1.html")
    site = FakeUnodcSite()
    site.start()
    pages: dict[str, tuple[str, dict[str, Any]]] = {
        "cut short": ("/short.html", {"body": page[: len(page) * 3 // 5]}),
        "cut off mid-body": ("/cut.html", {"body": page, "cut_after": len(page) // 3}),
        "a wrong charset": (
            "/charset.html",
            {"body": fixture("cst-latin1.html"), "content_type": "text/html; charset=utf-8"},
        ),
        "binary garbage": ("/binary.html", {"body": random.Random(3).randbytes(200_000)}),
        "HTTP 500": ("/error.html", {"body": b"<h1>Internal Server Error</h1>", "status": 500}),
        "20 MB": ("/huge.html", {"body": b"", "stream_bytes": 20 * 1024 * 1024}),
        "a redirect loop": ("/loop-a.html", {}),
    }
    for path, options in pages.values():
        if options:
            site.publish(path, options.pop("body"), **options)
    site.redirect("/loop-a.html", "/loop-b.html")
    site.redirect("/loop-b.html", "/loop-a.html")
    bundled = list(load_dataset().sources)  # replaced, so that no poll leaves this machine
    ids = bundled + [f"reliability-{n}" for n in range(len(pages) - len(bundled))]
    sources = [
        {
            "id": ids[n],
            "url": site.url(path),
            "interval_minutes": 5,
            "source": "the reliability suite",
            "confidence": "reported",
        }
        for n, (path, _) in enumerate(pages.values())
    ]
    fake = fake_telegram()
    with database(kind, directory) as url:
        people = populate(url, 100, dt.datetime.now(dt.UTC))
        marker = f"Page drill {uuid.uuid4().hex[:8]}"
        owed = broadcast(url, f"{marker}: the dialogues move online")
        data = write_overrides(directory / "data", {"sources": sources})
        env = env_for(
            url,
            directory,
            fake,
            500.0,
            UNTOC_DATA_DIR=str(data),
            WATCHER_ENABLED="true",
            WATCHER_ALLOW_PRIVATE="true",
            WATCHER_HOST_DELAY="0",
        )
        worker = start_worker(env, directory)
        try:
            with stopping(worker):
                wanted = {s["id"] for s in sources}
                wait_until(lambda: wanted <= set(_polled(url)), 90, "every page polled", 0.25)
                wait_until(lambda: chats_reached(fake, marker) >= len(owed), 60, "the broadcast")
                alive = worker.alive
        finally:
            fake.stop()
            site.stop()
        states = _polled(url)
        rows = outbox_rows(url, owed)
    result = tally(rows, owed, telegram_messages(fake, marker), people.addresses.__getitem__)
    failed = {sid: s for sid, s in states.items() if s.consecutive_failures}
    backed_off = [
        s
        for s in failed.values()
        if s.next_poll_at is not None
        and s.last_polled_at is not None
        and s.next_poll_at - s.last_polled_at >= BACKOFF_BASE
    ]
    names = {ids[n]: name for n, name in enumerate(pages)}
    logs = unexpected_errors(worker.log_text())
    section.figure(
        f"watched pages broken ({', '.join(pages)}): read {len(states) - len(failed)} "
        f"({', '.join(sorted(names[s] for s in states if s not in failed))}), failed "
        f"{len(failed)}, each failure recorded and the next try backed off "
        f"{len(backed_off)}/{len(failed)}; requests to the site {len(site.requests)}; "
        f"worker {'kept running' if alive else 'EXITED'}, errors it did not expect "
        f"{len(logs)}; the broadcast meanwhile: {result.line()}"
    )
    for name in ("cut off mid-body", "HTTP 500", "20 MB", "a redirect loop"):
        if ids[list(pages).index(name)] not in failed:
            section.fail(f"broken pages: {name} was not recorded as a failure")
    if len(backed_off) != len(failed):
        section.fail("broken pages: a failing page is polled again without backing off")
    if not alive:
        section.fail("broken pages: the worker exited")
    if logs:
        section.fail("broken pages: unexpected errors logged: " + " | ".join(logs[:3]))
    if result.lost:
        section.fail(f"broken pages: {result.lost} messages of the broadcast lost")


def _polled(url: str) -> dict[str, SourceStateRecord]:
    async def read() -> dict[str, SourceStateRecord]:
        store = await Store.open(url)
        try:
            async with store.sessions() as session:
                found = await session.scalars(
                    select(SourceStateRecord).where(SourceStateRecord.last_polled_at.is_not(None))
                )
                return {s.source_id: s for s in found}
        finally:
            await store.close()

    return asyncio.run(read())
