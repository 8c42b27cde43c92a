"""The composition root: builds every long-lived part once, runs them on one event loop.

`run_service` is what `untoc-watch run`, `web` and `worker` call. Nothing in the project
opens a connection or builds a client at import time; everything is made here and
closed here, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from dataclasses import dataclass
from typing import Any

from bot.store import Store, StoreNotReady
from config.dataset import Dataset, load_dataset
from config.settings import Settings
from schedulers.timeline import Deadline

log = logging.getLogger("untoc_watch")

WORKER_PREVIEW_DAYS = 60


@dataclass
class Service:
    """The parts both processes share."""

    settings: Settings
    dataset: Dataset
    store: Store | None = None


def run_service(
    settings: Settings,
    *,
    web: bool,
    worker: bool,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Run the web app and/or the worker until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    service = Service(
        settings=settings,
        dataset=load_dataset(settings.data_dir, cache_dir=settings.cache_dir),
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(service, web=web, worker=worker, host=host, port=port))


async def _serve(
    service: Service, *, web: bool, worker: bool, host: str | None, port: int | None
) -> None:
    try:
        service.store = await Store.open(service.settings.database_url)
    except StoreNotReady as exc:
        log.warning("%s; serving the dataset without recorded dates", exc)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if web:
        tasks.append(asyncio.create_task(_run_web(service, host, port, stop), name="web"))
    else:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    if worker:
        tasks.append(asyncio.create_task(_run_worker(service, stop), name="worker"))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in done:
            task.result()  # surface a crash instead of running half a service
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if service.store is not None:
            await service.store.close()


async def _run_web(
    service: Service, host: str | None, port: int | None, stop: asyncio.Event
) -> None:
    import uvicorn

    from bot.publisher import Publisher
    from bot.query import Query
    from bot.web import create_app

    settings = service.settings
    publisher = Publisher(service.dataset, service.store, settings.public_base_url)
    await publisher.feed(Query())  # the first calendar app to ask should not wait
    config = uvicorn.Config(
        create_app(settings, service.dataset, publisher),
        host=host or settings.web_host,
        port=port or settings.web_port,
        log_level="info",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    log.info("web: open http://%s:%s/api/upcoming (health: /healthz)", config.host, config.port)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    stopping.cancel()
    stop.set()


async def _run_worker(service: Service, stop: asyncio.Event) -> None:
    """Show what is coming, then plan and deliver alerts until stopped."""
    from bot.channels.base import Channel, Target
    from bot.channels.console import ConsoleChannel
    from bot.console import make_console
    from bot.delivery import Dispatcher
    from bot.publisher import Publisher, system_clock
    from bot.worker import AlertPlanner, Worker

    console = make_console()
    publisher = Publisher(service.dataset, service.store, service.settings.public_base_url)
    _show_upcoming(console, await publisher.deadlines(), system_clock())
    if service.store is None:
        log.warning("worker: no usable database; alerts are off until it is migrated")
        await stop.wait()
        return
    channels: dict[str, Channel] = {"console": ConsoleChannel(console, system_clock)}
    if set(channels) == {"console"}:
        await _ensure_console_subscriber(service.store)
    dispatcher = Dispatcher(
        service.store,
        channels,
        publisher.deadlines,
        system_clock,
        operator_targets=lambda: [Target(None, "console", "operator")],
    )
    worker = Worker(service.store, AlertPlanner(service.store, publisher, system_clock), dispatcher)
    try:
        await worker.run(stop)
    finally:
        for channel in channels.values():
            await channel.close()
        log.info("worker: stopped")


async def _ensure_console_subscriber(store: Store) -> None:
    """With no chat service configured, alerts for everything go to this terminal."""
    from bot.db import subscribers as subs

    async with store._sessions() as session, session.begin():
        await subs.ensure_subscriber(
            session, channel="console", address="stdout", now=dt.datetime.now(dt.UTC)
        )


def _show_upcoming(console: Any, deadlines: list[Deadline], now: dt.datetime) -> None:
    from bot.console import deadline_table
    from schedulers.timeline import upcoming

    soon = upcoming(deadlines, now, WORKER_PREVIEW_DAYS)
    console.print(
        deadline_table(soon, f"UNTOC Watch: open deadlines in the next {WORKER_PREVIEW_DAYS} days")
    )
    if not soon:
        overdue = [d for d in deadlines if d.status == "overdue"]
        latest = max((d for d in deadlines if d.kind == "event"), key=lambda d: d.sort_key)
        console.print(
            f"No open deadline is known for the next {WORKER_PREVIEW_DAYS} days. "
            f"{len(overdue)} review milestones of "
            f"{len({d.country for d in overdue})} States are overdue with no completion "
            f"recorded (`untoc-watch upcoming --overdue`). The latest known event is "
            f"{latest.title!r} on {latest.local}. To see a busy window, try "
            "`untoc-watch upcoming --as-of 2022-03-01`; to add dates, see docs/DATASET.md."
        )
    log.info(
        "worker: %d deadlines known, %d in the next %d days",
        len(deadlines),
        len(soon),
        WORKER_PREVIEW_DAYS,
    )
