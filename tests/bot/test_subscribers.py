"""Subscriber operations shared by the channels, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import subscribers as subs

NOW = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)


async def test_follow_mute_unfollow_and_preferences(store):
    async with store.sessions() as session, session.begin():
        chat = await subs.ensure_subscriber(
            session, channel="telegram", address="42", now=NOW, language="fr"
        )
        same = await subs.ensure_subscriber(session, channel="telegram", address="42", now=NOW)
        assert same.id == chat.id and chat.language == "fr" and len(chat.calendar_nonce) == 22
        await subs.follow(session, chat, {"country": ["AT", "DE"], "theme": ["tip"]}, NOW)
        await subs.follow(session, chat, {"country": ["AT"]}, NOW)  # no duplicate
        assert subs.selection_of(chat).countries == {"AT", "DE"}
        await subs.mute_country(session, chat, "AT", NOW)
        selection = subs.selection_of(chat)
        assert selection.countries == {"DE"} and not selection.muted_countries
        await subs.mute_country(session, chat, "DE", NOW)  # the last one: follow all but DE
        selection = subs.selection_of(chat)
        assert selection.countries == set() and selection.muted_countries == {"DE"}
        await subs.follow(session, chat, {"country": ["DE"]}, NOW)  # following unmutes
        assert subs.selection_of(chat).countries == {"DE"}
        assert subs.selection_of(chat).muted_countries == set()
        await subs.set_preferences(
            session,
            chat,
            NOW,
            timezone="Africa/Lagos",
            lead_days=[7, 1, 7],
            quiet_hours=(22, 7),
            digest="weekly",
        )
        assert (chat.timezone, chat.lead_days, chat.quiet_start, chat.digest) == (
            "Africa/Lagos",
            [7, 1],
            22,
            "weekly",
        )
        for bad in (
            {"timezone": "CET"},
            {"timezone": "Mars/Olympus"},
            {"lead_days": [400]},
            {"language": "de"},
            {"digest": "hourly"},
            {"quiet_hours": (5, 5)},
        ):
            with pytest.raises(subs.InvalidPreference):
                await subs.set_preferences(session, chat, NOW, **bad)
        assert await subs.acknowledge(session, chat.id, "r-cd-2022-som-tip", NOW)
        await session.flush()
        assert not await subs.acknowledge(session, chat.id, "r-cd-2022-som-tip", NOW)
        await subs.unfollow(session, chat, None, NOW)
        assert subs.selection_of(chat).countries == set()
    async with store.sessions() as session:
        reloaded = await subs.find_subscriber(session, "telegram", "42")
        assert reloaded is not None and reloaded.filters == []
        assert await subs.acknowledged(session, reloaded.id) == {"r-cd-2022-som-tip"}


async def test_deactivate_move_reactivate_and_forget(store):
    async with store.sessions() as session, session.begin():
        chat = await subs.ensure_subscriber(session, channel="telegram", address="-100", now=NOW)
        topic = await subs.ensure_subscriber(
            session, channel="telegram", address="-100", thread_id="7", now=NOW
        )
        assert topic.id != chat.id
        await subs.deactivate(session, chat.id, "Forbidden: bot was blocked by the user", NOW)
        await subs.move_address(session, topic.id, "-100999", NOW)
    async with store.sessions() as session, session.begin():
        assert [s.address for s in await subs.active_subscribers(session)] == ["-100999"]
        again = await subs.ensure_subscriber(session, channel="telegram", address="-100", now=NOW)
        assert again.active and again.deactivated_reason is None
        await subs.forget(session, again)
    async with store.sessions() as session:
        assert await subs.find_subscriber(session, "telegram", "-100") is None


async def test_the_planner_reads_each_active_subscriber_as_they_are(store):
    """The planner's plain-row reading gives what loading each subscriber gives."""
    async with store.sessions() as session, session.begin():
        plain = await subs.ensure_subscriber(session, channel="telegram", address="1", now=NOW)
        picky = await subs.ensure_subscriber(session, channel="slack", address="C1", now=NOW)
        await subs.follow(session, picky, {"country": ["AT", "FR"], "cluster": ["2"]}, NOW)
        await subs.mute_country(session, picky, "FR", NOW)
        await subs.set_preferences(
            session,
            picky,
            NOW,
            timezone="Asia/Kathmandu",
            lead_days=[10, 3],
            morning_hour=7,
            quiet_hours=(22, 6),
            digest="weekly",
            digest_hour=18,
            digest_weekday=4,
        )
        twin = await subs.ensure_subscriber(session, channel="telegram", address="2", now=NOW)
        await subs.follow(session, twin, {"cluster": ["2"], "country": ["AT"]}, NOW)
        gone = await subs.ensure_subscriber(session, channel="telegram", address="3", now=NOW)
        await subs.acknowledge(session, plain.id, "m-at-c1-focal-points", NOW)
        await subs.acknowledge(session, gone.id, "m-at-c1-experts", NOW)
        await subs.deactivate(session, gone.id, "blocked", NOW)
    async with store.sessions() as session:
        read = {p.subscriber_id: p for p in await subs.planning_preferences(session)}
        loaded = {s.id: s for s in await subs.active_subscribers(session)}
        done = await subs.acknowledged_by(session, loaded)
    assert set(read) == set(loaded) == {plain.id, picky.id, twin.id}
    for sid, subscriber in loaded.items():
        prefs = read[sid]
        assert prefs.selection.key() == subs.selection_of(subscriber).key()
        assert prefs.timezone == subscriber.timezone
        assert prefs.lead_days == tuple(subscriber.lead_days)
        assert prefs.acknowledged == frozenset(done[sid])
    assert read[picky.id].quiet == (22, 6) and read[picky.id].digest == "weekly"
    assert read[picky.id].selection.muted_countries == set()  # following AT, FR: muting drops FR
    assert read[picky.id].selection.countries == {"AT"}
    assert (read[picky.id].morning_hour, read[picky.id].digest_hour) == (7, 18)
    assert read[picky.id].digest_weekday == 4 and read[plain.id].quiet is None
    assert read[plain.id].acknowledged == {"m-at-c1-focal-points"}
    assert read[twin.id].selection is read[picky.id].selection  # alike filters, one Selection
