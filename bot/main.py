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
import re
import signal
import ssl
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.db.store import Store, StoreNotReady
from config.dataset import Dataset
from config.dataset_loader import load_dataset
from config.keys import DIFFERENT_KEY, KeyFileError, calendar_key, key_fingerprint
from config.settings import Settings
from schedulers.timeline import Deadline, Selection

if TYPE_CHECKING:
    from bot.channels.base import Channel

log = logging.getLogger("untoc_watch")
# A personal calendar's address holds its token, a secret: the access log shows it without.
_CALENDAR_PATH = re.compile(r"/calendar/[^/?#\s]+\.ics")
# So do the links of email subscribers (confirm, manage, unsubscribe).
_EMAIL_PATH = re.compile(r"/email/(confirm|manage|unsubscribe)/[^/?#\s]+")

EXPECTED_PREVIEW_DAYS = 400
WORKER_PREVIEW_DAYS = 60
WATCH_EVERY = dt.timedelta(minutes=1)  # each source keeps its own interval; this checks who is due


@dataclass
class Service:
    """The parts both processes share."""

    settings: Settings
    dataset: Dataset
    # Makes the personal calendar links; the web checks them with it (config/keys.py).
    calendar_key: bytes
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
    for noisy in ("alembic", "apscheduler", "httpx", "httpcore"):  # httpx logs request URLs
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if settings.telegram_bot_token is not None:
        # loaded only where this process runs it (web or worker, each service when configured)
        from bot.telegram.app import protect_token

        protect_token(settings)  # the token is part of every Bot API URL
    try:
        key = calendar_key(settings)
    except (KeyFileError, OSError) as exc:
        log.error("the calendar key cannot be read: %s", exc)
        raise SystemExit(2) from None
    service = Service(
        settings=settings,
        dataset=load_dataset(settings.data_dir, cache_dir=settings.cache_dir),
        calendar_key=key,
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
    if service.store is not None:
        fingerprint = key_fingerprint(service.calendar_key)
        if not await service.store.calendar_key_agrees(fingerprint, dt.datetime.now(dt.UTC)):
            await service.store.close()
            log.error("%s", DIFFERENT_KEY)
            raise SystemExit(2)
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
    # loaded only where this process runs it (web or worker, each service when configured)
    import uvicorn

    from bot.filters.query import Query
    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from bot.web.server import server_config

    settings = service.settings
    publisher = Publisher(service.dataset, service.store, settings.public_base_url)
    await publisher.feed(Query())  # the first calendar app to ask should not wait
    routes = []
    if settings.slack_bot_token is not None:  # the settings then require the signing secret
        # loaded only where this process runs it (web or worker, each service when configured)
        from bot.slack.app import build_slack_app, slack_routes

        slack = build_slack_app(
            settings,
            service.store,
            publisher,
            service.dataset,
            publisher.clock,
            calendar_key=service.calendar_key,
        )
        routes += slack_routes(slack, settings)
    telegram = None
    webhook_secret = settings.telegram_webhook_secret
    if settings.telegram_webhook_url and webhook_secret and service.store is not None:
        # loaded only where this process runs it (web or worker, each service when configured)
        from bot.telegram.app import build_application
        from bot.telegram.webhook import start_receiving, telegram_routes

        telegram = build_application(
            settings,
            service.store,
            publisher,
            service.dataset,
            publisher.clock,
            calendar_key=service.calendar_key,
        )
        await start_receiving(telegram)
        routes += telegram_routes(telegram, webhook_secret.get_secret_value())
    config = server_config(
        create_app(settings, service.dataset, publisher, routes, calendar_key=service.calendar_key),
        settings,
        host or settings.web_host,
        port or settings.web_port,
    )
    logging.getLogger("uvicorn.access").addFilter(HideCalendarTokens())  # after its set-up
    server = uvicorn.Server(config)
    log.info(
        "web: open http://%s:%s/ (calendar: /calendar.ics, API: /api/upcoming, health: /readyz)",
        config.host,
        config.port,
    )
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    stopping.cancel()
    stop.set()
    if telegram is not None:
        # loaded only where this process runs it (web or worker, each service when configured)
        from bot.telegram.app import stop_telegram

        await stop_telegram(telegram)


async def email_channel(
    settings: Settings,
    store: Store,
    calendar_key: bytes,
    tls_context: ssl.SSLContext | None = None,
) -> Channel | None:
    """The email channel when `SMTP_URL` and `MAIL_FROM` are set, its links signed with
    the service's email key; `tls_context` only for a relay with a private CA."""
    if settings.smtp_url is None or settings.mail_from is None:
        return None
    # loaded only when email is configured, like each chat service
    from bot.channels.base import calendar_links
    from bot.delivery.email_signup import EmailKeys
    from bot.email.channel import EmailChannel, subscriber_links
    from bot.publishing.publisher import system_clock
    from config.settings import parse_smtp_url

    secret = settings.email_secret.get_secret_value() if settings.email_secret else None
    keys = EmailKeys(store, secret)
    return EmailChannel(
        parse_smtp_url(settings.smtp_url.get_secret_value()),
        settings.mail_from,
        system_clock,
        subscriber_links(
            settings.public_base_url,
            await keys.secret(system_clock()),
            calendar_links(settings.public_base_url, calendar_key),
        ),
        tls_context=tls_context,
    )


class HideCalendarTokens(logging.Filter):
    """Writes `/calendar/<token>.ics` for every personal calendar in an access log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _EMAIL_PATH.sub(
                    r"/email/\1/<token>", _CALENDAR_PATH.sub("/calendar/<token>.ics", arg)
                )
                if isinstance(arg, str)
                else arg
                for arg in record.args
            )
        return True


async def _run_worker(service: Service, stop: asyncio.Event) -> None:
    """Show what is coming, then plan and deliver alerts until stopped."""
    # loaded only where this process runs it (web or worker, each service when configured)
    from bot.channels.base import Target, calendar_links
    from bot.channels.console import ConsoleChannel
    from bot.delivery.broadcasts import enqueue_broadcast
    from bot.delivery.dispatcher import Dispatcher
    from bot.delivery.watch import build_watcher
    from bot.delivery.worker import AlertPlanner, Worker
    from bot.publishing.publisher import Publisher, system_clock
    from bot.slack.channel import APP_TARGET, WEBHOOK_TARGET, SlackChannel
    from bot.slack.targets import ensure_default_webhook
    from bot.text.console import make_console
    from feeds.fetch import http_client
    from feeds.reading import ProcessReader

    console = make_console()
    publisher = Publisher(service.dataset, service.store, service.settings.public_base_url)
    _show_upcoming(console, await publisher.deadlines(), system_clock())
    if service.store is None:
        log.warning("worker: no usable database; alerts are off until it is migrated")
        await stop.wait()
        return
    settings = service.settings
    channels: dict[str, Channel] = {"console": ConsoleChannel(console, system_clock)}
    slack = SlackChannel(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
        base_url=settings.slack_api_base_url,
        clock=system_clock,
        calendar_link=calendar_links(settings.public_base_url, service.calendar_key),
    )
    channels[APP_TARGET] = channels[WEBHOOK_TARGET] = slack  # built lazily on first send
    if settings.slack_webhook_url is not None:
        await ensure_default_webhook(
            service.store, settings.slack_webhook_url.get_secret_value(), system_clock()
        )
    email = await email_channel(settings, service.store, service.calendar_key)
    if email is not None:
        channels["email"] = email
    telegram = None
    if settings.telegram_bot_token is None:
        log.info("worker: TELEGRAM_BOT_TOKEN is not set; running without Telegram")
    else:
        # loaded only where this process runs it (web or worker, each service when configured)
        from bot.telegram.app import build_application, build_bot, start_telegram
        from bot.telegram.channel import TelegramChannel

        channels["telegram"] = TelegramChannel(
            build_bot(settings),
            system_clock,
            calendar_links(settings.public_base_url, service.calendar_key),
        )

        store = service.store

        async def broadcast(text: str, selection: Selection) -> int:
            return await enqueue_broadcast(
                store, text, selection.countries, uuid.uuid4().hex[:12], system_clock()
            )

        telegram = build_application(
            settings,
            service.store,
            publisher,
            service.dataset,
            system_clock,
            broadcast=broadcast,
            calendar_key=service.calendar_key,
        )
        await start_telegram(telegram, settings)
    chat_services = (
        settings.telegram_bot_token,
        settings.slack_bot_token,
        settings.slack_webhook_url,
    )
    if all(value is None for value in chat_services):
        await _ensure_console_subscriber(service.store)
    socket_mode = None
    if settings.slack_bot_token is not None and settings.slack_app_token is not None:
        # loaded only where this process runs it (web or worker, each service when configured)
        from bot.slack.app import build_slack_app, start_socket_mode

        slack_app = build_slack_app(
            settings,
            service.store,
            publisher,
            service.dataset,
            system_clock,
            calendar_key=service.calendar_key,
        )
        socket_mode = await start_socket_mode(slack_app, settings)
    dispatcher = Dispatcher(
        service.store,
        channels,
        publisher.deadlines,
        system_clock,
        lease=dt.timedelta(seconds=settings.delivery_lease_seconds),
        rates={"telegram": settings.telegram_max_rate, "email": settings.email_max_rate},
        operator_targets=lambda: [
            Target(None, "console", "operator"),
            *(Target(None, "telegram", str(admin)) for admin in settings.telegram_admin_ids),
        ],
    )
    themes = {s.id: frozenset(s.themes) for s in service.dataset.sources.values()}
    planner = AlertPlanner(service.store, publisher, system_clock, themes)
    try:
        async with http_client() as client, ProcessReader() as reader:
            watcher = build_watcher(
                service.settings, service.dataset, service.store, client, reader
            )

            async def watch() -> None:
                await watcher.poll_due(system_clock())

            jobs = [("watch", watch, WATCH_EVERY)] if settings.watcher_enabled else []
            worker = Worker(service.store, planner, dispatcher, extra_jobs=jobs)
            await worker.run(stop)
    finally:
        if telegram is not None:
            # loaded only where this process runs it (web or worker, each service when configured)
            from bot.telegram.app import stop_telegram

            await stop_telegram(telegram)
        if socket_mode is not None:
            # loaded only where this process runs it (web or worker, each service when configured)
            from bot.slack.app import stop_socket_mode

            await stop_socket_mode(socket_mode)
        for channel in set(channels.values()):
            await channel.close()
        log.info("worker: stopped")


async def _ensure_console_subscriber(store: Store) -> None:
    """With no chat service configured, alerts for everything go to this terminal."""
    # loaded only where this process runs it (web or worker, each service when configured)
    from bot.db import subscribers as subs

    async with store.sessions() as session, session.begin():
        await subs.ensure_subscriber(
            session, channel="console", address="stdout", now=dt.datetime.now(dt.UTC)
        )


def _show_upcoming(console: Any, deadlines: list[Deadline], now: dt.datetime) -> None:
    # loaded only where this process runs it (web or worker, each service when configured)
    from bot.text.console import deadline_table
    from bot.text.render import when_text
    from schedulers.timeline import upcoming

    soon = upcoming(deadlines, now, WORKER_PREVIEW_DAYS)
    if soon:
        title = f"UNTOC Watch: open deadlines in the next {WORKER_PREVIEW_DAYS} days"
        console.print(deadline_table(soon, title))
    if not [d for d in soon if d.status != "expected"]:
        # never a dead end: what the rhythm makes likely next, and what did happen last
        ahead = [
            d for d in upcoming(deadlines, now, EXPECTED_PREVIEW_DAYS) if d.status == "expected"
        ]
        if ahead and not soon:
            console.print(deadline_table(ahead[:5], "Expected next (projected, not announced yet)"))
        past = [d for d in deadlines if d.kind == "event" and d.status == "done"]
        latest = max(past, key=lambda d: d.sort_key) if past else None
        console.print(
            f"Nothing is announced for the next {WORKER_PREVIEW_DAYS} days. "
            + (
                f"The latest event on record is {latest.title!r}, {when_text(latest)}. "
                if latest
                else ""
            )
            + "Expected dates come from the mechanism's rhythm and are replaced when UNODC "
            "announces them: `untoc-watch upcoming --days 365`; one State's review: "
            "`untoc-watch timeline AT`; to add dates, see docs/DATASET.md."
        )
    log.info(
        "worker: %d deadlines known, %d in the next %d days",
        len(deadlines),
        len(soon),
        WORKER_PREVIEW_DAYS,
    )
