"""Build the async engine and session factory for SQLite or PostgreSQL.

The URL is already normalised by the settings (`sqlite+aiosqlite://` or
`postgresql+asyncpg://`); this module adds what each database needs to behave the same:
SQLite gets foreign keys (off by default there), WAL so readers do not block the writer,
and a busy timeout so a second process waits instead of failing; PostgreSQL gets a ping
before reuse so a connection dropped by the server is replaced, not reported as an error.
A SQLite file is made readable by its owner only: it holds every subscriber's address,
webhook URLs and calendar tokens (SQLite gives its journal files the file's mode).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TypeAlias

from sqlalchemy import event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

# What code outside bot/db/ names of SQLAlchemy, so that only this package imports it.
Session: TypeAlias = AsyncSession
DatabaseError = SQLAlchemyError  # the database did not answer, or refused a statement
DuplicateKey = IntegrityError  # a unique key (address, calendar token, ...) is taken

SQLITE_BUSY_TIMEOUT_MS = 5000
PRIVATE_FILE_MODE = 0o600


def create_engine(url: str) -> AsyncEngine:
    """An engine for `url`, configured so SQLite and PostgreSQL enforce the same rules."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))
        engine = _create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return _create_async_engine(url, pool_pre_ping=True)


def private_file(path: Path) -> None:
    """Create `path` readable and writable by its owner only, or narrow it to that."""
    with contextlib.suppress(OSError):  # a directory not there or not ours: SQLite says so
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        os.close(fd)
    with contextlib.suppress(OSError):  # someone else's file: SQLite will say what it can do
        if path.stat().st_mode & 0o077:
            path.chmod(PRIVATE_FILE_MODE)


def masked_url(url: str) -> str:
    """`url` as it may be shown: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no lazy reload on async I/O)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
