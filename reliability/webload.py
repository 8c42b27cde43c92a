"""Load on a web process: calendar apps and API readers, from a process of its own.

`WebLoad.start` runs `python -m reliability.webload` with what to ask for; the child
runs `readers` readers, each on a keep-alive connection of its own, asking for one kind
of thing at its share of the offered rate (and again at once when an answer took longer
than that: a slow server is loaded harder, as it is by real clients), until it is
stopped, then reports every request: when it started, how long it took, and its status
(0 when no answer came: refused, reset, timed out).
A calendar app that already has a feed asks with If-None-Match, as real ones do.
Running apart keeps the load's own CPU out of the fakes' and the suite's way.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

TIMEOUT = 10.0


@dataclass(frozen=True)
class Sample:
    """One request: when it started (epoch seconds), how long it took, what came back."""

    kind: str
    started: float
    seconds: float
    status: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 or self.status == 304


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank); 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class LoadReport:
    """What the load saw, over the whole run or a window of it."""

    samples: list[Sample]

    def between(self, start: float, end: float) -> LoadReport:
        return LoadReport([s for s in self.samples if start <= s.started < end])

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def rate(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        span = max(s.started + s.seconds for s in self.samples) - min(
            s.started for s in self.samples
        )
        return len(self.samples) / span if span > 0 else 0.0

    def error_statuses(self) -> str:
        """The failed requests by status (0: no answer), e.g. `500 x3, 0 x1`."""
        counts = collections.Counter(s.status for s in self.errors)
        return ", ".join(f"{status} x{n}" for status, n in counts.most_common()) or "none"

    def headline(self) -> str:
        """`N requests, R/s, latency p50 X ms, p99 Y ms, errors E`."""
        if not self.samples:
            return "no requests"
        latencies = [s.seconds for s in self.samples]
        return (
            f"{len(self.samples)} requests, {self.rate():.0f}/s, "
            f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"errors (not 2xx/304) {len(self.errors)}"
        )

    def summary(self) -> str:
        """The headline, and the requests and latencies of each kind."""
        if not self.samples:
            return "no requests"
        line = self.headline()
        kinds = sorted({s.kind for s in self.samples})
        parts = []
        for kind in kinds:
            mine = [s.seconds for s in self.samples if s.kind == kind]
            parts.append(
                f"{kind} {len(mine)} (p50 {statistics.median(mine) * 1000:.0f} ms, "
                f"p99 {percentile(mine, 0.99) * 1000:.0f} ms)"
            )
        return f"{line}; " + ", ".join(parts)


@dataclass(frozen=True)
class Target:
    """One kind of request: a name for the figures and the paths it picks from."""

    kind: str
    paths: tuple[str, ...]
    gzip: bool = False


def service_targets(tokens: Sequence[str], countries: Sequence[str]) -> list[Target]:
    """The mix of requests a running service sees: calendars, personal calendars, the API."""
    return [
        Target("calendar", ("/calendar.ics",)),
        Target(
            "calendar-filtered",
            tuple(f"/calendar.ics?country={code}&lang=es" for code in countries[:20]),
            gzip=True,
        ),
        Target("personal", tuple(f"/calendar/{token}.ics" for token in tokens) or ("/",)),
        Target(
            "api",
            (
                "/api/upcoming",
                *(f"/api/upcoming?country={code}&days=60" for code in countries[:20]),
            ),
        ),
    ]


class WebLoad:
    """The load process: start it, stop it, read its report."""

    def __init__(self, base_url: str, targets: Sequence[Target], readers: int, rate: float) -> None:
        self.base_url = base_url
        self.targets = list(targets)
        self.readers = readers
        self.rate = rate  # requests a second offered, in all
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> WebLoad:
        spec = {
            "base_url": self.base_url,
            "readers": self.readers,
            "rate": self.rate,
            "targets": [[t.kind, list(t.paths), t.gzip] for t in self.targets],
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "reliability.webload"],
            cwd=Path(__file__).resolve().parents[1],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(spec) + "\n")
        self._process.stdin.flush()
        return self

    def stop(self) -> LoadReport:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        out, _ = self._process.communicate(timeout=TIMEOUT * 3)
        rows = json.loads(out or "[]")
        return LoadReport([Sample(*row) for row in rows])


async def _hammer(spec: dict[str, Any], stop: asyncio.Event) -> list[Sample]:
    targets = [Target(kind, tuple(paths), gzip) for kind, paths, gzip in spec["targets"]]
    samples: list[Sample] = []
    etags: dict[str, str] = {}
    rng = random.Random(7)

    readers = int(spec["readers"])
    interval = readers / float(spec["rate"])  # each reader's share of the offered rate

    async def reader(target: Target, number: int) -> None:
        """One calendar app or API client: its own connection, asking at its pace (at
        once when an answer took longer than that)."""
        async with httpx.AsyncClient(
            base_url=str(spec["base_url"]), timeout=TIMEOUT, trust_env=False
        ) as client:
            due = time.perf_counter() + interval * number / readers
            while not stop.is_set():
                pause = due - time.perf_counter()
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
                    if stop.is_set():
                        break
                due = max(due + interval, time.perf_counter())
                path = rng.choice(target.paths)
                headers = {"Accept-Encoding": "gzip" if target.gzip else "identity"}
                if path in etags and rng.random() < 0.5:
                    headers["If-None-Match"] = etags[path]
                started, clock = time.time(), time.perf_counter()
                try:
                    response = await client.get(path, headers=headers)
                    status = response.status_code
                    if status == 200 and "etag" in response.headers:
                        etags[path] = response.headers["etag"]
                except httpx.HTTPError:
                    status = 0
                    await asyncio.sleep(0.01)  # a refused connection answers at once
                samples.append(Sample(target.kind, started, time.perf_counter() - clock, status))

    tasks = [asyncio.create_task(reader(targets[n % len(targets)], n)) for n in range(readers)]
    await stop.wait()
    await asyncio.wait(tasks, timeout=TIMEOUT)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return samples


async def _main() -> None:
    spec = json.loads(sys.stdin.readline())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    samples = await _hammer(spec, stop)
    json.dump([[s.kind, s.started, s.seconds, s.status] for s in samples], sys.stdout)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
