"""Benchmark: building the calendar, and serving it under load on loopback.

Prints figures; asserts nothing about time. Needs `wrk` for the load part (Debian's
package); without it, only the build figures are printed.
Targets on a 2-core machine: full build under 150 ms; the 304 path and the warm full
calendar above 1,500 requests/s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from bot.filters.query import Query
from bot.publishing.publisher import Publisher
from bot.text.i18n import Texts
from config.dataset_loader import load_dataset
from feeds.ical import CalendarBuilder, Version, Words
from schedulers.timeline import compute_deadlines

NOW = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
LOAD_SECONDS = 10


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms, max {max(samples) * 1000:7.1f} ms"


def build_figures() -> None:
    data = load_dataset()
    deadlines = compute_deadlines(data, NOW)
    texts = Texts("en")
    words = Words(gettext=texts, country_name=texts.country)
    cold: list[float] = []
    warm: list[float] = []
    moved: list[float] = []
    for _ in range(5):
        builder = CalendarBuilder("https://watch.example.org")
        start = time.perf_counter()
        builder.build(deadlines, {}, words, name="UNTOC Watch", language="en")
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        builder.build(deadlines, {}, words, name="UNTOC Watch", language="en")
        warm.append(time.perf_counter() - start)
        bumped = {"r-cd-2022-som-tip": Version(len(moved) + 1, NOW)}
        start = time.perf_counter()
        builder.build(deadlines, bumped, words, name="UNTOC Watch", language="en")
        moved.append(time.perf_counter() - start)
    print(f"full calendar ({len(deadlines)} events), first build: {_ms(cold)}")
    print(f"full calendar, rebuild with nothing changed:   {_ms(warm)}")
    print(f"full calendar, rebuild after one date moved:   {_ms(moved)}")
    publisher = Publisher(data, None, "https://watch.example.org", clock=lambda: NOW)
    start = time.perf_counter()
    asyncio.run(publisher.feed(Query()))
    elapsed = (time.perf_counter() - start) * 1000
    print(f"publisher, first feed incl. timeline:          {elapsed:7.1f} ms")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrk(url: str, headers: list[str]) -> tuple[float, str]:
    args = ["wrk", "-t2", "-c32", f"-d{LOAD_SECONDS}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rate = float(found.group(1)) if found else 0.0
    # the latency table's "+/- Stdev" column may end in 99% too: match the p99 row itself
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    extra = f"p99 {p99.group(1) if p99 else '?'}, non-2xx/3xx {errors.group(1) if errors else 0}"
    return rate, extra


def load_figures() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed: skipping the requests/s figures (apt-get install wrk)")
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "UNTOC_CACHE_DIR": f"{tmp}/cache",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
        subprocess.run(
            [sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True
        )
        web = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/calendar.ics"
            for _ in range(200):
                try:
                    with urllib.request.urlopen(url) as response:
                        etag = response.headers["ETag"]
                        size = len(response.read())
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the web process did not start")
            print(f"uvicorn, 1 process, wrk -t2 -c32 -d{LOAD_SECONDS}s, loopback, {size} bytes:")
            rate, extra = _wrk(url, [])
            print(f"  full calendar, warm cache:     {rate:8.0f} requests/s ({extra})")
            rate, extra = _wrk(url, ["Accept-Encoding: gzip"])
            print(f"  full calendar, warm, gzip:     {rate:8.0f} requests/s ({extra})")
            rate, extra = _wrk(url, [f"If-None-Match: {etag}"])
            print(f"  304 Not Modified path:         {rate:8.0f} requests/s ({extra})")
        finally:
            web.terminate()
            web.wait(timeout=10)


if __name__ == "__main__":
    build_figures()
    load_figures()
