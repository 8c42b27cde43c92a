"""Database fixtures: each test gets its own empty database, on SQLite and on PostgreSQL.

PostgreSQL tests run against the server named by UNTOC_TEST_POSTGRES_URL and are skipped
when it is unset. Each test gets a freshly created database on that server (dropped
afterwards), so `database_url` stays a plain URL: the tests pass it to the same
`upgrade(url)` and `create_engine(url)` the service uses, with nothing test-only in them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_admin_engine
from sqlalchemy.pool import NullPool

from bot.db.engine import create_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.store import Store
from config.settings import normalise_database_url

POSTGRES_URL_VARIABLE = "UNTOC_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_VARIABLE = "UNTOC_REQUIRE_POSTGRES"
POSTGRES_EXAMPLE = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """Create a uniquely named database next to `server_url`'s, yield its URL, drop it."""
    server = make_url(normalise_database_url(server_url))
    name = f"untoc_test_{uuid.uuid4().hex[:12]}"
    admin = create_admin_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                # A test that failed mid-way may leave a connection open; end it.
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        await admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database that exists only for this test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'untoc-watch.db'}"
        return
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        message = f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}, e.g. {POSTGRES_EXAMPLE}"
        if os.environ.get(REQUIRE_POSTGRES_VARIABLE):
            pytest.fail(message)  # CI promised PostgreSQL: a skip would hide a gap
        pytest.skip(message)
    async with fresh_postgres_database(server_url) as url:
        yield url


@pytest.fixture
async def empty_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database before any migration ran."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, migrated to the newest revision."""
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory the service would build on the migrated database."""
    return session_factory(engine)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """The service's `Store` on the test's database, migrated to the newest revision."""
    await upgrade(database_url)
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()
