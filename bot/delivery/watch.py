"""The watcher in the running service: built from the settings, polling on the worker's loop.

`run_watcher` is what the composition root starts next to the other worker tasks; it
polls the sources that are due, sleeps until the next one is, and stops when `stop` is
set. A failing cycle (the database away, a bug) is logged and retried after a pause:
it never ends the worker. The HTTP client comes from the caller, who closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

import httpx

from config.dataset import Dataset
from config.settings import Settings
from feeds.fetch import AddressPolicy, Fetcher, HostPacer, IPNetwork
from feeds.ledger import WatchLedger
from feeds.reading import PageReader
from feeds.watcher import Watcher
from schedulers.dates import Clock

log = logging.getLogger("untoc_watch.watcher")

# Wake at least this often, and never spin faster than the shortest pause.
MAX_IDLE = dt.timedelta(minutes=5)
MIN_PAUSE = dt.timedelta(seconds=1)
ERROR_PAUSE = dt.timedelta(minutes=1)


def utc_now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def build_watcher(
    settings: Settings,
    dataset: Dataset,
    ledger: WatchLedger,
    client: httpx.AsyncClient,
    reader: PageReader,
    *,
    allowed: tuple[IPNetwork, ...] = (),
) -> Watcher:
    """A watcher over the dataset's sources, fetching with the settings' address policy.

    The caller owns the HTTP client and the page reader, and closes them.
    """
    fetcher = Fetcher(
        client,
        user_agent=settings.watcher_user_agent,
        policy=AddressPolicy(allow_private=settings.watcher_allow_private, allowed=allowed),
        pacer=HostPacer(settings.watcher_host_delay),
    )
    return Watcher(
        dataset.sources.values(),
        fetcher,
        ledger,
        events=dataset.events,
        failure_threshold=settings.watcher_failure_threshold,
        reader=reader,
    )


async def run_watcher(
    settings: Settings,
    dataset: Dataset,
    store: WatchLedger,
    client: httpx.AsyncClient,
    reader: PageReader,
    stop: asyncio.Event,
    clock: Clock = utc_now,
) -> None:
    """Poll the sources as they fall due until `stop` is set."""
    watcher = build_watcher(settings, dataset, store, client, reader)
    log.info("watcher: watching %d sources", len(watcher.sources))
    while not stop.is_set():
        try:
            report = await watcher.poll_due(clock())
            wake = report.next_due or clock() + MAX_IDLE
        except Exception:
            log.exception("watcher: the poll cycle failed; trying again in %s", ERROR_PAUSE)
            wake = clock() + ERROR_PAUSE
        pause = min(max(wake - clock(), MIN_PAUSE), MAX_IDLE)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause.total_seconds())
    log.info("watcher: stopped")
