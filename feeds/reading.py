"""Where the watcher reads pages: away from the event loop, within a time and memory budget.

Parsing a page and reading its dates is pure CPU work. On the worker's loop, or in a
thread of its process (which holds the interpreter lock while a regex or a parser runs),
a hostile or pathological page would stall deliveries, the bot and the web app for as long
as it takes. `ProcessReader` runs that work in a child process instead, gives each page a
time limit, and bounds the child's memory; a page over either limit is an
`UnreadableDocument`, which the watcher records and backs off from like any unreadable
page, and the child is replaced. `ThreadReader` is the same contract in a thread, for
callers that read only pages they trust (tests of the watcher's bookkeeping).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.pool
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from feeds.formats import UnreadableDocument

log = logging.getLogger("untoc_watch.watcher")

T = TypeVar("T")

# A page that takes longer than this to read is refused; the largest real UNODC page
# reads in well under a second.
READ_SECONDS = 20.0
# The child's address space: a page (at most the fetcher's cap) and its parse fit easily.
READ_MEMORY_BYTES = 1536 * 1024 * 1024


class PageReader(Protocol):
    """Runs one pure reading function on its arguments, somewhere the loop keeps going."""

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """The function's result; `UnreadableDocument` when the page is over a limit."""
        ...

    async def close(self) -> None:
        """Let go of whatever runs the readings."""
        ...


class ThreadReader:
    """Reads in a thread of this process: no limits, for pages the caller trusts."""

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(function, *args)

    async def close(self) -> None:
        return None


def _limit_memory(limit: int) -> None:
    """In the child: cap its address space, so a page that needs more fails there alone."""
    # `resource` exists on POSIX only; the limit is set in the child alone
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


class ProcessReader:
    """Reads in one child process, one page at a time, with a time and a memory limit.

    The child is started on first use with `spawn` (a fork of a process running threads
    and an event loop is unsafe) and kept for the next pages; a page over its time limit
    ends that child and the next page starts a new one.
    """

    def __init__(
        self, *, seconds: float = READ_SECONDS, memory_bytes: int = READ_MEMORY_BYTES
    ) -> None:
        self.seconds = seconds
        self.memory_bytes = memory_bytes
        self._pool: multiprocessing.pool.Pool | None = None
        self._imported: set[str] = set()  # modules the child has imported already
        self._turn = asyncio.Lock()  # one page at a time: the child has one core to give

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    def _started(self, module: str) -> multiprocessing.pool.Pool:
        """The child, started if need be, with `module` imported (not counted against a page)."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(1, initializer=_limit_memory, initargs=(self.memory_bytes,))
            self._imported = set()
        if module not in self._imported:
            self._pool.apply(_import, (module,))
            self._imported.add(module)
        return self._pool

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        async with self._turn:
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[T] = loop.create_future()

            def settle(result: T) -> None:
                loop.call_soon_threadsafe(_settle, answer, result, None)

            def fail(error: BaseException) -> None:
                loop.call_soon_threadsafe(_settle, answer, None, error)

            # a first start takes a moment (a new interpreter imports the reading code)
            pool = await asyncio.to_thread(self._started, function.__module__)
            pool.apply_async(function, args, callback=settle, error_callback=fail)
            try:
                return await asyncio.wait_for(answer, self.seconds)
            except TimeoutError:
                log.warning("watcher: reading a page took over %g s; stopped it", self.seconds)
                await self._discard()
                raise UnreadableDocument(
                    f"reading the page took more than {self.seconds:g} s, so it was stopped"
                ) from None
            except MemoryError:
                await self._discard()
                raise UnreadableDocument(
                    "reading the page needed more memory than a page may use"
                ) from None

    async def _discard(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.terminate)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(pool.join)


def _import(module: str) -> None:
    importlib.import_module(module)


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.done():  # timed out meanwhile
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)
