"""The service's own processes killed: the worker mid-broadcast, the web under load.

The worker is killed with SIGKILL at random moments of a broadcast and started again:
nothing may be lost, and duplicates stay within what was in flight. The web process is
killed with SIGKILL under load and started again: requests fail only while it is down.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from pathlib import Path

from reliability.deliveries import outbox_rows, tally, telegram_messages, unexpected_errors
from reliability.faults._common import (
    IN_FLIGHT,
    STALE_CONNECTIONS,
    Scale,
    broadcast,
    chats_reached,
    env_for,
    fake_telegram,
    populate,
    reaching,
    seconds,
    sending_more,
    short_lease,
)
from reliability.report import Section
from reliability.service import (
    database,
    database_name,
    environment,
    http_status,
    start_web,
    start_worker,
    wait_until,
)
from reliability.webload import Sample, WebLoad, service_targets


def worker_kills(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    fake = fake_telegram()
    rate = 150.0
    with database(kind, directory) as url:
        people = populate(url, scale.kill_chats, dt.datetime.now(dt.UTC))
        marker = f"Crash drill {uuid.uuid4().hex[:8]}"
        owed = broadcast(url, f"{marker}: the dialogues move online")
        env = short_lease(env_for(url, directory, fake, rate))
        # kill points, as shares of the broadcast, in order; each after some progress
        points = sorted(rng.uniform(0.05, 0.8) for _ in range(scale.kills))
        worker = start_worker(env, directory)
        first_after: list[float] = []
        try:
            for share in points:
                wait_until(reaching(fake, marker, int(share * len(owed))), 120, "sends", 0.05)
                worker.kill()
                sent = len(telegram_messages(fake, marker))
                worker = start_worker(env, directory)
                restarted = time.monotonic()
                wait_until(sending_more(fake, marker, sent), 60, "a send", 0.05)
                first_after.append(time.monotonic() - restarted)
            last_restart = time.monotonic()
            wait_until(lambda: chats_reached(fake, marker) >= len(owed), 180, "the broadcast", 0.1)
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
        f"worker restarts: first message {seconds(first_after)} after the restart; "
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


def web_kills(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    rng = random.Random()
    with database(kind, directory) as url:
        people = populate(url, 50, dt.datetime.now(dt.UTC))
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
        f"answering again {seconds(recoveries)} after each restart (first 200); requests "
        f"refused while it was down {during}; failed otherwise {len(settled)}"
    )
    if settled:
        section.fail(f"web killed: {len(settled)} requests failed outside the outages")
    logs = unexpected_errors(web.log_text())
    if logs:
        section.fail("web killed: unexpected errors logged: " + " | ".join(logs[:3]))
