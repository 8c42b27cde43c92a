"""The worker: every worker delivers; exactly one, the leader, runs the scheduled jobs.

Leadership is a PostgreSQL session advisory lock held on a connection of its own: when
the leader dies its connection closes, the lock is released, and another worker takes
it on its next try (every `LEADER_RETRY`). On SQLite there is one worker, and it leads.
The jobs run in APScheduler's `AsyncIOScheduler` on the worker's own event loop, one
instance at a time, coalesced, and are re-created at every start from code and the
database, so nothing depends on stored job state.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.db import outbox, reports
from bot.db import subscribers as subs
from bot.db.engine import Session
from bot.db.store import Store
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.leadership import LEADER_RETRY, PRESENCE_EVERY, Leadership, Presence
from bot.publishing.publisher import Publisher
from schedulers.dates import Clock
from schedulers.questions import plan_questions
from schedulers.reminders import (
    CHANGE_WINDOW,
    GRACE,
    PageChange,
    Planned,
    Preferences,
    current_fingerprints,
    plan,
    plan_page_changes,
)
from schedulers.timeline import MECHANISM_ZONE, Deadline

log = logging.getLogger(__name__)

PLAN_EVERY = dt.timedelta(seconds=60)
HOUSEKEEPING_EVERY = dt.timedelta(hours=6)


class AlertPlanner:
    """The planning job: turn the timeline and the subscribers into outbox rows."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        clock: Clock,
        source_themes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.source_themes = dict(source_themes or {})
        # keys this planner already put in the outbox, with their moment: planning every
        # minute re-plans the same alerts, and the database need not be asked again
        self._enqueued: dict[str, dt.datetime] = {}
        # the dates and "done" marks the outbox was last cleaned against
        self._cleaned_for: tuple[object, object] | None = None

    async def run_once(self) -> int:
        """Plan what is due soon; returns how many new rows went into the outbox."""
        now = self.clock()
        deadlines = await self.publisher.deadlines()
        async with self.store.sessions() as session, session.begin():
            preferences = await subs.planning_preferences(session)
            # pure and CPU-bound: in a thread, so deliveries on this loop keep their pace
            planned = await asyncio.to_thread(
                plan, deadlines, preferences, now, changes=self.publisher.changes()
            )
            pages = [
                PageChange(
                    change_id,
                    source,
                    url,
                    summary,
                    when,
                    self.source_themes.get(source, frozenset()),
                    f"{self.publisher.base_url.rstrip('/')}/changes/{change_id}",
                )
                for change_id, source, url, summary, when in await self.store.recent_page_changes(
                    now - CHANGE_WINDOW
                )
            ]
            planned += plan_page_changes(pages, preferences, now)
            planned += await self._questions(session, deadlines, preferences, now)
            fresh = [item for item in planned if item.key not in self._enqueued]
            added = await outbox.enqueue(session, fresh, now)
            fingerprints = current_fingerprints(deadlines)
            acknowledged = {p.subscriber_id: set(p.acknowledged) for p in preferences}
            dropped = 0
            if self._cleaned_for != (fingerprints, acknowledged):  # else nothing went stale
                dropped = await outbox.drop_superseded(session, fingerprints, acknowledged)
        self._remember(fresh, now)
        self._cleaned_for = (fingerprints, acknowledged)
        if added or dropped:
            log.info("planner: %d alerts planned, %d superseded ones dropped", added, dropped)
        return added

    async def _questions(
        self,
        session: Session,
        deadlines: Sequence[Deadline],
        preferences: Sequence[Preferences],
        now: dt.datetime,
    ) -> list[Planned]:
        """Questions about steps that passed unrecorded, noted as asked before they go out."""
        asked = await reports.asked_questions(session)
        today = now.astimezone(MECHANISM_ZONE).date()
        wanted = plan_questions(deadlines, preferences, asked, now, today)
        return await reports.open_questions(
            session, [q for q in wanted if q.key not in self._enqueued], now
        )

    def _remember(self, enqueued: list[Planned], now: dt.datetime) -> None:
        """Note what is in the outbox now; forget what can no longer be planned again."""
        oldest = now - GRACE - PLAN_EVERY  # an alert this old is never planned again
        kept = {key: at for key, at in self._enqueued.items() if at >= oldest}
        kept.update((item.key, item.at) for item in enqueued)
        self._enqueued = kept

    async def housekeeping(self) -> None:
        async with self.store.sessions() as session, session.begin():
            removed = await outbox.housekeeping(session, self.clock())
        if removed:
            log.info("housekeeping: forgot %d old deliveries", removed)


Job = Callable[[], Awaitable[Any]]


class Worker:
    """Delivery everywhere, scheduled jobs on the leader."""

    def __init__(
        self,
        store: Store,
        planner: AlertPlanner,
        dispatcher: Dispatcher,
        *,
        extra_jobs: Sequence[tuple[str, Job, dt.timedelta]] = (),
        plan_every: dt.timedelta = PLAN_EVERY,
        leader_retry: float = LEADER_RETRY,
    ) -> None:
        self.store = store
        self.planner = planner
        self.dispatcher = dispatcher
        self.extra_jobs = list(extra_jobs)
        self.plan_every = plan_every
        self.leader_retry = leader_retry
        self.leading = False

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        presence = Presence(self.store.engine)
        await presence.join()  # counted before the first send, so peers slow down at once
        self.dispatcher.share(await presence.standing())
        tasks = [
            asyncio.create_task(self.dispatcher.run(stop), name="delivery"),
            asyncio.create_task(self._lead(stop), name="leadership"),
            asyncio.create_task(self._pace_with_peers(presence, stop), name="presence"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _pace_with_peers(self, presence: Presence, stop: asyncio.Event) -> None:
        """Keep this worker's share of the channels' overall rates as workers come and go."""
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), PRESENCE_EVERY)
                if await presence.join():
                    self.dispatcher.share(await presence.standing())
        finally:
            await presence.leave()

    def _scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        jobs: list[tuple[str, Job, dt.timedelta]] = [
            ("plan", self.planner.run_once, self.plan_every),
            ("housekeeping", self.planner.housekeeping, HOUSEKEEPING_EVERY),
            *self.extra_jobs,
        ]
        for name, job, every in jobs:
            scheduler.add_job(
                job,
                IntervalTrigger(seconds=every.total_seconds()),
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(max(every.total_seconds() // 2, 1)),
                next_run_time=dt.datetime.now(dt.UTC),
            )
        return scheduler

    async def _lead(self, stop: asyncio.Event) -> None:
        leadership = Leadership(self.store.engine)
        try:
            while not stop.is_set():
                try:
                    won = await leadership.acquire()
                except Exception as exc:
                    log.warning("worker: cannot reach the database for leadership: %s", exc)
                    won = False
                if won:
                    await self._run_jobs_while_leading(leadership, stop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.leader_retry)
        finally:
            await leadership.release()

    async def _run_jobs_while_leading(self, leadership: Leadership, stop: asyncio.Event) -> None:
        log.info("worker: leading; scheduled jobs run here")
        self.leading = True
        scheduler = self._scheduler()
        scheduler.start()
        try:
            while not stop.is_set() and await leadership.held():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.leader_retry)
        finally:
            scheduler.shutdown(wait=False)
            self.leading = False
            log.info("worker: no longer leading")
