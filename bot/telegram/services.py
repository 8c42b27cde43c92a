"""What the handlers share: built once by the composition root, kept in `bot_data`.

Handlers never import a global: they read this from their `CallbackContext`, which is
how tests hand the real `Application` a database, a fixed clock and a broadcast recorder.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import personal_calendar_url
from bot.db.engine import Session
from bot.db.store import Store
from bot.filters.vocabulary import Vocabulary
from bot.publishing.publisher import Publisher
from config.dataset import Dataset
from config.keys import calendar_key as read_calendar_key
from config.settings import Settings
from schedulers.dates import Clock
from schedulers.timeline import Selection

SERVICES_KEY = "untoc_watch"
# Queues one message for every subscriber the selection matches; returns how many.
Broadcast = Callable[[str, Selection], Awaitable[int]]


@dataclass
class Services:
    """The service's parts a handler may use."""

    settings: Settings
    store: Store
    publisher: Publisher
    dataset: Dataset
    clock: Clock
    broadcast: Broadcast | None = None
    # the process's calendar key; read from the settings when not given
    calendar_key: bytes | None = field(default=None, repr=False)
    vocabulary: Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary(self.dataset)
        if self.calendar_key is None:
            self.calendar_key = read_calendar_key(self.settings)

    @property
    def admin_ids(self) -> frozenset[int]:
        return self.settings.telegram_admin_ids

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """One session in one transaction, committed when the block ends without error."""
        async with self.store.sessions() as session, session.begin():
            yield session

    def calendar_url(self, nonce: str) -> str:
        """The personal iCal feed of the subscriber whose calendar nonce is `nonce`."""
        assert self.calendar_key is not None  # set when built
        return personal_calendar_url(self.settings.public_base_url, self.calendar_key, nonce)


def services_of(context: Any) -> Services:
    """The `Services` an application was built with."""
    services = context.bot_data.get(SERVICES_KEY)
    if not isinstance(services, Services):
        raise RuntimeError("the Telegram application was not built by build_application")
    return services
