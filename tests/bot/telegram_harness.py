"""The real bot against the fake Bot API: start it, talk to it, see what it answered.

`running_bot` builds the application exactly as the worker does (`build_application`,
`start_telegram`, long polling) on a migrated database, with the clock fixed on 1 March
2022 so that the dataset has deadlines to talk about. A handler in a last group marks
each update as processed, so a test waits for the bot to finish instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import TypeHandler

from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.telegram.app import TelegramApplication, build_application, start_telegram, stop_telegram
from config.dataset import Dataset
from config.dataset_loader import load_dataset
from config.settings import Settings, load_settings
from schedulers.timeline import Selection
from tests.fakes.telegram_api import Call, FakeTelegram

MARCH_2022 = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)
OPERATOR = 4242
PROCESSED = "processed_updates"
ALICE = 1001
BOB = 1002


@functools.cache
def dataset() -> Dataset:
    return load_dataset()


@dataclass
class Broadcasts:
    """Stands in for the alert engine's broadcast: records what it was asked to send."""

    sent: list[tuple[str, Selection]] = field(default_factory=list)

    async def __call__(self, text: str, selection: Selection) -> int:
        self.sent.append((text, selection))
        return 7


@dataclass
class Harness:
    """A running bot and the fake server it talks to."""

    fake: FakeTelegram
    application: TelegramApplication
    store: Store
    settings: Settings
    broadcasts: Broadcasts
    processed: set[int]
    _mark: int = field(default=0, init=False)

    async def send(self, update_id: int) -> list[Call]:
        """Wait until the bot handled update `update_id`; the calls it made meanwhile."""
        start = self._mark
        await self.fake.wait_for(lambda: update_id in self.processed)
        self._mark = len(self.fake.calls)
        return [c for c in self.fake.calls[start:] if c.method.lower() != "getupdates"]

    def __post_init__(self) -> None:
        self._mark = len(self.fake.calls)

    def checkpoint(self) -> None:
        self._mark = len(self.fake.calls)

    async def say(
        self, chat: Mapping[str, Any], user: Mapping[str, Any] | None, text: str, **kw: Any
    ) -> list[Call]:
        self.checkpoint()
        return await self.send(self.fake.say(chat, user, text, **kw))

    async def press(
        self, message: Mapping[str, Any], user: Mapping[str, Any], data: str
    ) -> list[Call]:
        self.checkpoint()
        return await self.send(self.fake.press(message, user, data))

    async def post(self, chat: Mapping[str, Any], text: str) -> list[Call]:
        self.checkpoint()
        return await self.send(self.fake.post(chat, text))

    async def queue(self, update: dict[str, Any]) -> list[Call]:
        self.checkpoint()
        return await self.send(self.fake.queue(update))


def private(user_id: int, name: str = "Ada") -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": name}


def texts_of(calls: list[Call], method: str = "sendMessage") -> list[str]:
    return [c.text for c in calls if c.method == method]


def only_message(calls: list[Call]) -> Call:
    sent = [c for c in calls if c.method in ("sendMessage", "editMessageText")]
    assert len(sent) == 1, [c.method for c in calls]
    return sent[0]


def answers(calls: list[Call]) -> list[str]:
    return [str(c.params.get("text", "")) for c in calls if c.method == "answerCallbackQuery"]


def button_data(call: Call) -> list[str]:
    return [b["callback_data"] for b in call.buttons if "callback_data" in b]


@asynccontextmanager
async def running_bot(
    fake: FakeTelegram,
    database_url: str,
    *,
    operators: tuple[int, ...] = (OPERATOR,),
    clock: Any = None,
    **overrides: str,
) -> AsyncIterator[Harness]:
    """The bot, polling the fake, on a migrated database; stopped and closed afterwards."""
    await upgrade(database_url)
    store = Store(create_engine(database_url))
    settings = load_settings(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.base_url,
        TELEGRAM_ADMIN_IDS=",".join(str(o) for o in operators),
        PUBLIC_BASE_URL="https://watch.example.org",
        DATABASE_URL=database_url,
        **overrides,
    )
    now = clock or (lambda: MARCH_2022)
    publisher = Publisher(dataset(), store, settings.public_base_url, clock=now)
    broadcasts = Broadcasts()
    application = build_application(
        settings, store, publisher, dataset(), now, broadcast=broadcasts
    )
    processed: set[int] = set()

    async def mark(update: Update, context: Any) -> None:
        processed.add(update.update_id)

    application.add_handler(TypeHandler(Update, mark), group=99)
    await start_telegram(application, settings)
    try:
        yield Harness(fake, application, store, settings, broadcasts, processed)
    finally:
        await stop_telegram(application)
        await store.close()
