"""The email key and the sign-up limits, on SQLite and PostgreSQL (no browser here: the
browser tests hold an event loop of their own in their module)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.db.models import Delivery
from bot.delivery import email_signup as signup


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_the_key_is_made_once_and_signups_are_counted_on_each_database(store):
    first = await signup.EmailKeys(store).secret(_now())
    assert await signup.EmailKeys(store).secret(_now()) == first  # another process: the same
    limits = signup.SignupLimits(
        per_address=signup.Limit(2, dt.timedelta(hours=1)),
        per_client=signup.Limit(3, dt.timedelta(hours=1)),
    )
    keys = signup.EmailKeys(store)
    asked = [
        await signup.request_signup(
            store, keys, signup.Signup(address), "192.0.2.1", _now(), "https://w.example", limits
        )
        for address in ("a@example.org", "a@example.org", "a@example.org", "b@example.org")
    ]
    assert asked == [True, True, False, True]
    assert not await signup.request_signup(
        store, keys, signup.Signup("c@example.org"), "192.0.2.1", _now(), "https://w", limits
    )
    async with store.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 3
