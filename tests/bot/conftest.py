"""Database fixtures: each test gets its own empty database, on SQLite and on PostgreSQL.

PostgreSQL tests run against the server named by UNTOC_TEST_POSTGRES_URL and are skipped
when it is unset. Each test gets a freshly created database on that server (dropped
afterwards), so `database_url` stays a plain URL: the tests pass it to the same
`upgrade(url)` and `create_engine(url)` the service uses, with nothing test-only in them.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_admin_engine
from sqlalchemy.pool import NullPool
from starlette.applications import Starlette

from bot.db.engine import create_engine, session_factory
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.slack.app import EVENTS_PATH, build_slack_app, slack_routes
from config.settings import load_settings, normalise_database_url
from tests.bot.telegram_harness import dataset, running_bot
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, command_body, signed_headers
from tests.fakes.telegram_api import FakeTelegram

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


# The service as of 1 December 2026, when nothing of 2027 is announced yet: the real bot
# against the fake Bot API, and the real bolt app behind a signed /slack/events request.
DECEMBER_2026 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
SLACK_SECRET_2026 = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_CHANNEL_2026 = "C0COAL"


@pytest.fixture(scope="module")
def telegram_2026() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot_2026(telegram_2026: FakeTelegram, tmp_path: Path) -> AsyncIterator[Any]:
    telegram_2026.reset()
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with running_bot(telegram_2026, url, clock=lambda: DECEMBER_2026) as harness:
        yield harness


@pytest.fixture(scope="module")
def slack_api_2026() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def slack_2026(
    slack_api_2026: FakeSlack, store: Store
) -> AsyncIterator[Callable[[str], Awaitable[dict[str, object]]]]:
    """`/untoc <text>` in channel C0COAL: the JSON Slack would show its caller."""
    slack_api_2026.reset()
    settings = load_settings(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET_2026,
        SLACK_API_BASE_URL=slack_api_2026.api_url,
        PUBLIC_BASE_URL="https://watch.example.org",
    )
    publisher = Publisher(dataset(), store, settings.public_base_url, clock=lambda: DECEMBER_2026)
    app = build_slack_app(settings, store, publisher, dataset(), publisher.clock)
    web = Starlette(routes=slack_routes(app, settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://test"
    ) as http:

        async def command(text: str) -> dict[str, object]:
            body = command_body(text, channel=SLACK_CHANNEL_2026, user="U0ADA")
            response = await http.post(
                EVENTS_PATH, content=body, headers=signed_headers(body, SLACK_SECRET_2026)
            )
            assert response.status_code == 200, response.text
            answer: dict[str, object] = response.json()
            return answer

        yield command
