"""How the delivery loop paces one chat and one group, and how it keeps the others going.

A service counts a chat's or a group's messages as they arrive, over a sliding window;
the loop must keep its sends that far apart whatever else is waiting, and a chat with
many alerts due must not hold up the chats that have one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import ClassVar

from sqlalchemy import select

from bot.channels.base import Alert, ChannelLimits, Target
from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.models import Delivery
from bot.db.store import Store
from bot.delivery.dispatcher import CONCURRENCY, TURN_HOLD, Dispatcher
from schedulers.timeline import Deadline

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class TimedChannel:
    """A channel that records when each send started and ended (loop time)."""

    name: ClassVar[str] = "telegram"
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=1000, per_target_per_second=5, per_group_per_minute=600
    )

    def __init__(self, slow_first: float = 0.0) -> None:
        self.sends: list[tuple[str, float, float]] = []  # address, started, ended
        self.slow_first = slow_first

    async def send(self, target: Target, alert: Alert) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.slow_first and not self.sends:
            await asyncio.sleep(self.slow_first)
        self.sends.append((target.address, started, loop.time()))

    async def close(self) -> None:
        return None


PER_GROUP_PER_MINUTE = 600


class GroupChannel(TimedChannel):
    """A service whose only tight limit is the one per group."""

    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=1000,
        per_target_per_second=1000,
        per_group_per_minute=PER_GROUP_PER_MINUTE,
    )


async def _no_deadlines() -> list[Deadline]:
    return []


async def _queue(store: Store, messages: list[str]) -> None:
    """One broadcast row per entry, to the chat it names, in this order."""
    async with store.sessions() as session, session.begin():
        rows = []
        for n, address in enumerate(messages):
            chat = await subs.ensure_subscriber(
                session, channel="telegram", address=address, now=NOW
            )
            rows.append(
                outbox.new_row(
                    f"{address}|{n}",
                    "broadcast",
                    {"text": f"m{n}"},
                    NOW,
                    NOW,
                    subscriber_id=chat.id,
                )
            )
        await outbox.insert_rows(session, rows)


def _dispatcher(
    store: Store,
    channel: TimedChannel,
    concurrency: int = CONCURRENCY,
    turn_hold: float = TURN_HOLD,
) -> Dispatcher:
    """A dispatcher on a fixed clock: the pacing runs on the event loop's own time."""
    return Dispatcher(
        store,
        {"telegram": channel},
        _no_deadlines,
        lambda: NOW,
        concurrency=concurrency,
        turn_hold=turn_hold,
    )


async def test_a_chat_with_many_alerts_does_not_hold_up_the_others(store):
    busy, others = "100", [str(200 + n) for n in range(10)]
    await _queue(store, [busy] * 4 + others)  # the busy chat's alerts come first
    channel = TimedChannel()
    await _dispatcher(store, channel, concurrency=2).deliver_once()
    order = [address for address, _, _ in channel.sends]
    assert sorted(order) == sorted([busy] * 4 + others)
    # every other chat had its message before the busy chat's second one
    second = [n for n, address in enumerate(order) if address == busy][1]
    assert set(order[:second]) == {busy, *others}


async def test_a_groups_limit_per_minute_is_an_even_spacing_not_a_burst(store):
    group = "-100123"
    await _queue(store, [group] * 3)
    channel = GroupChannel()
    await _dispatcher(store, channel).deliver_once()
    starts = [started for _, started, _ in channel.sends]
    interval = 60 / PER_GROUP_PER_MINUTE
    assert len(starts) == 3
    assert all(b - a >= interval for a, b in itertools.pairwise(starts))


async def test_sends_to_one_chat_are_apart_from_the_end_of_the_previous_one(store):
    await _queue(store, ["100"] * 2)
    channel = TimedChannel(slow_first=0.15)  # a slow first request: its arrival is late
    await _dispatcher(store, channel).deliver_once()
    (_, _, first_ended), (_, second_started, _) = channel.sends
    assert second_started - first_ended >= 1 / TimedChannel.limits.per_target_per_second


async def test_alerts_a_chat_cannot_take_soon_go_back_to_the_outbox_until_its_turn(store):
    await _queue(store, ["100"] * 6 + ["200"])
    channel = TimedChannel()
    await _dispatcher(store, channel, turn_hold=0.3).deliver_once()
    # 5 a second: the first two fit in the hold, the next four wait in the outbox
    assert [address for address, _, _ in channel.sends].count("100") == 2
    assert "200" in [address for address, _, _ in channel.sends]
    async with store.sessions() as session:
        waiting = [r for r in await session.scalars(select(Delivery)) if r.state != "sent"]
    assert len(waiting) == 4
    assert {(r.state, r.attempts) for r in waiting} == {("pending", 0)}
    assert all(r.next_attempt_at > NOW for r in waiting)
