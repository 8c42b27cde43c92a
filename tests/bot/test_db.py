"""The storage layer on SQLite and PostgreSQL: migrations, constraints, time, repositories."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import create_engine
from bot.db.facts import bump_deadline_version, list_milestone_dates, record_milestone_date
from bot.db.migrate import (
    current_revision,
    downgrade_engine,
    head_revision,
    is_at_head,
    upgrade,
    upgrade_engine,
)
from bot.db.models import (
    NO_THREAD,
    Acknowledgement,
    Base,
    Delivery,
    MilestoneDateRecord,
    Subscriber,
    SubscriberFilter,
    UTCDateTime,
)
from config.dataset import MilestoneDate

TABLES = {
    "milestone_dates",
    "subscribers",
    "subscriber_filters",
    "acknowledgements",
    "deliveries",
    "source_snapshots",
    "source_changes",
    "proposals",
    "deadline_versions",
    "source_states",
    "email_signups",
    "service_keys",
    "blocked_reporters",
    "report_questions",
}
NOW = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
VIENNA = ZoneInfo("Europe/Vienna")
# PostgreSQL names the violated constraint; SQLite lists its columns.
SAME_TARGET = r"(?i)unique.*(uq_subscribers_channel_address_thread_id|subscribers\.thread_id)"


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


def subscriber(address: str, *, thread_id: str = NO_THREAD, token: str | None = None) -> Subscriber:
    return Subscriber(
        channel="telegram",
        address=address,
        thread_id=thread_id,
        calendar_nonce=token or f"nonce-{address}-{thread_id}",
        created_at=NOW,
        updated_at=NOW,
    )


def delivery(key: str, *, subscriber_id: int | None, due_at: dt.datetime = NOW) -> Delivery:
    return Delivery(
        key=key,
        subscriber_id=subscriber_id,
        kind="reminder",
        deadline_id="za-c1-self-assessment",
        payload={"lead": 7},
        due_at=due_at,
        next_attempt_at=due_at,
        created_at=NOW,
    )


async def count(session: AsyncSession, model: type[Base]) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


# Migrations


async def test_upgrade_from_empty_creates_every_table(
    database_url: str, empty_engine: AsyncEngine
) -> None:
    assert await current_revision(empty_engine) is None
    assert not await is_at_head(empty_engine)

    await upgrade(database_url)

    assert await table_names(empty_engine) == TABLES | {"alembic_version"}
    assert await current_revision(empty_engine) == head_revision() == "0005"
    assert await is_at_head(empty_engine)


async def test_upgrade_at_head_changes_nothing(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        session.add(subscriber("100"))

    await upgrade(database_url)
    await upgrade(database_url)

    assert await current_revision(engine) == head_revision()
    assert await table_names(engine) == TABLES | {"alembic_version"}
    async with sessions() as session:
        assert await session.scalar(select(Subscriber.address)) == "100"


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_constraint_names_follow_the_convention(engine: AsyncEngine) -> None:
    def names(connection: Connection) -> dict[str, set[str | None]]:
        inspector = inspect(connection)
        return {
            "unique": {c["name"] for c in inspector.get_unique_constraints("subscribers")},
            "foreign": {c["name"] for c in inspector.get_foreign_keys("subscriber_filters")},
            "index": {
                i["name"]
                for i in inspector.get_indexes("deliveries")
                if (i["name"] or "").startswith("ix_")
            },
        }

    async with engine.connect() as connection:
        found = await connection.run_sync(names)
    assert found == {
        "unique": {
            "uq_subscribers_channel_address_thread_id",
            "uq_subscribers_calendar_nonce",
            "uq_subscribers_calendar_legacy_hash",
        },
        "foreign": {"fk_subscriber_filters_subscriber_id_subscribers"},
        "index": {"ix_deliveries_state_next_attempt_at", "ix_deliveries_subscriber_id"},
    }


async def test_downgrade_to_base_then_upgrade_again(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        session.add(subscriber("100"))

    await downgrade_engine(engine)

    assert await table_names(engine) == {"alembic_version"}
    assert await current_revision(engine) is None
    assert not await is_at_head(engine)

    await upgrade(database_url)

    assert await table_names(engine) == TABLES | {"alembic_version"}
    assert await is_at_head(engine)
    async with sessions() as session:
        assert await count(session, Subscriber) == 0


def test_upgrade_from_sync_code_through_asyncio_run(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sync.db'}"

    async def revision() -> str | None:
        engine = create_engine(url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade(url))

    assert asyncio.run(revision()) == head_revision()


async def test_sqlite_connections_keep_foreign_keys_on_after_migrating(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        await upgrade_engine(engine)
        async with engine.connect() as connection:
            foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await engine.dispose()
    assert (foreign_keys, journal, busy) == (1, "wal", 5000)


# Recorded milestone dates


async def test_recording_a_date_again_replaces_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await record_milestone_date(
            session,
            country="ZA",
            cluster=1,
            milestone="self-assessment",
            date=dt.date(2025, 2, 10),
            source="Letter of 10 February",
            recorded_by="alice",
            now=NOW,
        )
        await record_milestone_date(
            session,
            country="AT",
            cluster=1,
            milestone="self-assessment",
            date=dt.date(2025, 1, 5),
            source="Focal point",
            recorded_by=None,
            now=NOW,
        )
    later = NOW + dt.timedelta(days=3)
    async with sessions.begin() as session:
        await record_milestone_date(
            session,
            country="ZA",
            cluster=1,
            milestone="self-assessment",
            date=dt.date(2025, 2, 12),
            source="Corrected by the secretariat",
            recorded_by="bob",
            now=later,
        )

    async with sessions() as session:
        dates = await list_milestone_dates(session)
        za = (
            await session.scalars(
                select(MilestoneDateRecord).where(MilestoneDateRecord.country == "ZA")
            )
        ).one()

    assert dates == [
        MilestoneDate(
            country="AT",
            cluster=1,
            milestone="self-assessment",
            date=dt.date(2025, 1, 5),
            source="Focal point",
            confidence="confirmed",
        ),
        MilestoneDate(
            country="ZA",
            cluster=1,
            milestone="self-assessment",
            date=dt.date(2025, 2, 12),
            source="Corrected by the secretariat",
            confidence="confirmed",
        ),
    ]
    assert (za.recorded_by, za.recorded_at) == ("bob", later)


async def test_recording_refuses_what_the_dataset_would_refuse(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(ValidationError, match="country"):
            await record_milestone_date(
                session,
                country="South Africa",
                cluster=1,
                milestone="self-assessment",
                date=dt.date(2025, 2, 10),
                source="Letter",
                recorded_by=None,
                now=NOW,
            )
        assert await list_milestone_dates(session) == []


# Subscribers


@pytest.mark.parametrize("thread_id", [NO_THREAD, "42"], ids=["no-thread", "thread"])
async def test_the_same_target_cannot_subscribe_twice(
    sessions: async_sessionmaker[AsyncSession], thread_id: str
) -> None:
    async with sessions.begin() as session:
        session.add(subscriber("100", thread_id=thread_id, token="first"))

    with pytest.raises(IntegrityError, match=SAME_TARGET):
        async with sessions.begin() as session:
            session.add(subscriber("100", thread_id=thread_id, token="second"))

    async with sessions() as session:
        assert await session.scalar(select(Subscriber.calendar_nonce)) == "first"


async def test_topics_of_one_chat_are_separate_subscribers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add_all([subscriber("100"), subscriber("100", thread_id="7"), subscriber("200")])

    async with sessions() as session:
        rows = (await session.execute(select(Subscriber.address, Subscriber.thread_id))).all()
    assert sorted(tuple(row) for row in rows) == [("100", ""), ("100", "7"), ("200", "")]


async def test_calendar_nonces_are_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        session.add(subscriber("100", token="secret"))

    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(subscriber("200", token="secret"))


async def test_a_new_subscriber_gets_the_documented_defaults(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add(subscriber("100"))
        # A row written without the ORM gets the same defaults from the schema.
        await session.execute(
            text(
                "INSERT INTO subscribers (channel, address, calendar_nonce, created_at, updated_at)"
                " VALUES ('slack', 'C1', 'raw', :now, :now)"
            ).bindparams(bindparam("now", NOW, type_=UTCDateTime())),
        )

    async with sessions() as session:
        rows = (await session.scalars(select(Subscriber).order_by(Subscriber.channel))).all()
    expected = {
        "thread_id": "",
        "language": "en",
        "timezone": "Europe/Vienna",
        "lead_days": [30, 14, 7, 1, 0],
        "morning_hour": 9,
        "quiet_start": None,
        "quiet_end": None,
        "digest": "off",
        "digest_hour": 9,
        "digest_weekday": 0,
        "active": True,
        "deactivated_reason": None,
    }
    assert [row.calendar_nonce for row in rows] == ["raw", "nonce-100-"]
    assert [row.calendar_legacy_hash for row in rows] == [None, None]
    for row in rows:
        assert {name: getattr(row, name) for name in expected} == expected


async def test_deleting_a_subscriber_deletes_what_belongs_to_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        gone = subscriber("100")
        gone.filters = [
            SubscriberFilter(dimension="country", value="ZA"),
            SubscriberFilter(dimension="cluster", value="1"),
        ]
        kept = subscriber("200")
        kept.filters = [SubscriberFilter(dimension="theme", value="tip")]
        session.add_all([gone, kept])
        await session.flush()
        session.add_all(
            [
                Acknowledgement(subscriber_id=gone.id, deadline_id="za-c1", created_at=NOW),
                delivery("gone:za-c1:reminder:7", subscriber_id=gone.id),
                delivery("kept:za-c1:reminder:7", subscriber_id=kept.id),
                delivery("operator:change:1", subscriber_id=None),
            ]
        )
        gone_id = gone.id

    async with sessions.begin() as session:
        await session.execute(delete(Subscriber).where(Subscriber.id == gone_id))

    async with sessions() as session:
        filters = (await session.execute(select(SubscriberFilter.value))).scalars().all()
        keys = (await session.execute(select(Delivery.key).order_by(Delivery.key))).scalars()
        assert filters == ["tip"]
        assert list(keys) == ["kept:za-c1:reminder:7", "operator:change:1"]
        assert await count(session, Acknowledgement) == 0


async def test_a_filter_is_stored_once_per_subscriber(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        target = subscriber("100")
        session.add(target)
        await session.flush()
        target_id = target.id

    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add_all(
                [
                    SubscriberFilter(subscriber_id=target_id, dimension="country", value="ZA"),
                    SubscriberFilter(subscriber_id=target_id, dimension="country", value="ZA"),
                ]
            )


async def test_an_alert_key_is_planned_only_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add(delivery("operator:za-c1:reminder:7", subscriber_id=None))

    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(delivery("operator:za-c1:reminder:7", subscriber_id=None))


# Time


async def test_instants_come_back_aware_in_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    # 23:30 in Vienna in winter is 22:30 UTC the same day.
    vienna_evening = dt.datetime(2025, 1, 15, 23, 30, 15, 123456, tzinfo=VIENNA)
    async with sessions.begin() as session:
        session.add(delivery("a", subscriber_id=None, due_at=vienna_evening))
        session.add(delivery("b", subscriber_id=None, due_at=NOW))

    async with sessions() as session:
        stored = (await session.scalars(select(Delivery).where(Delivery.key == "a"))).one()
        # The bound value is converted too, so instants compare correctly across zones.
        earlier = dt.datetime(2025, 1, 15, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        later = dt.datetime(2025, 1, 15, 17, 31, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        due_between = await session.scalars(
            select(Delivery.key).where(Delivery.due_at > earlier, Delivery.due_at < later)
        )
        assert list(due_between) == ["a"]

    assert stored.due_at == dt.datetime(2025, 1, 15, 22, 30, 15, 123456, tzinfo=dt.UTC)
    assert stored.due_at.tzinfo is dt.UTC
    assert stored.created_at == NOW
    assert stored.created_at.tzinfo is dt.UTC
    assert stored.sent_at is None


async def test_a_naive_datetime_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with sessions.begin() as session:
            session.add(delivery("a", subscriber_id=None, due_at=dt.datetime(2025, 1, 15, 9)))


# Deadline versions


async def test_the_sequence_rises_only_when_the_dates_change(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    days = [NOW + dt.timedelta(days=n) for n in range(6)]
    async with sessions.begin() as session:
        first = await bump_deadline_version(session, "za-c1-visit", "2025-05-01", days[0])
        same = await bump_deadline_version(session, "za-c1-visit", "2025-05-01", days[1])
        moved = await bump_deadline_version(session, "za-c1-visit", "2025-05-08", days[2])
    async with sessions.begin() as session:
        again = await bump_deadline_version(session, "za-c1-visit", "2025-05-08", days[3])
        back = await bump_deadline_version(session, "za-c1-visit", "2025-05-01", days[4])
        other = await bump_deadline_version(session, "at-c2-visit", "2025-05-01", days[5])

    assert first == (0, days[0])
    assert same == (0, days[0])
    assert moved == (1, days[2])
    assert again == (1, days[2])
    assert back == (2, days[4])
    assert other == (0, days[5])
    assert all(modified.tzinfo is dt.UTC for _, modified in (first, same, moved, back))


def test_the_schema_revision_constant_is_the_newest_migration():
    from bot.db import SCHEMA_REVISION
    from bot.db.migrate import head_revision

    assert head_revision() == SCHEMA_REVISION
