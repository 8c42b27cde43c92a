"""What the handlers share: built once by the composition root, kept in `bot_data`.

Handlers never import a global: they read this from their `CallbackContext`, which is
how tests hand the real `Application` a database, a fixed clock and a broadcast recorder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import calendar_url
from bot.db.models import Subscriber
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.telegram.vocabulary import Vocabulary
from config.dataset import Dataset
from config.settings import Settings
from schedulers.timeline import Selection

SERVICES_KEY = "untoc_watch"
Clock = Callable[[], dt.datetime]
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
    vocabulary: Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary(self.dataset)

    @property
    def admin_ids(self) -> frozenset[int]:
        return self.settings.telegram_admin_ids

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session in one transaction, committed when the block ends without error."""
        async with self.store.sessions() as session, session.begin():
            yield session

    def calendar_url(self, token: str) -> str:
        """A subscriber's personal iCal feed."""
        return calendar_url(self.settings.public_base_url, token)


def services_of(context: Any) -> Services:
    """The `Services` an application was built with."""
    services = context.bot_data.get(SERVICES_KEY)
    if not isinstance(services, Services):
        raise RuntimeError("the Telegram application was not built by build_application")
    return services


async def subscriber_counts(session: AsyncSession) -> dict[tuple[str, bool], int]:
    """How many subscribers each channel has, active and not."""
    rows = await session.execute(
        select(Subscriber.channel, Subscriber.active, func.count()).group_by(
            Subscriber.channel, Subscriber.active
        )
    )
    return {(channel, bool(active)): count for channel, active, count in rows}
