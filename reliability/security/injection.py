"""SQL injection: hostile values through every entry point leave the tables intact."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reliability.inputs import (
    Lab,
)
from reliability.security._common import Finding, _stored, _verdict
from reliability.security.secrets import Planted, _plant_from_the_command_line, _plant_in_chats

SQL_INJECTIONS = (
    "'; DROP TABLE subscribers; --",
    "Robert'); DROP TABLE subscriber_filters;--",
    "1' OR '1'='1",
    '" OR ""="',
    "$$; DROP TABLE deliveries; $$",
    "\\'; DELETE FROM milestone_dates; --",
    "%' OR 1=1 --",
    "x' UNION SELECT calendar_nonce FROM subscribers --",
    "'; SELECT pg_sleep(10); --",
)


def _inject(lab: Lab, url: str, values: Sequence[str]) -> list[str]:
    from bot.db.migrate import upgrade
    from bot.db.models import Base

    asyncio.run(upgrade(url))
    planted = Planted([])
    asyncio.run(_plant_in_chats(lab, url, values, planted))
    problems = _plant_from_the_command_line(lab, url, values, planted)
    tables, found, count = asyncio.run(_stored(url))
    missing = set(Base.metadata.tables) - tables
    if missing:
        problems.append(f"tables gone: {sorted(missing)}")
    for column, value, how in planted.expected:
        if value not in found[column]:
            problems.append(f"{how}: {value!r} is not in {column} as typed")
    if count != planted.subscribers:
        problems.append(f"{count} subscribers, expected {planted.subscribers}")
    return problems


def sql_injection(lab: Lab, quick: bool) -> list[Finding]:
    """Injection strings through every free-text field, on SQLite and on PostgreSQL."""
    from reliability.service import database, postgres_server

    values = SQL_INJECTIONS[:2] if quick else SQL_INJECTIONS
    fields = (
        "Telegram names and group titles, /record sources, Slack channel names and user ids, "
        "record --source/--by, broadcast texts, proposals approve --by, webhook names, "
        "imported addresses and names"
    )
    found = []
    kinds = ["sqlite"] + (["postgresql"] if postgres_server() else [])
    for kind in kinds:
        check = f"SQL injection ({'PostgreSQL' if kind == 'postgresql' else 'SQLite'})"
        directory = lab.root / f"sql-{kind}"
        directory.mkdir()
        with database(kind, directory) as url:
            problems = _inject(lab, url, values)
        found.append(
            _verdict(
                check,
                problems,
                f"{len(values)} injection strings through {fields}: every one stored as typed, "
                "every table intact",
            )
        )
    if len(kinds) == 1:
        found.append(Finding("SQL injection (PostgreSQL)", None, "no PostgreSQL server answers"))
    return found
