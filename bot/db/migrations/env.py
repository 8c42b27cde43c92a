"""Run the migrations on the connection `bot.db.migrate` hands over, or on `sqlalchemy.url`.

The service migrates through `bot.db.migrate`, which opens an async connection and runs
this script inside `connection.run_sync`, passing the connection in
`config.attributes["connection"]`; that works from a running event loop without starting
another. Without a connection (a developer generating a revision from a plain script),
the script builds its own async engine from the `sqlalchemy.url` option.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from bot.db.engine import create_engine
from bot.db.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Migrate over `connection`; SQLite alters tables by copying them (batch mode)."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_on_url(url: str) -> None:
    """Open an engine for `url` just for this run, migrate, and close it."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline(url: str) -> None:
    """Write the SQL instead of running it, for a reviewer or a DBA."""
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Pick how to run from what the caller gave the Alembic config."""
    config = context.config
    shared: Connection | None = config.attributes.get("connection")
    if shared is not None:
        run_migrations(shared)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url on the Alembic config (see bot.db.migrate)")
    if context.is_offline_mode():
        run_migrations_offline(url)
    else:
        asyncio.run(run_migrations_on_url(url))


main()
