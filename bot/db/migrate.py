"""Bring a database to the schema this version of the service expects.

Alembic's API is synchronous; here it runs inside `AsyncConnection.run_sync`, on the
caller's event loop, so the same functions serve the `release` step (called through
`asyncio.run`) and a worker that migrates its embedded SQLite file on start. The Alembic
config is built in code: there is no `alembic.ini` to ship or to keep in step.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.db.engine import create_engine

SCRIPT_LOCATION = "bot.db:migrations"
HEAD = "head"
BASE = "base"


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` that finds the migrations shipped inside the package."""
    config = _package_config()
    # The option parser treats '%' as interpolation; a password may contain one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision this code ships; the database must be at it to run."""
    head = ScriptDirectory.from_config(_package_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {SCRIPT_LOCATION}")
    return head


async def upgrade(url: str) -> None:
    """Migrate the database at `url` to the newest revision; nothing to do if already there."""
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, revision: str = HEAD) -> None:
    """Migrate through an engine the caller owns (and keeps open) up to `revision`."""
    await _run(engine, lambda config: command.upgrade(config, revision))


async def downgrade_engine(engine: AsyncEngine, revision: str = BASE) -> None:
    """Migrate down to `revision`; the default drops every table the migrations made."""
    await _run(engine, lambda config: command.downgrade(config, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def is_at_head(engine: AsyncEngine) -> bool:
    """True when the database has exactly the schema this code expects."""
    return await current_revision(engine) == head_revision()


def _package_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _run(engine: AsyncEngine, operation: Callable[[Config], None]) -> None:
    """Run an Alembic command on one connection of `engine`, committing when it succeeds."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign keys
            # on, that drop would cascade-delete every row pointing at it. The pragma only
            # takes effect outside a transaction, hence before any migration statement.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            await connection.run_sync(_with_connection, config, operation)
            await connection.commit()
        finally:
            if sqlite:
                await _restore_foreign_keys(connection)


def _with_connection(
    connection: Connection, config: Config, operation: Callable[[Config], None]
) -> None:
    config.attributes["connection"] = connection
    operation(config)


async def _restore_foreign_keys(connection: AsyncConnection) -> None:
    await connection.rollback()
    await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    await connection.commit()
