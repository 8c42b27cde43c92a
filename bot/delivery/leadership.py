"""Leadership and presence: PostgreSQL session advisory locks, each on a connection of its own.

The leader holds one lock (`bot.db.ADVISORY_LOCK`) and runs the scheduled jobs; when it
dies its connection closes, the lock is released, and another worker takes it on its next
try (every `LEADER_RETRY`). Every worker also holds one presence lock, so the workers can
count one another and share the channels' rates. On SQLite there is one worker, and it
leads. This is the one module outside `bot/db/` that speaks SQL: a lock lives as long as
its connection, which no repository session outlives.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.db import ADVISORY_LOCK, PRESENCE_LOCK
from bot.delivery.pacing import Standing

log = logging.getLogger(__name__)

MAX_WORKERS = 256
PRESENCE_EVERY = 1.0  # seconds between counts of the workers alive
LEADER_RETRY = 2.0


class Leadership:
    """Who runs the scheduled jobs: the holder of one advisory lock."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def embedded(self) -> bool:
        return self.engine.dialect.name != "postgresql"

    async def acquire(self) -> bool:
        """Try to become the leader; True if this worker now leads."""
        if self.embedded:
            return True
        if self._connection is None:
            self._connection = await self.engine.connect()
        got = await self._connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK}
        )
        await self._connection.commit()
        if not got:
            await self.release()
        return bool(got)

    async def held(self) -> bool:
        """Whether the lock is still ours (the connection to the server is alive)."""
        if self.embedded:
            return True
        if self._connection is None:
            return False
        try:
            await self._connection.scalar(text("SELECT 1"))
            await self._connection.commit()
        except Exception:
            log.warning("worker: lost the connection that held leadership")
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.invalidate()
            return False
        return True

    async def release(self) -> None:
        """Give up leadership: unlock, and never hand a locked session back to the pool."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
            await connection.commit()
            await connection.close()
        except Exception:
            with contextlib.suppress(Exception):
                await connection.invalidate()

    async def backend_pid(self) -> int | None:
        """The server process holding the lock (for operators and tests)."""
        if self._connection is None:
            return None
        return int(await self._connection.scalar(text("SELECT pg_backend_pid()")) or 0)


class Presence:
    """How many workers deliver now: each holds one advisory lock of its own while it lives.

    The channels' overall limits (Telegram's 30 messages a second for a bot) hold for the
    whole service, so each worker paces itself at its share of them; the limits of one
    chat hold for it whoever sends, so each worker takes the chats of its rank. A lock of
    a worker that died goes with its server session, so both follow crashes too.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._slot: int | None = None
        # What this worker last knew; kept while it cannot count (it must not then take
        # every chat at the full rate while its peers still share them).
        self._last = Standing(1, 0)

    async def join(self) -> bool:
        """Take a free slot; False if the database cannot be reached (try again later)."""
        if self.engine.dialect.name != "postgresql" or self._connection is not None:
            return True
        try:
            connection = await self.engine.connect()
        except Exception as exc:
            log.warning("worker: cannot register with the database: %s", exc)
            return False
        try:
            for slot in range(MAX_WORKERS):
                got = await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:kind, :slot)"),
                    {"kind": PRESENCE_LOCK, "slot": slot},
                )
                if got:
                    await connection.commit()
                    self._connection = connection
                    self._slot = slot
                    return True
            log.warning("worker: more than %d workers; this one is not counted", MAX_WORKERS)
        except Exception as exc:
            log.warning("worker: cannot register with the database: %s", exc)
        with contextlib.suppress(Exception):
            await connection.invalidate()
        return False

    async def standing(self) -> Standing:
        """The workers alive now (at least this one), and this one's rank among their slots.

        On SQLite the only worker; when this one is not counted (its connection lost),
        what it last knew.
        """
        if self.engine.dialect.name != "postgresql":
            return Standing(1, 0)
        if self._connection is None:
            return self._last
        try:
            rows = await self._connection.scalars(
                text(
                    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND objsubid = 2 AND classid::bigint = :kind AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " ORDER BY objid::bigint"
                ),
                {"kind": PRESENCE_LOCK},
            )
            slots = [int(slot) for slot in rows]
            await self._connection.commit()
        except Exception as exc:
            log.warning("worker: lost the connection that counted workers: %s", exc)
            await self.leave()
            return self._last
        if self._slot not in slots:
            return self._last
        self._last = Standing(len(slots), slots.index(self._slot))
        return self._last

    async def leave(self) -> None:
        connection, self._connection = self._connection, None
        self._slot = None
        if connection is not None:  # closing the session frees its lock; never pool it
            with contextlib.suppress(Exception):
                await connection.invalidate()
