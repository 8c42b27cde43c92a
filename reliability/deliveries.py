"""What was owed and what arrived: the outbox on one side, the fake services on the other.

A message is lost when its outbox row did not end `sent`, or ended `sent` without the
service ever accepting it; it is a duplicate when one chat got the same text twice.
Both sides are read after the processes stopped, so nothing is still on its way.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select, update

from bot.db.models import Delivery
from bot.db.store import Store
from bot.delivery.broadcasts import enqueue_broadcast
from tests.fakes.telegram_api import FakeTelegram

OPEN_STATES = ("pending", "failed", "sending")
# A record logged at ERROR or worse: the service met something it did not plan for.
_UNEXPECTED = re.compile(r"^(ERROR|CRITICAL):|^\S+ \S+ (ERROR|CRITICAL) (?P<logger>\S+):")
# Loggers that note, at ERROR, answers a fake made bad on purpose (not JSON).
_EXPECTED_LOGGERS = ("telegram.request",)


@dataclass(frozen=True)
class Row:
    """An outbox row as it ended."""

    id: int
    subscriber_id: int | None
    kind: str
    deadline_id: str | None
    state: str
    attempts: int
    due_at: dt.datetime
    sent_at: dt.datetime | None


async def _rows(url: str, ids: Collection[int] | None) -> dict[int, Row]:
    store = await Store.open(url)
    try:
        async with store.sessions() as session:
            query = select(
                Delivery.id,
                Delivery.subscriber_id,
                Delivery.kind,
                Delivery.deadline_id,
                Delivery.state,
                Delivery.attempts,
                Delivery.due_at,
                Delivery.sent_at,
            )
            found = {r[0]: Row(*r) for r in await session.execute(query)}
    finally:
        await store.close()
    return found if ids is None else {i: found[i] for i in ids if i in found}


def queue_broadcast(url: str, text: str) -> int:
    """Queue a broadcast to everyone the way the operator's command does; returns the rows."""

    async def queue() -> int:
        store = await Store.open(url)
        try:
            now = dt.datetime.now(dt.UTC)
            return await enqueue_broadcast(store, text, (), uuid.uuid4().hex[:12], now)
        finally:
            await store.close()

    return asyncio.run(queue())


def outbox_rows(url: str, ids: Collection[int] | None = None) -> dict[int, Row]:
    """The rows with these ids (all rows when None); a deleted row is absent."""
    return asyncio.run(_rows(url, ids))


async def _open_count(url: str, ids: Collection[int] | None, due_by: dt.datetime | None) -> int:
    store = await Store.open(url)
    try:
        async with store.sessions() as session:
            query = select(Delivery.id).where(Delivery.state.in_(OPEN_STATES))
            if due_by is not None:
                query = query.where(Delivery.due_at <= due_by)
            found = set(await session.scalars(query))
    finally:
        await store.close()
    return len(found) if ids is None else len(found.intersection(ids))


def still_open(
    url: str, ids: Collection[int] | None = None, due_by: dt.datetime | None = None
) -> int:
    """How many rows still wait to be sent: of these ids, or due by then, or of all."""
    return asyncio.run(_open_count(url, ids, due_by))


async def _reschedule(url: str, moments: Mapping[int, dt.datetime]) -> None:
    store = await Store.open(url)
    try:
        async with store.sessions() as session, session.begin():
            await session.execute(
                update(Delivery),
                [{"id": i, "next_attempt_at": at, "due_at": at} for i, at in moments.items()],
            )
    finally:
        await store.close()


def reschedule(url: str, moments: Mapping[int, dt.datetime]) -> None:
    """Make each row due at its moment (parking it, or compressing a day into minutes)."""
    if moments:
        asyncio.run(_reschedule(url, moments))


@dataclass(frozen=True)
class Tally:
    """Lost and repeated messages for a set of outbox rows."""

    expected: int
    sent: int
    dropped: int  # deleted by the service: the alert no longer applied
    dead: int
    unsent: int
    unconfirmed: int  # marked sent, yet the chat did not get that many messages
    duplicates: int

    @property
    def lost(self) -> int:
        return self.dead + self.unsent + self.unconfirmed

    def line(self) -> str:
        dropped = f", dropped as no longer applicable {self.dropped}" if self.dropped else ""
        return (
            f"delivered {self.sent}/{self.expected}{dropped}; lost {self.lost}, "
            f"duplicates {self.duplicates}"
        )


def telegram_messages(fake: FakeTelegram, marker: str | None = None) -> list[tuple[str, str]]:
    """(chat, text) of every message the fake Bot API accepted, optionally containing `marker`."""
    return [
        (str(call.chat_id), call.text)
        for call in list(fake.calls)
        if call.method.lower() == "sendmessage"
        and call.status == 200
        and not call.garbled
        and (marker is None or marker in call.text)
    ]


def tally(
    rows: Mapping[int, Row],
    expected: Iterable[int],
    received: Iterable[tuple[str, str]],
    address_of: Callable[[int], str],
) -> Tally:
    """Compare the rows owed with what each chat received (one message per row at least)."""
    expected = list(expected)
    texts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for chat, text in received:
        texts[chat][text] += 1
    states = collections.Counter(rows[i].state if i in rows else "dropped" for i in expected)
    sent_per_chat: collections.Counter[str] = collections.Counter()
    for i in expected:
        row = rows.get(i)
        if row is not None and row.state == "sent" and row.subscriber_id is not None:
            sent_per_chat[address_of(row.subscriber_id)] += 1
    unconfirmed = sum(
        max(0, count - len(texts.get(chat, ()))) for chat, count in sent_per_chat.items()
    )
    duplicates = sum(n - 1 for counter in texts.values() for n in counter.values() if n > 1)
    return Tally(
        expected=len(expected),
        sent=states["sent"],
        dropped=states["dropped"],
        dead=states["dead"],
        unsent=sum(states[s] for s in OPEN_STATES),
        unconfirmed=unconfirmed,
        duplicates=duplicates,
    )


def unexpected_errors(log: str) -> list[str]:
    """Lines of a process log that show an error nobody planned for."""
    found = []
    for line in log.splitlines():
        match = _UNEXPECTED.match(line)
        if match and not (match["logger"] or "").startswith(_EXPECTED_LOGGERS):
            found.append(line)
    return found
