"""What operators measure, read from the database: who leads, and (later) the outbox.

Several web and worker processes share one database, so the database is the one place
that knows the whole truth; the web app's `/readyz` and `/metrics` read it here.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import ADVISORY_LOCK


async def leader_known(engine: AsyncEngine) -> bool | None:
    """Whether some worker holds leadership (None on SQLite, where the worker leads)."""
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        held = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :key"
                # advisory locks are per database: another service on this server is not ours
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": ADVISORY_LOCK},
        )
    return bool(held)
