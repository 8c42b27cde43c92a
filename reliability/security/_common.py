"""What the security checks share: a `Finding`, the verdict, the actors and helpers."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reliability.inputs import (
    NOW,
    ROOT,
)

if TYPE_CHECKING:
    from feeds.proposals import ProposalDraft


FORM = "application/x-www-form-urlencoded"


OPERATOR = 4242


MALLORY = 1666


GROUP = -100_777


WEBHOOK_SECRET = "reliability_webhook-s3cret-of-32-chars-or-more"


PRODUCT_PACKAGES = ("bot", "config", "feeds", "schedulers")


# A name ending in one of these holds a secret ("tokens", a list of words, does not).
SECRET_NAME = re.compile(r"(token|secret|signature|password|passwd|api_key)\b", re.I)


@dataclass(frozen=True)
class Finding:
    """The outcome of one check; `held` is None when it could not run."""

    check: str
    held: bool | None
    detail: str

    def line(self) -> str:
        verdict = {True: "held", False: "failed", None: "not run"}[self.held]
        return f"{self.check}: {verdict} ({self.detail})"


def _verdict(check: str, problems: Sequence[str], detail: str) -> Finding:
    if problems:
        return Finding(check, False, "; ".join(problems[:4]))
    return Finding(check, True, detail)


def _cli(env: dict[str, str], *args: str) -> str:
    """What `untoc-watch ARGS` prints, run as a process."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    return (result.stdout + result.stderr).decode(errors="replace")


def _collect_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _collect_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _collect_strings(item)


def _proposal_draft(key: str, event_id: str, excerpt: str) -> ProposalDraft:
    """A proposal the watcher could have made: a new dialogue on 1 May 2099."""
    from config.dataset import Event
    from feeds.proposals import ProposalDraft

    event = Event(
        id=event_id,
        kind="constructive-dialogue",
        title="A dialogue",
        start=dt.date(2099, 5, 1),
        source="https://example.org",
        confidence="reported",
    )
    return ProposalDraft(
        key=key,
        kind="event",
        event=event,
        target_id=None,
        summary="A new dialogue",
        excerpt=excerpt,
        url="https://example.org",
        source_id=None,
        certainty=80,
    )


async def _pending_proposals(url: str, count: int) -> list[int]:
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.db.watch import add_proposal

    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            for index in range(count):
                draft = _proposal_draft(f"sql-{index}", f"cd-2099-sql-{index}", "x")
                await add_proposal(session, draft, NOW)
        return sorted(p.id for p in await store.proposals("pending"))
    finally:
        await store.close()


async def _stored(url: str) -> tuple[set[str], dict[str, list[str]], int]:
    """The tables there are, every string in the planted columns, the number of subscribers."""
    from sqlalchemy import inspect, select

    from bot.db.engine import create_engine
    from bot.db.models import Delivery, MilestoneDateRecord, Proposal, Subscriber

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
            columns = {
                "subscribers.display_name": Subscriber.display_name,
                "subscribers.address": Subscriber.address,
                "subscribers.deactivated_reason": Subscriber.deactivated_reason,
                "milestone_dates.source": MilestoneDateRecord.source,
                "milestone_dates.recorded_by": MilestoneDateRecord.recorded_by,
                "proposals.decided_by": Proposal.decided_by,
                "deliveries.payload": Delivery.payload,
            }
            found: dict[str, list[str]] = {}
            for name, column in columns.items():
                values = (await connection.execute(select(column))).scalars()
                found[name] = [text for value in values for text in _collect_strings(value)]
            count = len((await connection.execute(select(Subscriber.id))).all())
    finally:
        await engine.dispose()
    return tables, found, count
