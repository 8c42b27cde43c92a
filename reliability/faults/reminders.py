"""Reminders planned before a deadline, the worker away until after it.

None is sent once its deadline has passed; the alerts of a registration still open are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bot.db.store import Store
from bot.delivery.worker import AlertPlanner
from bot.publishing.publisher import Publisher
from config.dataset import Dataset
from config.dataset_loader import load_dataset
from reliability.deliveries import outbox_rows, still_open, telegram_messages
from reliability.faults._common import Scale, env_for, fake_telegram, populate, stopping
from reliability.population import write_overrides
from reliability.report import Section
from reliability.service import database, start_worker, wait_until


def stale_reminders(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    now = dt.datetime.now(dt.UTC)
    closed = now - dt.timedelta(minutes=2)  # UTC: no wall time is skipped
    still_open_at = now + dt.timedelta(hours=3)
    titles = {
        "closed": "Reliability drill, registration closed",
        "open": "Reliability drill, registration open",
    }
    events = [
        {
            "id": f"reliability-{name}",
            "kind": "constructive-dialogue",
            "title": titles[name],
            "themes": ["general"],
            "start": (moment + dt.timedelta(days=20)).date(),
            "place": "Vienna",
            "registration": {
                "deadline": moment.date(),
                "time": moment.strftime("%H:%M"),
                "zone": "UTC",
            },
            "source": "the reliability suite",
            "confidence": "confirmed",
        }
        for name, moment in (("closed", closed), ("open", still_open_at))
    ]
    data = write_overrides(directory / "data", {"events": events})
    dataset = load_dataset(data, cache_dir=directory / "cache")
    fake = fake_telegram()
    earlier = now - dt.timedelta(hours=4)  # when the worker last planned, before it went away
    with database(kind, directory) as url:
        people = populate(url, scale.drill_subscribers, now)
        asyncio.run(_plan(url, dataset, earlier))
        planned = outbox_rows(url)
        for_closed = {i for i, r in planned.items() if r.deadline_id == "r-reliability-closed"}
        # the open one's alerts whose moment came while the worker was away
        for_open = {
            i
            for i, r in planned.items()
            if r.deadline_id == "r-reliability-open" and r.due_at <= now
        }
        env = env_for(url, directory, fake, 500.0, UNTOC_DATA_DIR=str(data))
        worker = start_worker(env, directory)
        try:
            with stopping(worker):
                drill = for_closed | for_open
                wait_until(lambda: still_open(url, drill) == 0, 60, "the drill's alerts", 0.25)
        finally:
            fake.stop()
        rows = outbox_rows(url, planned)
    stale_sent = [i for i in for_closed if i in rows and rows[i].state == "sent"]
    stale_texts = telegram_messages(fake, titles["closed"])
    open_sent = [i for i in for_open if i in rows and rows[i].state == "sent"]
    section.figure(
        f"stale reminders: {len(for_closed)} alerts planned while a registration was open, "
        f"the worker away until 2 minutes after it closed: sent {len(stale_sent)}, messages "
        f"naming it {len(stale_texts)}, dropped {sum(1 for i in for_closed if i not in rows)}; "
        f"{len(for_open)} alerts for one still open: sent {len(open_sent)} "
        f"({len(people.addresses)} subscribers)"
    )
    if not for_closed:
        section.fail("stale reminders: the drill planned nothing for the closed registration")
    if stale_sent or stale_texts:
        section.fail(f"stale reminders: {len(stale_texts)} sent after their deadline")
    if len(open_sent) != len(for_open) or not for_open:
        section.fail(f"stale reminders: {len(for_open) - len(open_sent)} due alerts not sent")


async def _plan(url: str, dataset: Dataset, at: dt.datetime) -> None:
    store = await Store.open(url)
    try:
        publisher = Publisher(dataset, store, "https://watch.example.org", clock=lambda: at)
        await AlertPlanner(store, publisher, lambda: at).run_once()
    finally:
        await store.close()
