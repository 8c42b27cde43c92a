"""Email sign-ups and the service's own keys: the rows behind double opt-in.

A sign-up is counted (`email_signups`, hashes only) so that its limits hold across web
processes; the subscriber itself is created only when its confirmation link is used.
Functions take `now` and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import EmailSignup, ServiceKey


async def signups_since(
    session: AsyncSession, *, address_hash: str, client_hash: str, since: dt.datetime
) -> tuple[int, int]:
    """How many sign-ups this address, and this client, made since `since`."""
    by_address = await session.scalar(
        select(func.count()).where(
            EmailSignup.address_hash == address_hash, EmailSignup.created_at >= since
        )
    )
    by_client = await session.scalar(
        select(func.count()).where(
            EmailSignup.client_hash == client_hash, EmailSignup.created_at >= since
        )
    )
    return int(by_address or 0), int(by_client or 0)


async def record_signup(
    session: AsyncSession, *, address_hash: str, client_hash: str, now: dt.datetime
) -> int:
    """Count one sign-up; returns its id (which makes its confirmation's outbox key)."""
    signup = EmailSignup(address_hash=address_hash, client_hash=client_hash, created_at=now)
    session.add(signup)
    await session.flush()
    return signup.id


async def forget_signups(session: AsyncSession, before: dt.datetime) -> int:
    """Drop the counts older than any limit looks at."""
    result = await session.execute(delete(EmailSignup).where(EmailSignup.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_service_key(session: AsyncSession, name: str) -> bool:
    """Drop the key named `name`; True if there was one."""
    result = await session.execute(delete(ServiceKey).where(ServiceKey.name == name))
    return bool(getattr(result, "rowcount", 0))


async def service_key(
    session: AsyncSession, name: str, make: Callable[[], str], now: dt.datetime
) -> str:
    """The key named `name`, made with `make` and stored the first time it is asked for.

    Two processes asking at once both insert; the first insert wins and both read it.
    """
    found = await session.scalar(select(ServiceKey.value).where(ServiceKey.name == name))
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(ServiceKey)
        .values(name=name, value=make(), created_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    value = await session.scalar(select(ServiceKey.value).where(ServiceKey.name == name))
    assert value is not None  # inserted just now, or by whoever won
    return value
