"""Faults: crashes, restarts and failing neighbours, and what the service makes of them.

Every scenario runs the real processes against the fakes and counts at the fakes:
- the worker killed with SIGKILL at random moments of a broadcast, and started again;
- the web process killed with SIGKILL under load, and started again;
- PostgreSQL stopped and started in the middle of a broadcast (full run only: it
  disturbs everything else using the server);
- the chat services answering 429 with retry_after, 500, a proxy's HTML page, a body
  that is not JSON, a closed connection, or nothing before the client gives up;
- the watched pages broken: cut short, cut off mid-body, in a wrong charset, binary,
  500, oversized, redirecting in a loop;
- reminders planned before a deadline, the worker away until after it.
Figures: messages lost (must be 0), duplicates and their bound (what was in flight),
stale reminders sent (must be 0), and how long each recovery took. Messages are counted
once the worker has stopped: whatever it sent has arrived by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import statistics
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.db import subscribers as subs
from bot.db.migrate import upgrade
from bot.db.models import SourceStateRecord, Subscriber
from bot.db.store import Store
from bot.delivery.dispatcher import CONCURRENCY, RECORD_EVERY
from bot.delivery.worker import AlertPlanner
from bot.publishing.publisher import Publisher
from config.dataset import Dataset
from config.dataset_loader import load_dataset
from feeds.watcher import BACKOFF_BASE
from reliability.deliveries import (
    outbox_rows,
    queue_broadcast,
    still_open,
    tally,
    telegram_messages,
    unexpected_errors,
)
from reliability.population import Population, add_subscribers, write_overrides
from reliability.report import Section
from reliability.service import (
    ServiceProcess,
    database,
    database_name,
    environment,
    has_postgres_control,
    http_status,
    postgres_cluster,
    postgres_ready,
    postgres_server,
    start_web,
    start_worker,
    telegram_environment,
    wait_until,
)
from reliability.webload import LoadReport, Sample, WebLoad, service_targets
from tests.fakes import slack_api
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import (
    HANG_UP,
    SERVER_ERROR,
    FakeTelegram,
    Outcome,
    garbage,
    retry_after,
    slow,
)
from tests.fakes.unodc_site import FakeUnodcSite, fixture

IN_FLIGHT = CONCURRENCY + RECORD_EVERY  # what a worker can have sent and not yet recorded
LEASE_SECONDS = 5  # the delivery lease the workers run with: recovery on PostgreSQL waits it out
SIGNING_SECRET = "reliabilitysigningsecret"
STALE_CONNECTIONS = 1.0  # seconds after a restart in which a reader may still use a dead one


@dataclass(frozen=True)
class Scale:
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


def run(quick: bool = False) -> Section:
    """Run the fault part; `quick` is the short form the tests run."""
    scale = QUICK if quick else FULL
    section = Section("Faults: crashes, restarts, failing services, broken pages")
    kind = scale.database
    if kind == "postgresql" and postgres_server() is None:
        section.figure("PostgreSQL did not answer: these runs used SQLite")
        kind = "sqlite"
    scenarios: list[tuple[str, Callable[[Scale, str, Path, Section], None]]] = [
        ("worker killed", _worker_kills),
        ("web killed", _web_kills),
        ("database restarted", _database_restart),
        ("channel faults", _channel_faults),
        ("broken pages", _broken_pages),
        ("stale reminders", _stale_reminders),
    ]
    with tempfile.TemporaryDirectory(prefix="untoc-faults-") as tmp:
        for name, scenario in scenarios:
            directory = Path(tmp) / name.replace(" ", "-")
            directory.mkdir()
            try:
                scenario(scale, kind, directory, section)
            except Exception as exc:  # a scenario that broke is a failure to report, not a crash
                section.fail(f"{name}: {exc!r}\n{traceback.format_exc(limit=3)}")
    return section


# Shared set-up


def _telegram() -> FakeTelegram:
    return FakeTelegram(limits=None).start()


def _env(
    url: str, directory: Path, fake: FakeTelegram, rate: float, **extra: str
) -> dict[str, str]:
    return environment(
        url, directory, **telegram_environment(fake.token, fake.base_url, rate), **extra
    )


def _short_lease(env: dict[str, str]) -> dict[str, str]:
    """For runs that kill workers: on PostgreSQL what a dead worker held waits out its lease."""
    return {**env, "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS)}


def _subscribers(url: str, count: int, now: dt.datetime) -> Population:
    """A migrated database with `count` subscribers in private chats."""

    async def create() -> Population:
        await upgrade(url)
        store = await Store.open(url)
        try:
            return await add_subscribers(store, count, load_dataset(), now, group_share=0.0)
        finally:
            await store.close()

    return asyncio.run(create())


def _broadcast(url: str, text: str) -> set[int]:
    """Queue a broadcast the way the operator's command does; returns its rows."""
    before = set(outbox_rows(url))
    queue_broadcast(url, text)
    return {i for i, row in outbox_rows(url).items() if row.kind == "broadcast"} - before


