"""Reading pages away from the loop: the grammar stays linear, and a slow page stops alone."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from feeds.extract import _filler_start, extract_findings
from feeds.fetch import LOOPBACK_NETWORKS, AddressPolicy, Fetcher, HostPacer
from feeds.formats import UnreadableDocument
from feeds.ledger import MemoryLedger
from feeds.reading import ProcessReader, ThreadReader
from feeds.watcher import Watcher
from tests.feeds.test_watcher import PAGE, make_source

# The shape that froze the worker: a run of numbers that two filler tokens both read.
PATHOLOGICAL = "Registration " + "1 " * 30 + "x 15 March 2027"
NOW = dt.datetime(2027, 1, 10, 9, tzinfo=dt.UTC)


def spin(seconds: float) -> str:
    """Pure CPU work, the way a pathological page keeps a reader busy."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return "done"


def allocate(size: int) -> int:
    return len(bytearray(size))


class Heartbeat:
    """The longest pause between ticks of a 10 ms timer on the running loop."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            self.longest = max(self.longest, now - last - 0.01)
            last = now

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


@pytest.mark.timeout(10)
@pytest.mark.parametrize("repeats", [14, 20, 30, 300])
def test_the_filler_grammar_reads_a_run_of_numbers_in_linear_time(repeats):
    # The old single regex took ~4x longer per "1": 20 took 7.7 s, 30 would take days.
    line = "Registration " + "1 " * repeats + "x 15 March 2027"
    assert isinstance(extract_findings([line], dt.date(2027, 1, 1)), list)
    assert _filler_start("1 " * repeats + "x") == 2 * repeats + 1
    # and the same run, all filler, still leads a deadline phrase to its date
    deadline = (
        "Constructive Dialogue on Firearms: register until " + "1 " * repeats + "15 March 2027"
    )
    (finding,) = extract_findings([deadline], dt.date(2027, 1, 1))
    assert finding.closing is not None
    assert finding.closing.day == dt.date(2027, 3, 15)


@pytest.mark.parametrize(
    ("clause", "head"),
    [
        ("Register here until ", "Register here until "),
        ("Deadline: 11:55 p.m. CET, on the ", "Deadline"),
        ("Apply by midnight Vienna time on ", "Apply by"),
        ("inscriptions jusqu'au 12h00 heure de Vienne, le ", "inscriptions jusqu'au"),
        ("15:11h00 ", ""),
    ],
)
def test_the_filler_run_is_where_it_was(clause, head):
    assert clause[: _filler_start(clause)].rstrip() == head.rstrip()


async def test_a_page_over_its_time_limit_is_unreadable_and_the_next_page_is_read():
    async with ProcessReader(seconds=0.5) as reader:
        with pytest.raises(UnreadableDocument, match="more than"):
            await reader.call(spin, 30.0)
        assert await reader.call(spin, 0.0) == "done"


async def test_a_page_that_needs_too_much_memory_fails_in_the_child_alone():
    async with ProcessReader(memory_bytes=512 * 1024 * 1024) as reader:
        with pytest.raises(UnreadableDocument, match="memory"):
            await reader.call(allocate, 2 * 1024 * 1024 * 1024)
        assert await reader.call(allocate, 1024) == 1024


async def test_a_busy_reader_leaves_the_loop_free():
    async with ProcessReader() as reader:
        await reader.call(spin, 0.0)  # started
        async with Heartbeat() as beat:
            assert await reader.call(spin, 1.0) == "done"
    assert beat.longest < 0.2


async def test_in_a_thread_the_same_work_would_stall_the_loop():
    # What the process reader is for: a regex or parser holding the interpreter lock.
    async with Heartbeat() as beat:
        await ThreadReader().call(_filler_start, "1 " * 12 + "x")  # warm
        await ThreadReader().call(_long_match, 0.5)
    assert beat.longest >= 0.2


def _long_match(seconds: float) -> None:
    """One regex call that holds the interpreter lock for about `seconds`."""
    import re

    pattern = re.compile(r"(?:\s|\d\s*)*$")  # the old filler's overlap, in small
    repeats = 12
    while True:
        started = time.perf_counter()
        pattern.search("1 " * repeats + "x")
        if time.perf_counter() - started >= seconds:
            return
        repeats += 1


async def test_the_watcher_reads_the_worst_page_without_stalling_the_loop(site, fetcher):
    lines = "".join(f"<p>{PATHOLOGICAL}</p>" for _ in range(200))
    site.publish(PAGE, f"<main><h2>Constructive Dialogue on Firearms</h2>{lines}</main>")
    async with ProcessReader() as reader:
        watcher = Watcher([make_source(site)], fetcher, MemoryLedger(), reader=reader)
        await reader.call(spin, 0.0)  # started
        async with Heartbeat() as beat:
            (outcome,) = await watcher.check(["cd"], NOW)
    assert outcome.result == "baseline", outcome.message
    assert outcome.findings >= 1
    assert beat.longest < 0.2


async def test_pathological_html_within_the_size_cap_is_stopped_at_the_time_limit(site, client):
    # 1.7 million empty links (5 MB, under the cap) once took a minute and 1.1 GB to parse.
    site.publish(PAGE, b"<main>" + b"<a>" * 1_700_000 + b"</main>")
    fetcher = Fetcher(
        client,
        user_agent="test",
        policy=AddressPolicy(allowed=LOOPBACK_NETWORKS),
        pacer=HostPacer(0.0),
    )
    async with ProcessReader(seconds=2.0) as reader:
        watcher = Watcher([make_source(site)], fetcher, MemoryLedger(), reader=reader)
        await reader.call(spin, 0.0)  # started
        async with Heartbeat() as beat:
            (outcome,) = await watcher.check(["cd"], NOW)
        assert outcome.result == "failed"
        assert "more than 2 s" in outcome.message
        assert beat.longest < 0.2
        # and the reader goes on with the next page
        site.publish(PAGE, b"<main><p>Constructive Dialogue on Firearms: 5 May 2027</p></main>")
        (again,) = await watcher.check(["cd"], NOW)
    assert again.result in {"baseline", "changed"}, again.message
