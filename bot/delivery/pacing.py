"""Pacing: how fast a channel may send, overall and to one target, as the services count.

The dispatcher keeps one `Pace` per channel: an overall `Rate` (shared among the live
workers, see `Standing`) and a `Spacing` per chat and per group, so one busy chat cannot
hold up the others. Only the event loop's clock is read; nothing here sends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

# The overall pace: a window this much wider than a second, sends at least this part
# of an interval apart (a little catch-up after a late wake, never a burst).
RATE_WINDOW_MARGIN = 1.04
RATE_MIN_GAP = 0.9
# Sends to one chat or group are spaced this much wider than its limit allows: services
# count arrivals, and two requests do not take the same time to arrive.
SPACING_MARGIN = 1.05


@dataclass
class Spacing:
    """Sends to one target (or one group) one at a time, `interval` seconds apart.

    A send takes a turn (`reserve`), waits for it, then for the last send to this target
    to have ended `interval` before (`sending`), all without holding a sending slot, so a
    chat with many alerts due cannot hold up the others. The gap runs from the end of one
    send to the start of the next: a service counts when requests arrive, and the time a
    send takes to get there (preparing it, the channel's overall pace, the network)
    varies from one to the next.
    """

    interval: float
    turns: float = 0.0  # loop time from which the next turn is free
    ended: float = float("-inf")  # loop time the last send to this target ended
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def reserve(self) -> float:
        """Take the target's next free turn; returns the loop time it comes."""
        start = max(asyncio.get_running_loop().time(), self.turns)
        self.turns = start + self.interval
        return start

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        async with self.lock:
            wait = self.ended + self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self.ended = loop.time()
                # turns handed out later start no sooner than the sends allow
                self.turns = max(self.turns, self.ended + self.interval)


@dataclass
class Rate:
    """At most `per_second` sends in any second, as the services count them, evenly.

    The sends of the last window are remembered; the next starts once the window's count
    stays within the rate and it is nearly an interval after the one before. Unlike an
    evenly spaced limiter, a send the event loop woke late for does not push every later
    one back, so what is achieved is close to what is allowed. The window is a little
    wider than a second, for requests that arrive closer together than they left.
    """

    per_second: float
    sent: collections.deque[float] = field(default_factory=collections.deque)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire(self) -> None:
        count = max(1, int(self.per_second))
        window = count / self.per_second * RATE_WINDOW_MARGIN
        gap = RATE_MIN_GAP / self.per_second
        loop = asyncio.get_running_loop()
        async with self.lock:
            while True:
                now = loop.time()
                while self.sent and self.sent[0] <= now - window:
                    self.sent.popleft()
                start = now
                if len(self.sent) >= count:
                    start = max(start, self.sent[0] + window)
                if self.sent:
                    start = max(start, self.sent[-1] + gap)
                if start <= now:
                    break
                await asyncio.sleep(start - now)
            self.sent.append(loop.time())


@dataclass
class Pace:
    """The limiters of one channel."""

    overall: Rate
    spacings: dict[str, Spacing] = field(default_factory=dict)
    paused_until: dt.datetime | None = None
    target_paused_until: dict[str, dt.datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Standing:
    """How many workers deliver now, and this one's place among them (from 0)."""

    workers: int = 1
    rank: int = 0
