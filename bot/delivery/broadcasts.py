"""Broadcasts: an operator's message queued once for every active subscriber it is for.

The CLI (`untoc-watch broadcast`) and the Telegram `/broadcast` handler both call
`enqueue_broadcast` with the store they already hold; nothing here opens a database or
exits a process, so an error reaches the caller as an exception it can answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.store import Store


async def enqueue_broadcast(
    store: Store, text: str, countries: Collection[str], broadcast_id: str, now: dt.datetime
) -> int:
    """Queue one broadcast row per matching active subscriber; returns how many.

    A subscriber matches when it follows one of `countries`, or every country; no
    countries means everyone. The key holds `broadcast_id`, so a repeated call with the
    same id queues nothing twice.
    """
    wanted = set(countries)
    async with store.sessions() as session, session.begin():
        targets = await subs.active_subscribers(session)
        rows = []
        for subscriber in targets:
            chosen = subs.selection_of(subscriber)
            follows = not chosen.countries or bool(set(chosen.countries) & wanted)
            if wanted and not follows:
                continue
            rows.append(
                outbox.new_row(
                    f"s{subscriber.id}|broadcast|{broadcast_id}",
                    "broadcast",
                    {"text": text},
                    now,
                    now,
                    subscriber_id=subscriber.id,
                )
            )
        return await outbox.insert_rows(session, rows)
