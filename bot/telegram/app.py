"""Building the bot and running it on the caller's event loop.

The composition root calls `build_application` (handlers, services, PTB's rate limiter),
then `start_telegram` and, at the end, `stop_telegram`: PTB's own lifecycle
(initialize, start, poll or set the webhook; stop, shut down) on the worker's loop, never
`run_polling`, which would own the loop. The commands are registered per language so
that Telegram shows them in the reader's language. `build_bot` makes the plain `Bot` the
`TelegramChannel` sends alerts with, paced by the delivery loop rather than by PTB.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseUpdateProcessor
from telegram.request import HTTPXRequest

from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.telegram.handlers import add_handlers
from bot.telegram.layout import COMMANDS, OPERATOR_COMMANDS
from bot.telegram.services import SERVICES_KEY, Broadcast, Services
from bot.text.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts
from config.dataset import Dataset
from config.settings import Settings
from schedulers.dates import Clock

log = logging.getLogger(__name__)

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
POLL_TIMEOUT = dt.timedelta(seconds=25)
CONCURRENT_UPDATES = 32
# Alerts are sent 16 at a time; a pool larger than a few connections costs more in the HTTP
# client's bookkeeping than it gains (measured: 8 connections 195/s, 64 connections 121/s).
ALERT_CONNECTIONS = 8


class NoToken(RuntimeError):
    """Telegram was asked for without TELEGRAM_BOT_TOKEN."""


def _token(settings: Settings) -> str:
    if settings.telegram_bot_token is None:
        raise NoToken("TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather")
    return settings.telegram_bot_token.get_secret_value()


def file_url(base_url: str) -> str:
    """PTB's `base_file_url` next to a `base_url` (…/bot -> …/file/bot)."""
    if base_url.endswith("/bot"):
        return base_url[: -len("/bot")] + "/file/bot"
    return base_url.rstrip("/") + "/file/bot"


class OneChatAtATime(BaseUpdateProcessor):
    """Updates of different chats run concurrently; those of one chat in arrival order."""

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: Counter[int] = Counter()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._waiting[chat.id] += 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[chat.id] -= 1
            if not self._waiting[chat.id]:
                del self._waiting[chat.id]
                self._locks.pop(chat.id, None)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def build_bot(settings: Settings) -> Bot:
    """The `Bot` for `TelegramChannel`: no rate limiter, a pool for parallel deliveries."""
    return Bot(
        _token(settings),
        base_url=settings.telegram_api_base_url,
        base_file_url=file_url(settings.telegram_api_base_url),
        request=HTTPXRequest(connection_pool_size=ALERT_CONNECTIONS),
    )


def build_application(
    settings: Settings,
    store: Store,
    publisher: Publisher,
    dataset: Dataset,
    clock: Clock,
    *,
    broadcast: Broadcast | None = None,
    calendar_key: bytes | None = None,
) -> TelegramApplication:
    """The bot with every handler, its services in `bot_data`; not started yet."""
    builder = (
        ApplicationBuilder()
        .token(_token(settings))
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_url(settings.telegram_api_base_url))
        .rate_limiter(AIORateLimiter(max_retries=1))
        .concurrent_updates(OneChatAtATime())
        .job_queue(None)
    )
    if settings.telegram_webhook_url:
        builder = builder.updater(None)
    application: TelegramApplication = builder.build()
    application.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        store=store,
        publisher=publisher,
        dataset=dataset,
        clock=clock,
        broadcast=broadcast,
        calendar_key=calendar_key,
    )
    add_handlers(application)
    return application


async def register_commands(bot: Bot, settings: Settings) -> None:
    """The command menu in each language, and the operators' commands in their chats."""
    for language in (None, *LANGUAGES):
        texts = Texts(language or DEFAULT_LANGUAGE)
        commands = [BotCommand(name, texts(description)) for name, description in COMMANDS]
        await bot.set_my_commands(commands, language_code=language)
    english = Texts(DEFAULT_LANGUAGE)
    everything = [
        BotCommand(name, english(description)) for name, description in COMMANDS + OPERATOR_COMMANDS
    ]
    for operator in sorted(settings.telegram_admin_ids):
        try:
            await bot.set_my_commands(everything, scope=BotCommandScopeChat(operator))
        except TelegramError as error:
            # Telegram knows the chat only once the operator has written to the bot.
            log.info("telegram: no operator menu for %s yet (%s)", operator, error.message)


async def start_telegram(application: TelegramApplication, settings: Settings) -> None:
    """Initialize, register the commands, start, then poll or set the webhook."""
    await application.initialize()
    await register_commands(application.bot, settings)
    await application.start()
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        await application.bot.set_webhook(
            settings.telegram_webhook_url,
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=list(ALLOWED_UPDATES),
        )
        log.info("telegram: @%s receives updates by webhook", application.bot.username)
        return
    assert application.updater is not None
    await application.updater.start_polling(
        timeout=POLL_TIMEOUT, allowed_updates=list(ALLOWED_UPDATES)
    )
    log.info("telegram: @%s is polling for updates", application.bot.username)


async def stop_telegram(application: TelegramApplication) -> None:
    """Stop polling, stop handling, and release connections (safe to call once started)."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


class _TokenRedaction(logging.Filter):
    """Replaces the bot token wherever it would appear in a log line or traceback."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "<TELEGRAM_BOT_TOKEN>")
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<TELEGRAM_BOT_TOKEN>")
        return True


def protect_token(settings: Settings, root: logging.Logger | None = None) -> None:
    """Keep the bot token out of the logs; call once logging is configured.

    The token is part of every Bot API address, and httpx logs each request's address
    at INFO: those lines are silenced, and the token is redacted from anything else the
    root logger's handlers write.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if settings.telegram_bot_token is None:
        return
    redaction = _TokenRedaction(settings.telegram_bot_token.get_secret_value())
    for handler in (root or logging.getLogger()).handlers:
        handler.addFilter(redaction)
