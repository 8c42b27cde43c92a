"""Load: ten thousand subscribers get a broadcast and a day of reminders while feeds are read.

The season is moved so that its busiest day of reminders starts now (see population).
The real planner (`AlertPlanner.run_once`, its clock set to now) fills the outbox for
everyone; the next 24 hours of it are then compressed into `day_seconds`, each row due
at its moment scaled down, and a broadcast to all goes in at the same time. One real
worker process delivers it all to the fake Bot API, which enforces Telegram's limits
scaled to `rate` overall (1 a second per chat and 20 a minute per group stay real),
while a real web process serves calendars, personal calendars and the API to a closed
loop of readers. Figures: what was delivered of what was owed, lost and repeated
messages, throughput, latency from each alert's moment to its recorded sending, 429s,
the web's requests a second, latencies and errors, and reminders sent after their
deadline (none may be).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import statistics
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select

from bot.db.migrate import upgrade
from bot.db.models import Delivery
from bot.db.store import Store
from bot.delivery.worker import AlertPlanner
from bot.publishing.publisher import Publisher
from config.dataset import Dataset
from config.dataset_loader import load_dataset
from reliability.deliveries import (
    outbox_rows,
    queue_broadcast,
    reschedule,
    still_open,
    tally,
    telegram_messages,
    unexpected_errors,
)
from reliability.population import Population, Season, add_subscribers, write_season
from reliability.report import Section
from reliability.service import (
    ServiceProcess,
    database,
    database_name,
    environment,
    postgres_server,
    start_web,
    start_worker,
    telegram_environment,
    wait_until,
)
from reliability.webload import LoadReport, WebLoad, percentile, service_targets
from schedulers.timeline import MECHANISM_ZONE, Deadline, compute_deadlines
from tests.fakes.telegram_api import FakeTelegram, RateLimits

DAY = dt.timedelta(days=1)
PARKED = dt.timedelta(days=300)  # out of the worker's way until the day is released


@dataclass(frozen=True)
class Scale:
    subscribers: int
    database: str
    day_seconds: float  # the day of reminders, compressed
    rate: float  # messages a second the fake Bot API allows, and the worker is told
    readers: int  # concurrent readers of the web process
    web_rate: float  # requests a second they offer in all
    deadlines_at_most: int | None  # the busiest day, or the busiest of the lighter days
    group_share: float
    workers: int  # worker processes delivering side by side (more than one: PostgreSQL)


QUICK = Scale(
    subscribers=300,
    database="sqlite",
    day_seconds=5,
    rate=1000,
    readers=4,
    web_rate=50,
    deadlines_at_most=3,
    group_share=0.0,
    workers=1,
)
FULL = Scale(
    subscribers=10_000,
    database="postgresql",
    day_seconds=120,
    rate=1000,
    readers=16,
    web_rate=200,
    deadlines_at_most=None,
    group_share=0.1,
    workers=2,
)


def run(quick: bool = False) -> Section:
    """Run the load part; `quick` is the short form the tests run."""
    scale = QUICK if quick else FULL
    section = Section("Load: a broadcast and a day of reminders, feeds under load")
    kind = scale.database
    if kind == "postgresql" and postgres_server() is None:
        section.figure("PostgreSQL did not answer: this run used SQLite")
        kind = "sqlite"
    if kind == "sqlite":
        scale = replace(scale, workers=1)  # one database file, one worker
    with tempfile.TemporaryDirectory(prefix="untoc-load-") as tmp, database(kind, Path(tmp)) as url:
        _run(scale, url, Path(tmp), section)
    return section


@dataclass(frozen=True)
class _Day:
    population: Population
    moments: dict[int, dt.datetime]  # the day's rows and when each is due in the day
    dataset: Dataset


async def _prepare(url: str, dataset: Dataset, scale: Scale, now: dt.datetime) -> _Day:
    """Subscribers, then the real planner's alerts as of now; the day's rows and moments."""
    await upgrade(url)
    store = await Store.open(url)
    try:
        population = await add_subscribers(
            store, scale.subscribers, dataset, now, group_share=scale.group_share
        )
        publisher = Publisher(dataset, store, "https://watch.example.org", clock=lambda: now)
        await AlertPlanner(store, publisher, lambda: now).run_once()
        async with store.sessions() as session:
            planned = (
                await session.execute(select(Delivery.id, Delivery.due_at, Delivery.payload))
            ).all()
    finally:
        await store.close()
    # Late alerts (their moment passed before now) are what a restart sends: not this day.
    day = {i: at for i, at, payload in planned if at < now + DAY and not payload.get("late")}
    return _Day(population, day, dataset)


def _run(scale: Scale, url: str, directory: Path, section: Section) -> None:
    now = dt.datetime.now(dt.UTC)
    season = write_season(load_dataset(), directory / "data", now, at_most=scale.deadlines_at_most)
    dataset = load_dataset(season.directory, cache_dir=directory / "cache")
    fake = FakeTelegram(
        limits=RateLimits(per_second=scale.rate, per_chat_per_second=1, per_group_per_minute=20)
    ).start()
    web: ServiceProcess | None = None
    workers: list[ServiceProcess] = []
    load: WebLoad | None = None
    try:
        day = asyncio.run(_prepare(url, dataset, scale, now))
        reschedule(url, dict.fromkeys(outbox_rows(url), now + PARKED))
        env = environment(
            url,
            directory,
            UNTOC_DATA_DIR=str(season.directory),
            **telegram_environment(fake.token, fake.base_url, scale.rate),
        )
        web, base = start_web(env, directory)
        workers = [start_worker(env, directory, f"worker-{n}") for n in range(scale.workers)]
        wait_until(lambda: any("worker: leading" in w.log_text() for w in workers), 60, "a leader")
        if scale.workers > 1:  # each counts the others, and takes its share of the chats
            counted = f"{scale.workers} workers deliver"
            wait_until(lambda: all(counted in w.log_text() for w in workers), 60, "the workers")
        targets = service_targets(day.population.tokens, sorted(dataset.states))
        load = WebLoad(base, targets, scale.readers, scale.web_rate).start()
        # Release: the broadcast now, the day's alerts compressed into day_seconds.
        start = dt.datetime.now(dt.UTC)
        text = f"Broadcast {uuid.uuid4().hex[:8]}: the dialogues move online"
        sent_before = {i for i, r in outbox_rows(url).items() if r.state == "sent"}
        queue_broadcast(url, text)
        scale_factor = scale.day_seconds / DAY.total_seconds()
        scheduled = {i: start + (at - now) * scale_factor for i, at in day.moments.items()}
        reschedule(url, scheduled)
        rows = outbox_rows(url)
        broadcast = {i for i, r in rows.items() if r.kind == "broadcast"} - sent_before
        for i in broadcast:
            scheduled[i] = start
        # the day's rows, and only they, are due by its end (the rest are parked or later)
        end = start + DAY * scale_factor + dt.timedelta(seconds=1)
        timeout = 120 + len(scheduled) / 40
        wait_until(lambda: still_open(url, due_by=end) == 0, timeout, "the day", 1.0)
    finally:
        report = load.stop() if load is not None else None
        for process in (*workers, web):
            if process is not None:
                process.stop()
        fake.stop()
    assert workers and web is not None and report is not None
    _figures(
        section, scale, url, fake, day, scheduled, broadcast, report, workers, web, now, season
    )


def _passes(deadline: Deadline) -> dt.datetime:
    """When a deadline passes: its instant, or the end of its day on the Vienna calendar."""
    if isinstance(deadline.due, dt.datetime):
        return deadline.due
    end = dt.datetime.combine(deadline.due + DAY, dt.time(0), tzinfo=MECHANISM_ZONE)
    return end.astimezone(dt.UTC)


def _figures(
    section: Section,
    scale: Scale,
    url: str,
    fake: FakeTelegram,
    day: _Day,
    scheduled: dict[int, dt.datetime],
    broadcast: set[int],
    report: LoadReport,
    workers: list[ServiceProcess],
    web: ServiceProcess,
    now: dt.datetime,
    season: Season,
) -> None:
    rows = outbox_rows(url, scheduled)
    addresses = day.population.addresses
    result = tally(rows, scheduled, telegram_messages(fake), addresses.__getitem__)
    kinds: dict[str, int] = {}
    for i in scheduled:
        if i in rows:
            kinds[rows[i].kind] = kinds.get(rows[i].kind, 0) + 1
    people = day.population
    processes = (
        f"{len(workers)} worker processes dividing the chats among them"
        if len(workers) > 1
        else "one worker process"
    )
    section.figure(
        f"{len(addresses):,} subscribers on {database_name(url)}: {people.groups:,} groups, "
        f"{people.filters:,} filters, {people.zones} time zones, {people.languages} languages; "
        f"{processes}, one web process"
    )
    section.figure(
        f"owed: a broadcast to {len(broadcast):,} and {len(scheduled) - len(broadcast):,} alerts "
        f"of the next 24 hours, over which the dataset's "
        f"{'busiest day' if scale.deadlines_at_most is None else 'busiest light day'} of "
        f"reminders ({season.busiest:%d %B %Y} in its own dates) now falls, compressed "
        f"into {scale.day_seconds:g} s ("
        + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()) if k != "broadcast")
        + ")"
    )
    per_chat = collections.Counter(rows[i].subscriber_id for i in scheduled if i in rows)
    busiest, most = per_chat.most_common(1)[0] if per_chat else (None, 0)
    kind = "group" if busiest and addresses.get(busiest, "").startswith("-") else "chat"
    section.figure(
        f"{result.line()}; most to one chat: {most} (a {kind}, paced by its limit per "
        f"{'minute' if kind == 'group' else 'second'})"
    )
    sends = [
        c
        for c in list(fake.calls)
        if c.method.lower() == "sendmessage" and c.status == 200 and not c.garbled
    ]
    if len(sends) > 1:
        span = max(c.at for c in sends) - min(c.at for c in sends)
        section.figure(
            f"throughput {len(sends) / span:.0f} messages/s (allowed {scale.rate:g}/s); "
            f"429s from the fake, which enforces the limits: {fake.rate_limited}"
        )
    for label, ids in (
        ("broadcast", [i for i in scheduled if i in broadcast]),
        ("reminders", [i for i in scheduled if i not in broadcast]),
    ):
        latencies = [
            (sent - scheduled[i]).total_seconds()
            for i in ids
            if i in rows and (sent := rows[i].sent_at) is not None
        ]
        if latencies:
            section.figure(
                f"{label}: latency from its moment to recorded as sent p50 "
                f"{statistics.median(latencies):.1f} s, p99 {percentile(latencies, 0.99):.1f} s"
            )
    passes = {d.id: _passes(d) for d in compute_deadlines(day.dataset, now)}
    stale = []
    for i in scheduled:
        row = rows.get(i)
        if row is None or row.kind not in ("reminder", "last_call") or row.sent_at is None:
            continue
        if row.deadline_id in passes and row.sent_at >= passes[row.deadline_id]:
            stale.append(i)
    section.figure(f"reminders sent after their deadline had passed: {len(stale)}")
    section.figure(
        f"web under load ({scale.readers} readers offering {scale.web_rate:g} requests/s): "
        + report.summary()
    )
    logs = [line for p in (*workers, web) for line in unexpected_errors(p.log_text())]
    section.figure(f"unexpected errors in the processes' logs: {len(logs)}")
    if result.lost:
        section.fail(f"{result.lost} messages lost ({result})")
    if result.duplicates:
        section.fail(f"{result.duplicates} duplicates without any fault")
    if fake.rate_limited:
        section.fail(f"{fake.rate_limited} sends beyond the service's limits (429)")
    if stale:
        section.fail(f"{len(stale)} reminders sent after their deadline")
    if report.errors:
        statuses = sorted({s.status for s in report.errors})
        section.fail(f"{len(report.errors)} web requests failed (statuses {statuses})")
    if logs:
        section.fail("unexpected errors logged: " + " | ".join(logs[:3]))
