"""Groups, supergroups, forum topics and channels: who may change what, and where alerts go."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from bot.db.subscribers import find_subscriber, selection_of
from tests.bot.telegram_harness import (
    ALICE,
    BOB,
    answers,
    only_message,
    private,
    running_bot,
)
from tests.fakes.telegram_api import FakeTelegram, migrated

GROUP = -1001500
FORUM = -1001600
CHANNEL = -1001700
OLD_GROUP = -500


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake, tmp_path):
    """The bot on SQLite, where the database is not the point."""
    async with started(fake, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}") as harness:
        yield harness


@pytest.fixture
async def stored_bot(fake, database_url):
    """The bot on each database the tests run against (SQLite, PostgreSQL)."""
    async with started(fake, database_url) as harness:
        yield harness


@asynccontextmanager
async def started(fake, url):
    fake.reset()
    fake.add_chat(GROUP, "supergroup", title="Coalition <TIP>", admins={ALICE: "creator"})
    fake.add_chat(FORUM, "supergroup", title="Network", forum=True, admins={ALICE: "administrator"})
    fake.add_chat(
        CHANNEL,
        "channel",
        title="Alerts",
        username="coalition_alerts",
        admins={ALICE: "creator"},
        bot_status="administrator",
    )
    async with running_bot(fake, url) as harness:
        yield harness


async def subscriber(bot, chat_id, thread=""):
    async with bot.store.sessions() as session:
        return await find_subscriber(session, "telegram", str(chat_id), thread)


async def test_only_group_admins_change_the_groups_alerts(stored_bot, fake):
    group = fake.chat_of(GROUP)
    refused = await stored_bot.say(group, fake.user(BOB), "/subscribe AT", message_id=4242)
    assert only_message(refused).text == (
        "Only administrators of this chat can change its alerts and settings. Ask Ada."
    )
    # in a group, the answer quotes the message it answers
    assert only_message(refused).params["reply_parameters"]["message_id"] == 4242
    assert await subscriber(stored_bot, GROUP) is None
    for command in ("/settings timezone UTC", "/unsubscribe AT", "/stop"):
        only_message(await stored_bot.say(group, fake.user(BOB), command))
    assert await subscriber(stored_bot, GROUP) is None
    # anyone may ask
    assert (
        "Austria" in only_message(await stored_bot.say(group, fake.user(BOB), "/country AT")).text
    )
    accepted = only_message(
        await stored_bot.say(group, fake.user(ALICE), "/subscribe@untoc_watch_test_bot AT")
    )
    assert "Austria (AT)" in accepted.text
    stored = await subscriber(stored_bot, GROUP)
    assert stored is not None and stored.active and stored.display_name == "Coalition <TIP>"


async def test_a_non_admin_cannot_press_the_groups_buttons(bot, fake):
    group = fake.chat_of(GROUP)
    await bot.say(group, fake.user(ALICE), "/subscribe")
    menu = fake.last_bot_message(GROUP)
    calls = await bot.press(menu, fake.user(BOB), "sub:c:AT:0")
    assert answers(calls) == [
        "Only administrators of this chat can change its alerts and settings. Ask Ada."
    ]
    assert selection_of(await subscriber(bot, GROUP)).countries == set()


async def test_an_anonymous_admin_posting_as_the_group_counts_as_admin(bot, fake):
    group = fake.chat_of(GROUP)
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    message = fake.message(group, anonymous, "/subscribe BR", sender_chat=group)
    await bot.queue({"message": message})
    assert set(selection_of(await subscriber(bot, GROUP)).countries) == {"BR"}


async def test_forum_topics_subscribe_separately_and_get_answers_in_their_topic(stored_bot, fake):
    forum = fake.chat_of(FORUM)
    first = only_message(
        await stored_bot.say(forum, fake.user(ALICE), "/subscribe AT", thread_id=11)
    )
    assert first.params["message_thread_id"] == 11
    await stored_bot.say(forum, fake.user(ALICE), "/subscribe BR", thread_id=22)
    general = only_message(await stored_bot.say(forum, fake.user(ALICE), "/mysubs"))
    assert "message_thread_id" not in general.params
    assert "Alerts are off" in general.text
    assert set(selection_of(await subscriber(stored_bot, FORUM, "11")).countries) == {"AT"}
    assert set(selection_of(await subscriber(stored_bot, FORUM, "22")).countries) == {"BR"}
    assert await subscriber(stored_bot, FORUM) is None


async def test_commands_posted_in_a_channel(bot, fake):
    channel = fake.chat_of(CHANNEL)
    reply = only_message(await bot.post(channel, "/subscribe AT tip"))
    assert reply.params["chat_id"] == CHANNEL
    stored = await subscriber(bot, CHANNEL)
    assert stored is not None and set(selection_of(stored).countries) == {"AT"}


async def test_a_channel_set_up_from_a_private_chat(stored_bot, fake):
    alice = fake.user(ALICE)
    done = only_message(
        await stored_bot.say(private(ALICE), alice, "/addchannel @coalition_alerts AT")
    )
    assert "Alerts will be posted in @coalition_alerts" in done.text
    stored = await subscriber(stored_bot, CHANNEL)
    assert stored is not None and stored.active and stored.display_name == "@coalition_alerts"
    assert set(selection_of(stored).countries) == {"AT"}
    refused = only_message(
        await stored_bot.say(private(BOB), fake.user(BOB), "/addchannel @coalition_alerts AT")
    )
    assert "Only administrators of @coalition_alerts" in refused.text
    missing = only_message(await stored_bot.say(private(ALICE), alice, "/addchannel @nowhere"))
    assert "I cannot find @nowhere" in missing.text
    fake.add_chat(-1001800, "channel", username="quiet", admins={ALICE: "creator"})
    not_admin = only_message(await stored_bot.say(private(ALICE), alice, "/addchannel @quiet"))
    assert "Make me an administrator of @quiet" in not_admin.text
    group = only_message(
        await stored_bot.say(fake.chat_of(GROUP), alice, "/addchannel @coalition_alerts")
    )
    assert "private chat" in group.text


async def test_a_group_that_became_a_supergroup_keeps_its_subscription(stored_bot, fake):
    fake.add_chat(OLD_GROUP, "group", title="Old", admins={ALICE: "creator"})
    old = fake.chat_of(OLD_GROUP)
    await stored_bot.say(old, fake.user(ALICE), "/subscribe AT")
    service = fake.message(old, fake.user(ALICE), "")
    service.pop("text")
    service["migrate_to_chat_id"] = -1009000
    await stored_bot.queue({"message": service})
    assert await subscriber(stored_bot, OLD_GROUP) is None
    moved = await subscriber(stored_bot, -1009000)
    assert moved is not None and set(selection_of(moved).countries) == {"AT"}
    # a reply to a group that migrated before we heard of it follows it too
    fake.add_chat(-501, "group", title="Older", admins={ALICE: "creator"})
    await stored_bot.say(fake.chat_of(-501), fake.user(ALICE), "/subscribe BR")
    fake.script(-501, migrated(-1009001))
    await stored_bot.say(fake.chat_of(-501), fake.user(ALICE), "/mysubs")
    assert await subscriber(stored_bot, -501) is None
    assert set(selection_of(await subscriber(stored_bot, -1009001)).countries) == {"BR"}


async def test_removing_the_bot_stops_the_chats_alerts(stored_bot, fake):
    group = fake.chat_of(GROUP)
    await stored_bot.say(group, fake.user(ALICE), "/subscribe AT")
    await stored_bot.send(fake.member_update(group, fake.user(ALICE), "member", "kicked"))
    stored = await subscriber(stored_bot, GROUP)
    assert stored is not None and not stored.active


async def test_an_update_from_an_unknown_chat_type_is_ignored(bot, fake):
    strange = {"id": 777, "type": "galaxy", "title": "?"}
    calls = await bot.say(strange, fake.user(ALICE), "/subscribe AT")
    assert [c.method for c in calls] == []
    await bot.send(fake.press(fake.message(strange, None, "old"), fake.user(ALICE), "sub:menu"))
    assert only_message(await bot.say(private(ALICE), fake.user(ALICE), "/help"))


async def test_a_non_admin_sees_the_groups_settings_read_only(bot, fake):
    group = fake.chat_of(GROUP)
    shown = only_message(await bot.say(group, fake.user(BOB), "/settings"))
    assert not shown.buttons  # no keyboard that would be refused at the last tap
    assert "Settings of this chat" in shown.text and "Ask Ada." in shown.text
    mine = only_message(await bot.say(group, fake.user(ALICE), "/settings"))
    assert mine.buttons


async def test_the_groups_calendar_link_says_it_is_the_groups(bot, fake):
    group = fake.chat_of(GROUP)
    text = only_message(await bot.say(group, fake.user(ALICE), "/calendar")).text
    assert "This is the calendar of this group, not yours" in text
    assert "Keep it to yourself" not in text
    private_text = only_message(await bot.say(private(ALICE), fake.user(ALICE), "/calendar")).text
    assert "Keep it to yourself" in private_text
