"""PostgreSQL stopped and started in the middle of a broadcast, the web under load.

Full run only: it disturbs everything else using the server. The worker keeps running
and resumes once the server is back; the web serves calendars from the last known facts
and answers personal calendars (which need the database) with 503 meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from pathlib import Path

from reliability.deliveries import outbox_rows, tally, telegram_messages
from reliability.faults._common import (
    IN_FLIGHT,
    STALE_CONNECTIONS,
    Scale,
    broadcast,
    chats_reached,
    env_for,
    fake_telegram,
    populate,
    short_lease,
)
from reliability.report import Section
from reliability.service import (
    database,
    has_postgres_control,
    http_status,
    postgres_cluster,
    postgres_ready,
    start_web,
    start_worker,
    wait_until,
)
from reliability.webload import LoadReport, WebLoad, service_targets

DOWN_SECONDS = 5.0


def database_restart(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    if not scale.database_restart:
        return
    why_not = has_postgres_control() or (
        "PostgreSQL does not answer" if kind != "postgresql" else None
    )
    if why_not:
        section.figure(f"PostgreSQL stopped and started mid-run: not run ({why_not})")
        return
    fake = fake_telegram()
    chats = scale.kill_chats
    with database("postgresql", directory) as url:
        people = populate(url, chats, dt.datetime.now(dt.UTC))
        marker = f"Database drill {uuid.uuid4().hex[:8]}"
        owed = broadcast(url, f"{marker}: the dialogues move online")
        env = short_lease(env_for(url, directory, fake, 100.0))
        worker = start_worker(env, directory)
        web, base = start_web(env, directory)
        personal = f"{base}/calendar/{people.tokens[0]}.ics"
        load = WebLoad(base, service_targets(people.tokens, ["AT", "NG"]), 4, 100).start()
        stopping = back_at = 0.0
        try:
            wait_until(lambda: chats_reached(fake, marker) >= chats // 4, 120, "sends", 0.1)
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
            wait_until(lambda: chats_reached(fake, marker) >= chats, 240, "everyone", 0.1)
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
