"""The delivery loop: claims due outbox rows and sends them through their channels.

Runs in every worker. Each channel is paced by the limits it declares (overall, per
target, per group); a 429 slows that channel, not the others. A row is marked sent only
after its channel accepted it; temporary failures go back to the queue with backoff and
jitter; a target that is gone is deactivated and the operator told; a misconfigured
channel pauses until an operator fixes it. One bad target never stops a batch.

The pace itself is `pacing.py`; what a row stands for by the time it is sent is the pure
`alerts.rebuild_alert`; claiming and leasing rows is `bot/db/outbox.py`. What stays here
is sending and the error policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping

from bot.channels.base import (
    Alert,
    Channel,
    ChannelMisconfigured,
    DeliveryError,
    RetryLater,
    Target,
    TargetGone,
    TargetMoved,
)
from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.models import Delivery, Subscriber
from bot.db.store import Store
from bot.delivery.alerts import rebuild_alert
from bot.delivery.pacing import SPACING_MARGIN, Pace, Rate, Spacing, Standing
from schedulers.dates import Clock
from schedulers.timeline import Deadline

log = logging.getLogger(__name__)

DeadlinesSource = Callable[[], Awaitable[list[Deadline]]]
IDLE_WAIT = 0.5
BATCH = 200
CONCURRENCY = 16  # more only queues inside the HTTP pool, whose bookkeeping then dominates
LEASE_MARGIN = 0.2  # never start a send in the last fifth of a lease
STOP_GRACE = 2.0  # seconds in-flight sends get to finish when the worker stops
PIPE_CHECK = 0.2  # seconds between looks at the pipe while sends are in flight
RECORD_EVERY = 32  # sent rows recorded per commit (at the latest at the end of a batch)
MAX_IN_MEMORY = 2000  # claimed rows held here at most, sending or waiting for their turn
# A claimed row whose chat's next turn is further away goes back to the outbox until
# then (and keeps that turn), so that the chats with many alerts due do not fill the
# pipe and starve the rest.
TURN_HOLD = 5.0


class Dispatcher:
    """Sends what is due, through the channels it was given."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        deadlines: DeadlinesSource,
        clock: Clock,
        *,
        operator_targets: Callable[[], list[Target]] = list,
        batch: int = BATCH,
        concurrency: int = CONCURRENCY,
        lease: dt.timedelta = outbox.LEASE,
        base_backoff: dt.timedelta = outbox.BASE_BACKOFF,
        rates: Mapping[str, float] | None = None,
        turn_hold: float = TURN_HOLD,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.deadlines = deadlines
        self.clock = clock
        self.operator_targets = operator_targets
        self.batch = batch
        self.semaphore = asyncio.Semaphore(concurrency)
        self.lease = lease
        self.base_backoff = base_backoff
        self.turn_hold = turn_hold
        self._rates = {
            name: (rates or {}).get(name, channel.limits.messages_per_second)
            for name, channel in self.channels.items()
        }
        # One send per 1/rate seconds, never a burst: services count over short windows.
        self._paces = {name: Pace(Rate(rate)) for name, rate in self._rates.items()}
        self.standing = Standing()
        # rows sent back to the outbox until their chat's turn: the turn each was given
        self._promised: dict[int, float] = {}
        self._waiting = 0  # rows held here until their chat's turn
        self._sent: list[int] = []
        self._recording = asyncio.Lock()

    def share(self, standing: Standing) -> None:
        """Pace each channel at this worker's share of its overall rate, and take the
        chats of this worker's rank: each chat is sent to by one worker at a time, so its
        own limits hold across workers."""
        if standing == self.standing:
            return
        log.info(
            "delivery: %d workers deliver; this one (rank %d) sends its share of the "
            "channels' rates, to its share of the chats",
            standing.workers,
            standing.rank,
        )
        workers_before, self.standing = self.standing.workers, standing
        if standing.workers != workers_before:
            for name, rate in self._rates.items():
                self._paces[name].overall = Rate(rate / standing.workers)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set."""
        if self.store.engine.dialect.name == "sqlite":  # the only worker: nobody else holds rows
            async with self.store.sessions() as session, session.begin():
                if taken := await outbox.reclaim_all(session, self.clock()):
                    log.warning("delivery: %d alerts were in flight when the last run ended", taken)
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                # Keep the pipe full of sends; rows waiting for their chat's turn take no
                # room in it, up to a bound.
                sending = len(in_flight) - self._waiting
                if sending <= self._batch_size() // 2 and len(in_flight) < MAX_IN_MEMORY:
                    try:
                        started = await self._start_batch(in_flight)
                    except Exception:  # a database hiccup must not end delivery for good
                        log.exception("delivery: claiming failed; retrying shortly")
                        started = 0
                    if started == 0 and not in_flight:
                        await self._record_sent(force=True)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), IDLE_WAIT)
                        continue
                if in_flight:
                    await asyncio.wait(
                        in_flight, timeout=PIPE_CHECK, return_when=asyncio.FIRST_COMPLETED
                    )
                await self._record_sent(force=True)  # sent rows must not outlive their lease
        finally:
            # Stopping: give sends a moment, then cancel what is still waiting its turn;
            # those rows stay claimed and are taken again after their lease.
            if in_flight:
                await asyncio.wait(in_flight, timeout=STOP_GRACE)
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)
            await self._record_sent(force=True)

    async def _start_batch(self, in_flight: set[asyncio.Task[None]]) -> int:
        """Claim rows and start sending them without waiting for them to finish."""
        rows, targets, acknowledged = await self._claim(self._batch_size() - len(in_flight))
        self._forget_old_turns()
        if not rows:
            return 0
        deadlines = {d.id: d for d in await self.deadlines()}
        for row, turn in await self._take_turns(rows, targets, acknowledged, deadlines):
            task = asyncio.create_task(self._deliver(row, turn, targets, acknowledged, deadlines))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        return len(rows)

    async def _claim(
        self, limit: int
    ) -> tuple[list[Delivery], dict[int, Subscriber], dict[int, set[str]]]:
        now = self.clock()
        async with self.store.sessions() as session, session.begin():
            share = self.standing
            rows = await outbox.claim(
                session,
                max(limit, 1),
                now,
                self.lease,
                part=(share.rank, share.workers) if share.workers > 1 else None,
            )
            ids = [r.subscriber_id for r in rows if r.subscriber_id is not None]
            targets = await subs.subscribers_by_id(session, ids)
            acknowledged = await subs.acknowledged_by(session, targets)
        return rows, targets, acknowledged

    def _forget_old_turns(self) -> None:
        """Drop turns given to rows that did not come back (another worker took them)."""
        old = asyncio.get_running_loop().time() - self.lease.total_seconds()
        self._promised = {row: turn for row, turn in self._promised.items() if turn >= old}

    def _batch_size(self) -> int:
        """No more than the slowest channel can send in half a lease: rows still queued
        here when their lease ran out would be claimed, and sent, by another worker."""
        slowest = min(pace.overall.per_second for pace in self._paces.values())
        return max(1, min(self.batch, int(slowest * self.lease.total_seconds() / 2)))

    async def deliver_once(self) -> int:
        """Claim one batch and deliver all of it; returns how many rows were handled."""
        rows, targets, acknowledged = await self._claim(self._batch_size())
        if not rows:
            return 0
        deadlines = {d.id: d for d in await self.deadlines()}
        ready = await self._take_turns(rows, targets, acknowledged, deadlines)
        await asyncio.gather(
            *(self._deliver(row, turn, targets, acknowledged, deadlines) for row, turn in ready)
        )
        await self._record_sent(force=True)
        return len(rows)

    async def _take_turns(
        self,
        rows: list[Delivery],
        subscribers: Mapping[int, Subscriber],
        acknowledged: Mapping[int, set[str]],
        deadlines: Mapping[str, Deadline],
    ) -> list[tuple[Delivery, float | None]]:
        """Give each row that goes to a chat its turn there (loop time); rows whose turn
        is further than `turn_hold` go back to the outbox until then, in one statement,
        and keep their turn for when they come back."""
        loop = asyncio.get_running_loop()
        # a row must be sent before its lease nears its end: hold it here well before that
        hold = min(self.turn_hold, self.lease.total_seconds() * (1 - LEASE_MARGIN) / 2)
        ready: list[tuple[Delivery, float | None]] = []
        later: dict[Delivery, float] = {}
        for row in rows:
            if not self._will_send(row, subscribers, acknowledged, deadlines):
                ready.append((row, None))
                continue
            turn = self._promised.pop(row.id, None)  # a row back for the turn it was given
            if turn is None:
                chat = subscribers[row.subscriber_id or 0]
                spacings = self._spacings(chat.channel, chat.address, chat.thread_id)
                turn = max(spacing.reserve() for spacing in spacings)
            if turn - loop.time() > hold:
                self._promised[row.id] = turn
                later[row] = turn - loop.time()
            else:
                ready.append((row, turn))
        if later:
            with contextlib.suppress(Exception):  # else they return after their lease
                await self._postpone(later)
        return ready

    async def _deliver(
        self,
        row: Delivery,
        turn: float | None,
        subscribers: Mapping[int, Subscriber],
        acknowledged: Mapping[int, set[str]],
        deadlines: Mapping[str, Deadline],
    ) -> None:
        async with contextlib.AsyncExitStack() as spaced:
            if turn is not None:  # the chat's turn, and its spacing, before a sending slot
                chat = subscribers[row.subscriber_id or 0]
                self._waiting += 1
                try:
                    await asyncio.sleep(max(0.0, turn - asyncio.get_running_loop().time()))
                    for spacing in self._spacings(chat.channel, chat.address, chat.thread_id):
                        await spaced.enter_async_context(spacing.sending())
                finally:
                    self._waiting -= 1
            async with self.semaphore:
                try:
                    if row.subscriber_id is None and row.kind == "confirm":
                        await self._to_address(row)
                        return
                    if row.subscriber_id is None:
                        await self._to_operator(row, deadlines)
                        return
                    subscriber = subscribers.get(row.subscriber_id)
                    if subscriber is None or not _reaches(subscriber, row):
                        await self._discard(row)
                        return
                    alert = self.alert_for(row, subscriber, acknowledged, deadlines)
                    if alert is None:
                        await self._discard(row)
                        return
                    await self._send(row, subscriber, alert)
                except Exception as exc:  # one bad row must not stop the batch
                    log.exception("delivery: %s failed unexpectedly", row.key)
                    # If the database is away too, the row comes back when its lease runs out.
                    with contextlib.suppress(Exception):
                        await self._retry(row, f"unexpected: {exc!r}", None)

    def _will_send(
        self,
        row: Delivery,
        subscribers: Mapping[int, Subscriber],
        acknowledged: Mapping[int, set[str]],
        deadlines: Mapping[str, Deadline],
    ) -> bool:
        """Whether the row goes to a chat, so must wait for that chat's turn (a row that
        no longer applies is dropped at once; it is checked again right before sending)."""
        subscriber = subscribers.get(row.subscriber_id or 0)
        if (
            subscriber is None
            or not _reaches(subscriber, row)
            or subscriber.channel not in self.channels
        ):
            return False
        try:
            return self.alert_for(row, subscriber, acknowledged, deadlines) is not None
        except Exception:
            return False  # what is wrong with it is reported when it is handled

    def alert_for(
        self,
        row: Delivery,
        subscriber: Subscriber,
        acknowledged: Mapping[int, set[str]],
        deadlines: Mapping[str, Deadline],
    ) -> Alert | None:
        """The alert a row stands for, as of now; None when it no longer applies."""
        done = acknowledged.get(subscriber.id, set())
        return rebuild_alert(row, subs.selection_of(subscriber), done, deadlines, self.clock())

    async def _send(self, row: Delivery, subscriber: Subscriber, alert: Alert) -> None:
        channel = self.channels.get(subscriber.channel)
        if channel is None:
            await self._retry(
                row, f"no {subscriber.channel} channel is configured", 600, count=False
            )
            return
        target = Target(
            subscriber_id=subscriber.id,
            channel=subscriber.channel,
            address=subscriber.address,
            thread_id=subscriber.thread_id,
            language=subscriber.language,
            timezone=subscriber.timezone,
            calendar_nonce=subscriber.calendar_nonce,
        )
        pace = self._paces[subscriber.channel]
        now = self.clock()
        key = f"{target.address}|{target.thread_id}"
        until = max(
            (t for t in (pace.paused_until, pace.target_paused_until.get(key)) if t is not None),
            default=None,
        )
        if until is not None and now < until:
            await self._retry(
                row, "paused after a rate limit", (until - now).total_seconds(), count=False
            )
            return
        await pace.overall.acquire()
        if self.clock() >= row.next_attempt_at - self.lease * LEASE_MARGIN:
            return  # our lease is running out: leave the row to whoever claims it next
        try:
            await channel.send(target, alert)
        except TargetMoved as moved:
            async with self.store.sessions() as session, session.begin():
                await subs.move_address(session, subscriber.id, moved.new_address, self.clock())
            await self._retry(row, str(moved), 0, count=False)
        except TargetGone as gone:
            await self._target_gone(row, subscriber, str(gone))
        except RetryLater as later:
            if later.retry_after:  # the service asked this target to wait; others go on
                pause = dt.timedelta(seconds=later.retry_after)
                pace.target_paused_until[key] = self.clock() + pause
            await self._retry(row, str(later), later.retry_after)
        except ChannelMisconfigured as broken:
            pace.paused_until = self.clock() + dt.timedelta(minutes=5)
            await self._retry(row, str(broken), 300, count=False)
            await self.notify_operator(
                f"operator.channel|{subscriber.channel}", f"{channel.name}: {broken}"
            )
        except DeliveryError as failure:
            await self._retry(row, str(failure), None)
        else:
            await self._mark_sent(row)

    async def _to_address(self, row: Delivery) -> None:
        """A message to an address that is nobody's yet: an email sign-up's confirmation.

        Paced and retried like any send; a refused address is given up (there is no
        subscriber to deactivate), and a missing channel waits for one.
        """
        payload = dict(row.payload or {})
        channel = self.channels.get("email")
        if channel is None:
            await self._retry(row, "no email channel is configured", 600, count=False)
            return
        target = Target(
            subscriber_id=None,
            channel="email",
            address=str(payload.get("address", "")),
            language=str(payload.get("language", "en")),
        )
        alert = Alert(key=row.key, kind="confirm", link=str(payload.get("link", "")))
        pace = self._paces["email"]
        now = self.clock()
        if pace.paused_until is not None and now < pace.paused_until:
            wait = (pace.paused_until - now).total_seconds()
            await self._retry(row, "paused after a rate limit", wait, count=False)
            return
        await pace.overall.acquire()
        try:
            await channel.send(target, alert)
        except TargetGone as gone:
            async with self.store.sessions() as session, session.begin():
                await outbox.give_up(session, row.id, f"address refused: {gone}", self.clock())
        except RetryLater as later:
            await self._retry(row, str(later), later.retry_after)
        except ChannelMisconfigured as broken:
            pace.paused_until = self.clock() + dt.timedelta(minutes=5)
            await self._retry(row, str(broken), 300, count=False)
            await self.notify_operator(
                f"operator.channel|{channel.name}", f"{channel.name}: {broken}"
            )
        except DeliveryError as failure:
            await self._retry(row, str(failure), None)
        else:
            await self._mark_sent(row)

    def _spacings(self, channel: str, address: str, thread_id: str) -> list[Spacing]:
        """What keeps sends to this target apart: the target's limit, and its group's.

        A group's limit per minute is kept as an even spacing, not a burst: services
        count over a sliding window, which a burst and then the steady rate overrun.
        """
        limits = self.channels[channel].limits
        pace = self._paces[channel]
        wanted = [(f"{address}|{thread_id}", 1 / limits.per_target_per_second)]
        if limits.per_group_per_minute and address.startswith("-"):
            wanted.append((address, 60 / limits.per_group_per_minute))
        spacings = []
        for key, interval in wanted:
            spacing = pace.spacings.get(key)
            if spacing is None:
                spacing = pace.spacings[key] = Spacing(interval * SPACING_MARGIN)
            spacings.append(spacing)
        return spacings

    async def _mark_sent(self, row: Delivery) -> None:
        self._sent.append(row.id)
        await self._record_sent()

    async def _record_sent(self, *, force: bool = False) -> None:
        """Record sent rows a few at a time: one commit per message caps a worker at the
        database's commit rate. A crash can repeat at most these and those in flight.

        When the database cannot be reached they are kept and recorded once it answers
        again (the loop tries at every turn): forgetting them would send them twice.
        """
        if not self._sent or (len(self._sent) < RECORD_EVERY and not force):
            return
        async with self._recording:
            done, self._sent = self._sent, []
            if not done:
                return
            try:
                async with self.store.sessions() as session, session.begin():
                    await outbox.mark_sent_many(session, done, self.clock())
            except Exception as exc:
                self._sent = done + self._sent
                log.warning(
                    "delivery: cannot record %d sent alerts yet (%s); trying again", len(done), exc
                )

    async def _postpone(self, rows: Mapping[Delivery, float]) -> None:
        """Back to the outbox untried, each due in so many seconds."""
        now = self.clock()
        async with self.store.sessions() as session, session.begin():
            await outbox.postpone(
                session,
                [
                    (row.id, row.attempts - 1, now + dt.timedelta(seconds=s))
                    for row, s in rows.items()
                ],
            )

    async def _discard(self, row: Delivery) -> None:
        async with self.store.sessions() as session, session.begin():
            await outbox.discard(session, row.id)

    async def _retry(
        self, row: Delivery, error: str, retry_after: float | None, *, count: bool = True
    ) -> None:
        now = self.clock()
        async with self.store.sessions() as session, session.begin():
            if count and row.attempts >= outbox.MAX_ATTEMPTS:
                await outbox.give_up(session, row.id, error, now)
            else:
                delay = outbox.backoff(row.attempts, retry_after, base=self.base_backoff)
                if retry_after == 0:
                    delay = dt.timedelta(0)
                await outbox.retry_later(session, row.id, error, now + delay, count_attempt=count)
        if count and row.attempts >= outbox.MAX_ATTEMPTS:
            log.warning(
                "delivery: gave up on %s after %d attempts: %s", row.key, row.attempts, error
            )
            await self.notify_operator(f"operator.dead|{row.key}", f"gave up on {row.key}: {error}")

    async def _target_gone(self, row: Delivery, subscriber: Subscriber, reason: str) -> None:
        now = self.clock()
        async with self.store.sessions() as session, session.begin():
            await subs.deactivate(session, subscriber.id, reason, now)
            await outbox.give_up(session, row.id, f"target gone: {reason}", now)
        log.warning(
            "delivery: %s %s is gone (%s); deactivated", subscriber.channel, subscriber.id, reason
        )
        name = subscriber.display_name or subscriber.id
        await self.notify_operator(
            f"operator.target_gone|{subscriber.id}",
            f"{subscriber.channel} target {name} stopped: {reason}",
        )

    async def notify_operator(self, key: str, text: str) -> None:
        """Queue a message for the operators (once per key)."""
        now = self.clock()
        async with self.store.sessions() as session, session.begin():
            await outbox.insert_rows(
                session, [outbox.new_row(key, "operator", {"text": text}, now, now)]
            )

    async def _to_operator(self, row: Delivery, deadlines: Mapping[str, Deadline]) -> None:
        text = str(
            (row.payload or {}).get("text") or (row.payload or {}).get("message") or row.kind
        )
        log.warning("operator: %s", text)
        alert = Alert(key=row.key, kind="operator", text=text)
        for target in self.operator_targets():
            channel = self.channels.get(target.channel)
            if channel is None:
                continue
            try:
                await channel.send(target, alert)
            except DeliveryError as exc:
                log.warning("operator message to %s failed: %s", target.channel, exc)
        await self._mark_sent(row)


# A reporter hears the fate of their report even where alerts are off: they asked.
TOLD_WHEN_INACTIVE = frozenset({"report"})


def _reaches(subscriber: Subscriber, row: Delivery) -> bool:
    """Whether a row goes to this subscriber: alerts on, or a reply they asked for."""
    return subscriber.active or row.kind in TOLD_WHEN_INACTIVE
