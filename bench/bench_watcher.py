"""Benchmark: one poll cycle of the watcher over 100 sources on the local fake UNODC site.

The mix is what a day looks like: 60 pages unchanged (answered 304), 25 changed (a new
version at every request, read, diffed and searched for dates), 15 failing (HTTP 500,
HTTP 404, connection refused). The fake site runs in a child process, so the CPU time
measured is the watcher's own (fetching, parsing, extraction and the SQLite writes).
Pages are read by the service's own `ProcessReader`, so the CPU time measured here is the
fetching and bookkeeping; the reading is in the child. Last, a hostile page (200 lines of
the shape that once froze the worker) is polled while a 10 ms timer measures the event
loop's longest stall. Prints figures; asserts nothing. Run with `make bench` or directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake site lives with the tests

import httpx  # noqa: E402

from bot.db.migrate import upgrade  # noqa: E402
from bot.db.store import Store  # noqa: E402
from bot.delivery.watch import build_watcher  # noqa: E402
from config.dataset import Source  # noqa: E402
from config.dataset_loader import load_dataset  # noqa: E402
from config.settings import load_settings  # noqa: E402
from feeds.extract import extract_findings  # noqa: E402
from feeds.fetch import LOOPBACK_NETWORKS  # noqa: E402
from feeds.reading import ProcessReader  # noqa: E402
from tests.fakes.unodc_site import Page, fixture, serve_in_process  # noqa: E402

UNCHANGED, CHANGED, FAILING = 60, 25, 15
ROUNDS = 5
NOW = dt.datetime(2031, 1, 10, 9, tzinfo=dt.UTC)
TARGET_SECONDS = 2.0
PATHOLOGICAL = "Registration " + "1 " * 30 + "x 15 March 2027"
STALL_TARGET = 0.2


def _pages() -> dict[str, Page]:
    page = fixture("constructive-dialogues-v1.html")
    rotating = page.replace(
        b"    </ul>",
        b"      <li>Constructive Dialogue on Firearms: {n} May 2031. Register here until "
        b"{n} March 2031 midnight Vienna time.</li>\n    </ul>",
    )
    pages = {f"/unchanged/{i}.html": Page(body=page) for i in range(UNCHANGED)}
    pages.update({f"/changed/{i}.html": Page(body=rotating, rotating=True) for i in range(CHANGED)})
    hostile = "".join(f"<p>{PATHOLOGICAL}</p>" for _ in range(200))
    pages["/hostile.html"] = Page(body=f"<main><h2>Dialogue</h2>{hostile}</main>".encode())
    for i in range(FAILING):
        if i % 3 == 0:
            pages[f"/failing/{i}.html"] = Page(body=b"<h1>Server error</h1>", status=500)
    return pages


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sources(base: str) -> list[Source]:
    closed = _closed_port()
    urls = [f"{base}/unchanged/{i}.html" for i in range(UNCHANGED)]
    urls += [f"{base}/changed/{i}.html" for i in range(CHANGED)]
    for i in range(FAILING):
        urls.append(
            f"{base}/failing/{i}.html"  # 500
            if i % 3 == 0
            else f"{base}/missing/{i}.html"  # 404
            if i % 3 == 1
            else f"http://127.0.0.1:{closed}/refused/{i}.html"
        )
    return [
        Source(id=f"s{n:03d}", url=url, source="bench", confidence="reported")
        for n, url in enumerate(urls)
    ]


async def _run(base: str, directory: Path) -> None:
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    await upgrade(url)
    store = await Store.open(url)
    sources = _sources(base)
    dataset = dataclasses.replace(load_dataset(), sources={s.id: s for s in sources})
    # All 100 sources are on one local host: the politeness delay would only measure itself.
    settings = load_settings(WATCHER_HOST_DELAY=0)
    ids = [s.id for s in sources]
    hostile = Source(
        id="hostile", url=f"{base}/hostile.html", source="bench", confidence="reported"
    )
    try:
        async with (
            httpx.AsyncClient(timeout=5.0, trust_env=False) as client,
            ProcessReader() as reader,
        ):
            watcher = build_watcher(
                settings, dataset, store, client, reader, allowed=LOOPBACK_NETWORKS
            )
            first = await watcher.poll_due(NOW)  # the baseline of every page
            walls, cpus = [], []
            mix: Counter[str] = Counter()
            for round_number in range(1, ROUNDS + 1):
                now = NOW + dt.timedelta(hours=4 * round_number)
                cpu, wall = time.process_time(), time.perf_counter()
                outcomes = await watcher.check(ids, now)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                mix = Counter(o.result for o in outcomes)
            watcher.sources[hostile.id] = hostile
            stall, (worst,) = await _longest_stall(watcher.check([hostile.id], NOW))
    finally:
        await store.close()
    count = len(sources)
    print(f"watcher: one poll cycle over {count} sources on the local fake site, SQLite store")
    print(f"  first cycle (every page new, baseline): {len(first.outcomes)} sources polled")
    print(f"  mix of a measured cycle: {dict(sorted(mix.items()))}")
    wall_median, cpu_median = statistics.median(walls), statistics.median(cpus)
    print(
        f"  wall time per cycle: median {wall_median * 1000:7.1f} ms, "
        f"max {max(walls) * 1000:7.1f} ms (target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if max(walls) < TARGET_SECONDS else 'MISSED'})"
    )
    print(
        f"  CPU per cycle:       median {cpu_median * 1000:7.1f} ms, "
        f"per source {cpu_median / count * 1000:5.2f} ms"
    )
    print(f"  wall per source:     {wall_median / count * 1000:5.2f} ms ({ROUNDS} rounds)")
    print("  (per-host politeness delay off: all sources share one host here)")
    _reading_speed()
    started = time.perf_counter()
    extract_findings([PATHOLOGICAL], dt.date(2027, 1, 1))
    line_ms = (time.perf_counter() - started) * 1000
    print(f"  the pathological line with 30 repetitions: read in {line_ms:.2f} ms")
    print(
        f"  a page of 200 such lines: {worst.result} in {worst.elapsed * 1000:.0f} ms; the loop's "
        f"longest stall meanwhile {stall * 1000:.1f} ms (target < {STALL_TARGET * 1000:.0f} ms: "
        f"{'met' if stall < STALL_TARGET else 'MISSED'})"
    )


def _reading_speed() -> None:
    """How fast the date grammar reads: the fixture page's lines, and a mix in six languages."""
    from feeds.formats import read_document

    page = read_document("html", fixture("constructive-dialogues-v1.html"), "text/html").lines
    mixed = [
        "Constructive Dialogue on Firearms: 5 May 2027. Register here until 12 February 2027 "
        "midnight Vienna time.",
        "Le dialogue constructif sur la traite des personnes aura lieu le 8 octobre 2027.",
        "Конструктивный диалог по огнестрельному оружию: 5 мая 2027 года.",
        "الحوار البناء بشأن الأسلحة النارية: ٥ أيار/مايو ٢٠٢٧",
        "关于枪支问题的建设性对话：2027年5月5日",
        "Solicitudes hasta el 15 de enero de 2027 a las 18:00, hora de Ciudad de México.",
        "The Working Group meets on 3 and 4 June 2027; nothing else is said on this line.",
        "A line of ordinary prose with no date in it at all, as most lines of a page are.",
    ] * 25
    extract_findings(mixed[:8], dt.date(2027, 1, 1))  # warm: zone names, compiled patterns
    for name, lines in (("the fixture page", page), ("a six-language mix", mixed)):
        rounds, started = 0, time.perf_counter()
        while time.perf_counter() - started < 1.0:
            extract_findings(lines, dt.date(2027, 1, 1))
            rounds += 1
        seconds = (time.perf_counter() - started) / rounds
        print(
            f"  reading {name} ({len(lines)} lines): {seconds * 1000:6.2f} ms, "
            f"{len(lines) / seconds:,.0f} lines/s"
        )


async def _longest_stall(work: Any) -> tuple[float, Any]:
    """Run `work` while a 10 ms timer records the longest pause of the loop."""
    longest = 0.0

    async def beat() -> None:
        nonlocal longest
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            longest = max(longest, loop.time() - last - 0.01)
            last = loop.time()

    ticker = asyncio.create_task(beat())
    try:
        result = await work
    finally:
        ticker.cancel()
    return longest, result


def main() -> None:
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    logging.getLogger("untoc_watch").setLevel(logging.ERROR)  # 15 failures a cycle, by design
    with tempfile.TemporaryDirectory() as tmp:
        serving = serve_in_process(_pages())
        base = next(serving)
        try:
            asyncio.run(_run(base, Path(tmp)))
        finally:
            serving.close()


if __name__ == "__main__":
    main()
