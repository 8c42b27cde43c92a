"""The service's memory as the command line and the processes use it.

Thin async functions over `bot.db`: each opens an engine for one task and closes it.
A database that does not exist yet, or is not migrated, is not an error for reading:
the dataset still answers, and the caller gets a note that says how to set it up.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from config.dataset import MilestoneDate

MIGRATE_HINT = "run `untoc-watch db upgrade` (`make run` does it for you)"


class StoreNotReady(Exception):
    """The database cannot take writes yet; the message says how to fix that."""


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    database = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(database) if database and database != ":memory:" else None


async def read_milestone_dates(url: str) -> tuple[list[MilestoneDate], str | None]:
    """Dates operators recorded, or none and a note when the database is not ready."""
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        return [], f"no database yet at {path}; recorded dates are not shown; {MIGRATE_HINT}"
    from bot.db.engine import create_engine, session_factory
    from bot.db.migrate import is_at_head
    from bot.db.repositories import list_milestone_dates

    engine = create_engine(url)
    try:
        if not await is_at_head(engine):
            return [], f"the database is not migrated; recorded dates are not shown; {MIGRATE_HINT}"
        async with session_factory(engine)() as session:
            return await list_milestone_dates(session), None
    except (OSError, ConnectionError) as exc:
        return [], f"cannot reach the database ({exc}); recorded dates are not shown"
    finally:
        await engine.dispose()


async def record_milestone_date(
    url: str,
    *,
    country: str,
    cluster: int,
    milestone: str,
    date: dt.date,
    source: str,
    recorded_by: str | None,
    now: dt.datetime,
) -> None:
    """Store an actual milestone date (replacing an earlier one for the same step)."""
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        raise StoreNotReady(f"no database yet at {path}; {MIGRATE_HINT}")
    from bot.db import repositories
    from bot.db.engine import create_engine, session_factory
    from bot.db.migrate import is_at_head

    engine = create_engine(url)
    try:
        if not await is_at_head(engine):
            raise StoreNotReady(f"the database is not migrated; {MIGRATE_HINT}")
        async with session_factory(engine)() as session, session.begin():
            await repositories.record_milestone_date(
                session,
                country=country,
                cluster=cluster,
                milestone=milestone,
                date=date,
                source=source,
                recorded_by=recorded_by,
                now=now,
            )
    except (OSError, ConnectionError) as exc:
        raise StoreNotReady(f"cannot reach the database: {exc}") from None
    finally:
        await engine.dispose()


async def database_status(url: str) -> str:
    """One line on the database: missing, reachable and at which revision."""
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        return f"not created yet ({path}); {MIGRATE_HINT}"
    from bot.db.engine import create_engine
    from bot.db.migrate import current_revision, head_revision

    engine = create_engine(url)
    try:
        revision = await current_revision(engine)
    except (OSError, ConnectionError) as exc:
        return f"unreachable: {exc}"
    finally:
        await engine.dispose()
    head = head_revision()
    if revision == head:
        return f"OK (revision {revision})"
    return f"at revision {revision or 'none'}, newest is {head}; {MIGRATE_HINT}"