def _chats_reached(fake: FakeTelegram, marker: str) -> int:
    return len({chat for chat, _ in telegram_messages(fake, marker)})


def _reaching(fake: FakeTelegram, marker: str, chats: int) -> Callable[[], bool]:
    return lambda: _chats_reached(fake, marker) >= chats


def _sending_more(fake: FakeTelegram, marker: str, than: int) -> Callable[[], bool]:
    return lambda: len(telegram_messages(fake, marker)) > than


@contextlib.contextmanager
def _stopping(*processes: ServiceProcess | None) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process is not None:
                process.stop()


def _seconds(values: list[float]) -> str:
    if not values:
        return "none"
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s"


# The worker, killed


def _worker_kills(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    fake = _telegram()
    rate = 150.0
    with database(kind, directory) as url:
        people = _subscribers(url, scale.kill_chats, dt.datetime.now(dt.UTC))
        marker = f"Crash drill {uuid.uuid4().hex[:8]}"
        owed = _broadcast(url, f"{marker}: the dialogues move online")
        env = _short_lease(_env(url, directory, fake, rate))
        # kill points, as shares of the broadcast, in order; each after some progress
        points = sorted(rng.uniform(0.05, 0.8) for _ in range(scale.kills))
        worker = start_worker(env, directory)
        first_after: list[float] = []
        try:
            for share in points:
                wait_until(_reaching(fake, marker, int(share * len(owed))), 120, "sends", 0.05)
                worker.kill()
                sent = len(telegram_messages(fake, marker))
                worker = start_worker(env, directory)
                restarted = time.monotonic()
                wait_until(_sending_more(fake, marker, sent), 60, "a send", 0.05)
                first_after.append(time.monotonic() - restarted)
            last_restart = time.monotonic()
            wait_until(lambda: _chats_reached(fake, marker) >= len(owed), 180, "the broadcast", 0.1)
            complete = time.monotonic() - last_restart
        finally:
            worker.stop()
            fake.stop()
        rows = outbox_rows(url, owed)
    result = tally(rows, owed, telegram_messages(fake, marker), people.addresses.__getitem__)
    bound = len(points) * IN_FLIGHT
    moments = ", ".join(f"{share:.0%}" for share in points)
    section.figure(
        f"worker killed with SIGKILL {len(points)}x during a broadcast to {len(owed):,} chats "
        f"on {database_name(url)} (at {moments} of it; seed {seed}): {result.line()} "
        f"(bound {len(points)} x {IN_FLIGHT} in flight = {bound})"
    )
    section.figure(
        f"worker restarts: first message {_seconds(first_after)} after the restart; "
        f"broadcast complete {complete:.1f} s after the last one"
    )
    if result.lost:
        section.fail(f"worker killed: {result.lost} messages lost")
    if result.duplicates > bound:
        section.fail(f"worker killed: {result.duplicates} duplicates, more than {bound}")
    logs = unexpected_errors(worker.log_text())
    if logs:
        section.fail("worker killed: unexpected errors logged: " + " | ".join(logs[:3]))


# The web process, killed


def _web_kills(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    rng = random.Random()
    with database(kind, directory) as url:
        people = _subscribers(url, 50, dt.datetime.now(dt.UTC))
        env = environment(url, directory)
        web, base = start_web(env, directory)
        load = WebLoad(base, service_targets(people.tokens, ["AT", "NG", "MX"]), 4, 100).start()
        outages: list[tuple[float, float]] = []  # (killed, answering again) in epoch seconds
        recoveries: list[float] = []
        try:
            time.sleep(0.5)
            for _ in range(scale.web_kills):
                time.sleep(rng.uniform(0.5, 2.0))
                killed = time.time()
                web.kill()
                web.start()
                restarted = time.monotonic()
                wait_until(lambda: http_status(base + "/calendar.ics", 1.0) == 200, 60, "web")
                recoveries.append(time.monotonic() - restarted)
                # a reader's pooled connection to the killed process fails on its next use
                outages.append((killed, time.time() + STALE_CONNECTIONS))
            time.sleep(1.0)  # and it serves without errors
        finally:
            report = load.stop()
            web.stop()

    def in_outage(sample: Sample) -> bool:  # cut by the kill, or sent before it answered
        return any(sample.started + sample.seconds >= a and sample.started < b for a, b in outages)

    during = sum(1 for sample in report.errors if in_outage(sample))
    settled = [sample for sample in report.errors if not in_outage(sample)]
    section.figure(
        f"web killed with SIGKILL {len(outages)}x under load ({report.headline()}): "
        f"answering again {_seconds(recoveries)} after each restart (first 200); requests "
        f"refused while it was down {during}; failed otherwise {len(settled)}"
    )
    if settled:
        section.fail(f"web killed: {len(settled)} requests failed outside the outages")
    logs = unexpected_errors(web.log_text())
    if logs:
        section.fail("web killed: unexpected errors logged: " + " | ".join(logs[:3]))


# PostgreSQL, stopped and started


DOWN_SECONDS = 5.0


def _database_restart(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    if not scale.database_restart:
        return
    why_not = has_postgres_control() or (
        "PostgreSQL does not answer" if kind != "postgresql" else None
    )
    if why_not:
        section.figure(f"PostgreSQL stopped and started mid-run: not run ({why_not})")
        return
    fake = _telegram()
    chats = scale.kill_chats
    with database("postgresql", directory) as url:
        people = _subscribers(url, chats, dt.datetime.now(dt.UTC))
        marker = f"Database drill {uuid.uuid4().hex[:8]}"
        owed = _broadcast(url, f"{marker}: the dialogues move online")
        env = _short_lease(_env(url, directory, fake, 100.0))
        worker = start_worker(env, directory)
        web, base = start_web(env, directory)
        personal = f"{base}/calendar/{people.tokens[0]}.ics"
        load = WebLoad(base, service_targets(people.tokens, ["AT", "NG"]), 4, 100).start()
        stopping = back_at = 0.0
        try:
            wait_until(lambda: _chats_reached(fake, marker) >= chats // 4, 120, "sends", 0.1)
            try:
                stopping = time.time()
                postgres_cluster("stop")
                time.sleep(DOWN_SECONDS)
            finally:  # whatever happened, the server runs again
                postgres_cluster("start")
                wait_until(postgres_ready, 60, "PostgreSQL to accept connections", 0.1)
                back_at = time.time()
            back = time.monotonic()
            sent_when_back = len(telegram_messages(fake, marker))
            resumed = wait_until(
                lambda: len(telegram_messages(fake, marker)) > sent_when_back, 120, "a send", 0.05
            )
            web_back = wait_until(lambda: http_status(personal) == 200, 60, "the web", 0.05)
            wait_until(lambda: _chats_reached(fake, marker) >= chats, 240, "everyone", 0.1)
            complete = time.monotonic() - back
            worker_alive = worker.alive
        finally:
            report = load.stop()
            for process in (worker, web):
                process.stop()
            fake.stop()
            if not postgres_ready():  # never leave the server down
                with contextlib.suppress(Exception):
                    postgres_cluster("start")
        rows = outbox_rows(url, owed)
    result = tally(rows, owed, telegram_messages(fake, marker), people.addresses.__getitem__)
    away_until = back_at + web_back + STALE_CONNECTIONS
    public = [s for s in report.errors if s.kind != "personal"]
    personal_away = [s for s in report.errors if s.kind == "personal" and s.started < away_until]
    # While it cannot tell whose a token is, the web asks the calendar app to come back.
    unexplained = [s for s in personal_away if s.status != 503]
    personal_after = [s for s in report.errors if s.kind == "personal" and s.started >= away_until]
    section.figure(
        f"PostgreSQL stopped (fast shutdown) for {back_at - stopping:.1f} s, from the stop "
        f"command to accepting connections again, during a broadcast to {chats:,} chats: "
        f"worker {'kept running' if worker_alive else 'EXITED'}; {result.line()} "
        f"(bound {IN_FLIGHT}); first send {resumed:.1f} s after the server was back, "
        f"everyone reached {complete:.1f} s after"
    )
    section.figure(
        f"web meanwhile ({report.headline()}): calendars and the API served from the last "
        f"known facts, failed {len(public)}; personal calendars (which need the database) "
        f"answered 503 with Retry-After {len(personal_away) - len(unexplained)} times while "
        f"it was away and otherwise failed {len(unexplained)}, answering again "
        f"{web_back:.1f} s after it was back, failed afterwards {len(personal_after)}"
    )
    if not worker_alive:
        section.fail("database restarted: the worker process exited")
    if result.lost:
        section.fail(f"database restarted: {result.lost} messages lost")
    if result.duplicates > IN_FLIGHT:
        section.fail(f"database restarted: {result.duplicates} duplicates, more than {IN_FLIGHT}")
    if public:
        statuses = LoadReport(public).error_statuses()
        section.fail(
            f"database restarted: {len(public)} calendar or API requests failed ({statuses})"
        )
    if unexplained:
        statuses = LoadReport(unexplained).error_statuses()
        section.fail(f"database away: personal calendars answered {statuses}, not 503")
    if personal_after:
        section.fail(f"database restarted: {len(personal_after)} requests failed after it")


# The chat services, failing


# What the fake Bot API answers a chat's first message with, by name.
TELEGRAM_FAULTS: dict[str, Outcome] = {
    "429 with retry_after": retry_after(2),
    "500": SERVER_ERROR,
    "a proxy's 502 page": garbage(502),
    "200 with a body that is not JSON": garbage(200, b'{"ok": true, "resu'),
    "connection closed": HANG_UP,
    "an answer slower than the client waits": slow(6),  # the client gives up after 5 s
}


def _channel_faults(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    telegram = _telegram()
    slack = FakeSlack().start()
    faults = TELEGRAM_FAULTS
    per_kind = scale.faulty_per_kind
    with database(kind, directory) as url:
        people = _subscribers(url, scale.fault_chats, dt.datetime.now(dt.UTC))
        chats = [int(address) for address in people.addresses.values()]
        faulty = chats[: per_kind * len(faults)]
        for n, outcome in enumerate(faults.values()):
            for chat in faulty[n * per_kind : (n + 1) * per_kind]:
                telegram.script(chat, outcome)
        timeouts = per_kind  # an answer that never came may still have been delivered
        slack_targets = _slack_targets(url, slack, per_kind)
        marker = f"Fault drill {uuid.uuid4().hex[:8]}"
        owed = _broadcast(url, f"{marker}: the dialogues move online")
        env = _env(
            url,
            directory,
            telegram,
            500.0,
            SLACK_BOT_TOKEN=slack_api.BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_BASE_URL=slack.api_url,
        )
        started = time.monotonic()
        worker = start_worker(env, directory)
        try:
            with _stopping(worker):

                def everyone() -> bool:
                    reached = {c.key for c in slack.posts() if marker in _slack_text(c)}
                    return _chats_reached(telegram, marker) >= len(chats) and len(reached) >= len(
                        slack_targets
                    )

                wait_until(everyone, 120, "every target to get the broadcast", 0.1)
                complete = time.monotonic() - started
                # an answer that never came is retried: wait for the repeat
                wait_until(lambda: still_open(url, owed) == 0, 60, "the outbox to settle", 0.25)
        finally:
            telegram.stop()
            slack.stop()
        rows = outbox_rows(url, owed)
        deactivated = _inactive(url)
    addresses = {**people.addresses, **slack_targets}
    received = telegram_messages(telegram, marker) + [
        (str(c.key), _slack_text(c)) for c in slack.posts() if marker in _slack_text(c)
    ]
    result = tally(rows, owed, received, addresses.__getitem__)
    met = sum(
        1 for c in telegram.calls if c.text and marker in c.text and (c.status != 200 or c.garbled)
    )
    met += sum(1 for c in slack.calls if marker in _slack_text(c) and not c.ok)
    logs = unexpected_errors(worker.log_text())
    # A channel that cannot classify an answer raises something the dispatcher's catch-all
    # logs and retries: nothing is lost, but the operator sees a traceback, not a reason.
    unclassified = [line for line in logs if "failed unexpectedly" in line]
    logs = [line for line in logs if line not in unclassified]
    section.figure(
        f"channel faults, each on {per_kind} of {len(chats):,} Telegram chats ("
        + ", ".join(faults)
        + f") and on {len(slack_targets)} Slack targets (429 with Retry-After, 500, a page "
        f"that is not JSON; webhooks 503): {result.line()} (bound: {timeouts} answers that "
        "never came); "
        f"failed answers given {met}, targets deactivated {deactivated}, everyone reached "
        f"{complete:.1f} s after the worker started; answers the channel could not classify "
        f"(retried by the delivery loop's catch-all, logged with a traceback) {len(unclassified)}"
    )
    if result.lost:
        section.fail(f"channel faults: {result.lost} messages lost")
    if result.duplicates > timeouts:
        section.fail(f"channel faults: {result.duplicates} duplicates, more than {timeouts}")
    if deactivated:
        section.fail(f"channel faults: {deactivated} targets deactivated by temporary faults")
    if logs:
        section.fail("channel faults: unexpected errors logged: " + " | ".join(logs[:3]))


def _slack_text(call: slack_api.Call) -> str:
    return str(call.body.get("text", "")) + str(call.body.get("blocks", ""))


def _slack_targets(url: str, slack: FakeSlack, per_kind: int) -> dict[int, str]:
    """Slack channels and webhooks, each answering one fault first; by id, the key the
    fake files their messages under (the channel id, or the webhook's path)."""
    faults: list[tuple[str, dict[str, Any]]] = [
        ("ratelimited", {"status": 429, "retry_after": 1}),
        ("internal_error", {"status": 500}),
        ("garbage", {"status": 200, "body": "<html><body>upstream error</body></html>"}),
    ]
    targets: list[tuple[str, str, str]] = []  # channel, address, key the fake files it under
    for n in range(per_kind):
        for error, options in faults:
            channel_id = f"C{len(targets):08d}"
            slack.fail(channel_id, error, **options)
            targets.append(("slack", channel_id, channel_id))
        path = f"T0FAKE/B{n:07d}/reliability{n}"
        hook = slack.webhook_url(path)
        slack.fail(path, "service_unavailable", status=503)
        targets.append(("slack-webhook", hook, path))

    async def create() -> dict[int, str]:
        store = await Store.open(url)
        now = dt.datetime.now(dt.UTC)
        try:
            async with store.sessions() as session, session.begin():
                created = {}
                for channel, address, key in targets:
                    subscriber = await subs.ensure_subscriber(
                        session, channel=channel, address=address, now=now
                    )
                    created[subscriber.id] = key
                return created
        finally:
            await store.close()

    return asyncio.run(create())


def _inactive(url: str) -> int:
    async def count() -> int:
        store = await Store.open(url)
        try:
            async with store.sessions() as session:
                found = await session.scalars(select(Subscriber.id).where(~Subscriber.active))
                return len(list(found))
        finally:
            await store.close()

    return asyncio.run(count())


# The watched pages, broken


def _broken_pages(scale: Scale, kind: str, directory: Path, section: Section) -> None:
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
    fake = _telegram()
    with database(kind, directory) as url:
        people = _subscribers(url, 100, dt.datetime.now(dt.UTC))
        marker = f"Page drill {uuid.uuid4().hex[:8]}"
        owed = _broadcast(url, f"{marker}: the dialogues move online")
        data = write_overrides(directory / "data", {"sources": sources})
        env = _env(
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
            with _stopping(worker):
                wanted = {s["id"] for s in sources}
                wait_until(lambda: wanted <= set(_polled(url)), 90, "every page polled", 0.25)
                wait_until(lambda: _chats_reached(fake, marker) >= len(owed), 60, "the broadcast")
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


# Reminders for a deadline that passed while the worker was away


def _stale_reminders(scale: Scale, kind: str, directory: Path, section: Section) -> None:
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
    fake = _telegram()
    earlier = now - dt.timedelta(hours=4)  # when the worker last planned, before it went away
    with database(kind, directory) as url:
        people = _subscribers(url, scale.drill_subscribers, now)
        asyncio.run(_plan(url, dataset, earlier))
        planned = outbox_rows(url)
        for_closed = {i for i, r in planned.items() if r.deadline_id == "r-reliability-closed"}
        # the open one's alerts whose moment came while the worker was away
        for_open = {
            i
            for i, r in planned.items()
            if r.deadline_id == "r-reliability-open" and r.due_at <= now
        }
        env = _env(url, directory, fake, 500.0, UNTOC_DATA_DIR=str(data))
        worker = start_worker(env, directory)
        try:
            with _stopping(worker):
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
