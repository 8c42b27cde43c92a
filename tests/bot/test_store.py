"""The store: the fast SQLite reader agrees with the repository; missing databases are notes."""

from __future__ import annotations

import datetime as dt

from bot.db.migrate import upgrade
from bot.db.store import (
    Store,
    StoreNotReady,
    read_recorded_facts,
    read_sqlite_facts,
    sqlite_path,
)

NOW = dt.datetime(2022, 9, 1, 12, tzinfo=dt.UTC)


async def _record_two(store: Store) -> None:
    await store.record_milestone_date(
        country="AT",
        cluster=1,
        milestone="self-assessment",
        date=dt.date(2022, 8, 31),
        source="https://example.org/a",
        recorded_by="op",
        now=NOW,
    )
    await store.record_milestone_date(
        country="GB",
        cluster=1,
        milestone="focal-points",
        date=dt.date(2021, 1, 4),
        source="https://example.org/b",
        recorded_by=None,
        now=NOW,
    )


async def test_fast_sqlite_reader_equals_the_repository(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    await upgrade(url)
    store = await Store.open(url)
    try:
        await _record_two(store)
        through_repository = await store.recorded_facts()
    finally:
        await store.close()
    path = sqlite_path(url)
    assert path is not None
    assert read_sqlite_facts(path) == through_repository
    assert [(d.country, d.date) for d in through_repository.milestone_dates] == [
        ("AT", dt.date(2022, 8, 31)),
        ("GB", dt.date(2021, 1, 4)),
    ]


async def test_both_databases_read_back_what_was_recorded(database_url):
    await upgrade(database_url)
    store = await Store.open(database_url)
    try:
        await _record_two(store)
    finally:
        await store.close()
    recorded, note = await read_recorded_facts(database_url)
    assert note is None
    assert {(d.country, d.milestone, d.source) for d in recorded.milestone_dates} == {
        ("AT", "self-assessment", "https://example.org/a"),
        ("GB", "focal-points", "https://example.org/b"),
    }


async def test_missing_or_unmigrated_databases_are_notes_not_failures(tmp_path):
    missing = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"
    recorded, note = await read_recorded_facts(missing)
    assert recorded.milestone_dates == [] and note is not None and "db upgrade" in note
    assert not (tmp_path / "missing.db").exists()  # reading never creates a file
    (tmp_path / "empty.db").write_bytes(b"")
    recorded, note = await read_recorded_facts(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    assert recorded.milestone_dates == [] and note is not None and "not migrated" in note


async def test_opening_an_unmigrated_database_names_the_fix(database_url):
    try:
        await Store.open(database_url)
    except StoreNotReady as exc:
        assert "untoc-watch db upgrade" in str(exc)
    else:
        raise AssertionError("an unmigrated database was accepted")


async def test_fast_sqlite_reader_equals_the_repository_for_approved_events(tmp_path):
    from bot.db.models import Proposal

    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    await upgrade(url)
    store = await Store.open(url)
    try:
        async with store.sessions() as session, session.begin():
            for key, event_id, day, state in (
                ("a", "cd-2027-firearms", "2027-04-05", "approved"),
                ("b", "cd-2027-tip", "2027-07-10", "approved"),
                ("c", "cd-2027-firearms", "2027-04-12", "approved"),
                ("d", "cd-2027-som", "2027-07-15", "rejected"),
                ("e", "cd-2027-prevention", "2027-09-01", "pending"),
            ):
                session.add(
                    Proposal(
                        kind="event",
                        payload={
                            "id": event_id,
                            "kind": "constructive-dialogue",
                            "title": f"Constructive Dialogue ({event_id})",
                            "start": day,
                            "registration": {"deadline": "2027-02-12", "time": "23:59"},
                            "source": "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html",
                            "confidence": "reported",
                        },
                        confidence="reported",
                        state=state,
                        created_at=NOW,
                        decided_at=NOW + dt.timedelta(hours=ord(key))
                        if state != "pending"
                        else None,
                        key=key,
                    )
                )
        through_repository = await store.recorded_facts()
    finally:
        await store.close()
    path = sqlite_path(url)
    assert path is not None
    assert read_sqlite_facts(path) == through_repository
    assert [(e.id, e.start.isoformat()) for e in through_repository.events] == [
        ("cd-2027-firearms", "2027-04-12"),  # the later approval wins
        ("cd-2027-tip", "2027-07-10"),
    ]
