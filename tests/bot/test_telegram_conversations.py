"""Conversations in a private chat: the real bot, driven through the fake's getUpdates."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from bot.channels.base import Alert, Target
from bot.db.models import Acknowledgement, Subscriber
from bot.db.subscribers import find_subscriber, selection_of
from bot.filters.deeplink import encode
from bot.telegram.channel import TelegramChannel
from config.keys import calendar_key, calendar_token
from config.settings import load_settings
from schedulers.timeline import Selection, compute_deadlines
from tests.bot.telegram_harness import (
    ALICE,
    MARCH_2022,
    answers,
    button_data,
    dataset,
    only_message,
    private,
    running_bot,
    texts_of,
)
from tests.fakes.telegram_api import BLOCKED, FakeTelegram, parse_html, retry_after

CHAT = private(ALICE)


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake, tmp_path):
    """The bot on SQLite, for conversations where the database is not the point."""
    fake.reset()
    async with running_bot(fake, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}") as harness:
        yield harness


@pytest.fixture
async def stored_bot(fake, database_url):
    """The bot on each database the tests run against (SQLite, PostgreSQL)."""
    fake.reset()
    async with running_bot(fake, database_url) as harness:
        yield harness


@pytest.fixture
def alice(fake):
    return fake.user(ALICE)


async def followed(bot, chat_id=ALICE) -> Selection:
    subscriber = await stored(bot, chat_id)
    assert subscriber is not None
    return selection_of(subscriber)


async def stored(bot, chat_id=ALICE, thread="") -> Subscriber | None:
    async with bot.store.sessions() as session:
        return await find_subscriber(session, "telegram", str(chat_id), thread)


async def test_commands_are_registered_in_each_language(bot, fake):
    menus = {language: commands for (_, language, _), commands in fake.commands.items()}
    assert set(menus) == {"", "ar", "en", "es", "fr", "ru", "zh"}
    assert [c["command"] for c in menus["fr"]][:3] == ["start", "help", "subscribe"]
    described = {c["command"]: c["description"] for c in menus["fr"]}
    assert described["subscribe"] == "Suivre des pays ou des thèmes"
    assert fake.webhook == {"url": ""}  # polling: any webhook was deleted


async def test_start_welcomes_and_offers_languages_without_subscribing(bot, alice):
    call = only_message(await bot.say(CHAT, alice, "/start"))
    assert "UNTOC Watch" in call.text and "Alerts are off in this chat" in call.text
    assert button_data(call) == [f"lang:{code}" for code in ("ar", "en", "es", "fr", "ru", "zh")]
    assert await stored(bot) is None


async def test_start_in_the_readers_telegram_language(bot, fake):
    call = only_message(await bot.say(CHAT, fake.user(ALICE, language_code="es"), "/start"))
    assert "Las alertas están desactivadas" in call.text


async def test_a_deep_link_from_the_web_page_subscribes_directly(stored_bot, alice):
    payload = encode(Selection(countries={"AT"}, themes={"tip"}))
    call = only_message(await stored_bot.say(CHAT, alice, f"/start {payload}"))
    assert "Countries: Austria (AT)" in call.text and "Trafficking in persons" in call.text
    subscriber = await stored(stored_bot)
    assert subscriber is not None and subscriber.active
    chosen = selection_of(subscriber)
    assert (set(chosen.countries), set(chosen.themes)) == ({"AT"}, {"tip"})


async def test_a_tampered_deep_link_is_explained(bot, alice):
    call = only_message(await bot.say(CHAT, alice, "/start sub-AT-<script>"))
    assert "This link is not valid any more" in call.text
    assert await stored(bot) is None


async def test_choosing_a_language_rewrites_the_welcome(bot, alice, fake):
    welcome = only_message(await bot.say(CHAT, alice, "/start"))
    message = fake.bot_message(ALICE, fake.last_bot_message(ALICE)["message_id"])
    calls = await bot.press(message, alice, "lang:fr")
    edited = only_message(calls)
    assert edited.method == "editMessageText" and "Alertes désactivées" in edited.text
    assert answers(calls) == ["Langue choisie : français."]
    assert edited.text.startswith("✓ Langue choisie : français.")  # seen, not only a notice
    assert "✓ français" in [b["text"] for b in edited.buttons]
    subscriber = await stored(bot)
    assert subscriber is not None and subscriber.language == "fr" and not subscriber.active
    assert welcome.text != edited.text
    help_text = only_message(await bot.say(CHAT, alice, "/help")).text
    assert "/subscribe - Suivre des pays ou des thèmes" in help_text


async def test_subscribe_with_words_in_any_language(stored_bot, alice):
    call = only_message(
        await stored_bot.say(
            CHAT,
            alice,
            "/subscribe Autriche, Bosnia and Herzegovina c2 trafficking in persons events",
        )
    )
    assert "Austria (AT)" in call.text and "Bosnia &amp; Herzegovina (BA)" in call.text
    chosen = await followed(stored_bot)
    assert set(chosen.countries) == {"AT", "BA"}
    assert set(chosen.clusters) == {2}
    assert set(chosen.themes) == {"tip"} and set(chosen.kinds) == {"event"}


async def test_unknown_countries_get_suggestions_and_nothing_is_followed(bot, alice):
    call = only_message(await bot.say(CHAT, alice, "/subscribe Austira tip"))
    assert "I do not know Austira. Did you mean Austria (AT)" in call.text
    assert await stored(bot) is None


async def test_garbage_and_overlong_arguments_get_help(bot, alice):
    for words in ("@@@ ### !!!", "x" * 500, " ".join(["AT"] * 60), "<b>bold</b> & co"):
        call = only_message(await bot.say(CHAT, alice, f"/subscribe {words}"))
        parse_html(call.text)
        assert "Usage: /subscribe AT tip" in call.text or "I do not know" in call.text, words
    assert await stored(bot) is None


async def test_the_keyboards_page_toggle_and_finish(stored_bot, alice, fake):
    menu = only_message(await stored_bot.say(CHAT, alice, "/subscribe"))
    assert button_data(menu) == ["sub:cp:0", "sub:gl", "sub:tl", "sub:kl", "sub:all", "sub:done"]
    message = fake.last_bot_message(ALICE)
    page = only_message(await stored_bot.press(message, alice, "sub:cp:0"))
    assert "sub:cp:1" in button_data(page)
    second = only_message(
        await stored_bot.press(fake.bot_message(ALICE, message["message_id"]), alice, "sub:cp:1")
    )
    assert "sub:cp:0" in button_data(second) and "sub:cp:2" in button_data(second)
    code = next(d.split(":")[2] for d in button_data(second) if d.startswith("sub:c:"))
    toggled = await stored_bot.press(
        fake.bot_message(ALICE, message["message_id"]), alice, f"sub:c:{code}:1"
    )
    assert answers(toggled) == ["Saved."]
    marked = only_message(toggled)
    assert any(b["text"].startswith("✓ ") for b in marked.buttons)
    assert set((await followed(stored_bot)).countries) == {code}
    # pressing it again unfollows
    await stored_bot.press(fake.bot_message(ALICE, message["message_id"]), alice, f"sub:c:{code}:1")
    assert set((await followed(stored_bot)).countries) == set()
    for listing, toggle in (
        ("sub:gl", "sub:g:1"),
        ("sub:tl", "sub:t:firearms"),
        ("sub:kl", "sub:k:registration"),
    ):
        await stored_bot.press(fake.bot_message(ALICE, message["message_id"]), alice, listing)
        await stored_bot.press(fake.bot_message(ALICE, message["message_id"]), alice, toggle)
    chosen = await followed(stored_bot)
    assert (set(chosen.clusters), set(chosen.themes), set(chosen.kinds)) == (
        {1},
        {"firearms"},
        {"registration"},
    )
    done = only_message(
        await stored_bot.press(fake.bot_message(ALICE, message["message_id"]), alice, "sub:done")
    )
    assert "This chat now follows" in done.text and "Firearms" in done.text
    everything = await stored_bot.press(
        fake.bot_message(ALICE, message["message_id"]), alice, "sub:all"
    )
    assert await followed(stored_bot) == Selection(
        countries=set(), clusters=set(), kinds=set(), themes=set(), muted_countries=set()
    )
    assert "Countries: all" in only_message(everything).text


async def test_typing_a_country_name_searches(bot, alice, fake):
    found = only_message(await bot.say(CHAT, alice, "autri"))
    assert button_data(found) == ["sub:c:AT:s", "sub:done"]
    message = fake.last_bot_message(ALICE)
    toggled = only_message(await bot.press(message, alice, "sub:c:AT:s"))
    assert toggled.buttons[0]["text"] == "✓ Austria"
    assert set((await followed(bot)).countries) == {"AT"}
    close = only_message(await bot.say(CHAT, alice, "Austira"))
    assert "No State party matches Austira. Did you mean one of these?" in close.text
    assert "sub:c:AT:s" in button_data(close)
    nothing = only_message(await bot.say(CHAT, alice, "Qwxyzzy"))
    assert "I did not understand that" in nothing.text and "/upcoming" in nothing.text
    assert not nothing.buttons


async def test_mysubs_and_unsubscribe(stored_bot, alice, fake):
    await stored_bot.say(CHAT, alice, "/subscribe AT BR tip")
    mine = only_message(await stored_bot.say(CHAT, alice, "/mysubs"))
    assert "Alerts are on" in mine.text and "Brazil (BR)" in mine.text
    assert "Reminders (days before): 30, 14, 7, 1, 0" in mine.text
    await stored_bot.say(CHAT, alice, "/unsubscribe BR tip")
    chosen = await followed(stored_bot)
    assert set(chosen.countries) == {"AT"} and set(chosen.themes) == set()
    listing = only_message(await stored_bot.say(CHAT, alice, "/unsubscribe"))
    assert button_data(listing) == ["uns:c:AT", "uns:all"]
    message = fake.last_bot_message(ALICE)
    after = only_message(await stored_bot.press(message, alice, "uns:c:AT"))
    chosen = await followed(stored_bot)
    assert set(chosen.countries) == set() and set(chosen.muted_countries) == {"AT"}
    assert "uns:m:AT" in button_data(after)
    stopped = only_message(
        await stored_bot.press(fake.bot_message(ALICE, message["message_id"]), alice, "uns:all")
    )
    assert "Alerts are off" in stopped.text
    subscriber = await stored(stored_bot)
    assert subscriber is not None and not subscriber.active
    again = only_message(await stored_bot.say(CHAT, alice, "/unsubscribe"))
    assert "already off" in again.text
    await stored_bot.say(CHAT, alice, "/subscribe")
    resumed = await stored_bot.press(fake.last_bot_message(ALICE), alice, "sub:done")
    assert (await stored(stored_bot)).active and answers(resumed) == ["Saved."]


async def test_upcoming_in_the_chats_zone_with_status_and_confidence(bot, alice):
    everything = only_message(await bot.say(CHAT, alice, "/upcoming")).text
    assert "Coming up in the next 90 days" in everything
    assert "Registration closes: Constructive Dialogue on Firearms" in everything
    assert "March 17, 2022, midnight (end of day), Vienna time" in everything
    assert "due soon · confirmed" in everything
    await bot.say(CHAT, alice, "/settings timezone America/Bogota")
    moved = only_message(await bot.say(CHAT, alice, "/upcoming")).text
    assert (
        "March 17, 2022, 6:00\u202fPM (Colombia Standard Time)\n"
        "March 17, 2022, midnight (end of day), Vienna time" in moved
    )
    austria = only_message(await bot.say(CHAT, alice, "/upcoming Austria")).text
    assert "Coming up for Austria in the next 90 days" in austria
    assert "Austria: Responses to the self-assessment questionnaire" in austria
    unknown = only_message(await bot.say(CHAT, alice, "/upcoming Atlantis")).text
    assert "I do not know Atlantis" in unknown


async def test_upcoming_follows_the_subscription(bot, alice):
    await bot.say(CHAT, alice, "/subscribe AT milestones")
    text = only_message(await bot.say(CHAT, alice, "/upcoming")).text
    assert "Austria: Responses to the self-assessment questionnaire" in text
    assert "Registration closes" not in text


async def test_country_timeline(bot, alice):
    text = html.unescape(only_message(await bot.say(CHAT, alice, "/country AT")).text)
    assert "Review timeline: Austria (AT)" in text
    assert "Cluster 1: Criminalization and jurisdiction" in text
    assert (
        "Appointment of focal points</b>\n"
        "due November 15, 2021 (projected from the group's start), no news since · reported"
    ) in text
    assert "Lists of observations</b>\ndue May 1, 2023 (projected from the due date of" in text
    usage = only_message(await bot.say(CHAT, alice, "/country")).text
    assert "Usage: /country AT" in usage
    wrong = only_message(await bot.say(CHAT, alice, "/country Austira")).text
    assert "Did you mean Austria (AT)" in wrong
    unknown_group = only_message(await bot.say(CHAT, alice, "/country FR")).text
    assert "which one France (FR) is in is not in our data yet" in unknown_group


async def test_calendar_link_is_the_personal_feed(bot, alice):
    text = only_message(await bot.say(CHAT, alice, "/calendar")).text
    subscriber = await stored(bot)
    assert subscriber is not None and not subscriber.active
    token = calendar_token(calendar_key(load_settings()), subscriber.calendar_nonce)
    url = f"https://watch.example.org/calendar/{token}.ics"
    assert f'<a href="{url}">{url}</a>' in text


async def test_settings_by_words(stored_bot, alice):
    overview = only_message(await stored_bot.say(CHAT, alice, "/settings"))
    assert button_data(overview) == ["set:lead", "set:digest", "set:quiet", "set:tz", "set:lang"]
    for words, check in (
        ("timezone Africa/Lagos", lambda s: s.timezone == "Africa/Lagos"),
        ("lead 30 7 1", lambda s: s.lead_days == [30, 7, 1]),
        ("digest weekly", lambda s: s.digest == "weekly"),
        ("quiet 22-7", lambda s: (s.quiet_start, s.quiet_end) == (22, 7)),
        ("quiet off", lambda s: s.quiet_start is None),
        ("language es", lambda s: s.language == "es"),
    ):
        reply = only_message(await stored_bot.say(CHAT, alice, f"/settings {words}"))
        assert check(await stored(stored_bot)), words
    assert "Guardado." in reply.text and "Idioma: español" in reply.text


async def test_settings_refuse_bad_values_kindly(bot, alice):
    for words, expected in (
        ("timezone Mars/Olympus", "I do not know the time zone Mars/Olympus. Name a city"),
        ("timezone +02:00", "I do not know the time zone +02:00"),
        ("timezone UTC+3", "name a city instead, e.g. Abidjan"),
        ("timezone Abidjn", "Did you mean Abidjan?"),
        ("lead 400", "Reminders: 1 to 10 whole days"),
        ("lead soon", "I did not understand soon. Write the days before a deadline"),
        ("digest hourly", "I did not understand hourly. Write daily, weekly or off."),
        ("quiet 25-7", "Quiet hours: two different hours"),
        ("language xx", "I do not know the language xx. Choose one of: العربية, English"),
        ("colour blue", "I do not know the setting colour."),
    ):
        reply = only_message(await bot.say(CHAT, alice, f"/settings {words}"))
        assert expected in reply.text, words
    subscriber = await stored(bot)
    assert subscriber is None or (subscriber.timezone, subscriber.lead_days) == (
        "Europe/Vienna",
        [30, 14, 7, 1, 0],
    )


async def test_settings_by_buttons(stored_bot, alice, fake):
    await stored_bot.say(CHAT, alice, "/settings")
    message = fake.last_bot_message(ALICE)

    def current():
        return fake.bot_message(ALICE, message["message_id"])

    lead = only_message(await stored_bot.press(current(), alice, "set:lead"))
    assert "set:lead:7.1.0" in button_data(lead)
    await stored_bot.press(current(), alice, "set:lead:7.1.0")
    await stored_bot.press(current(), alice, "set:digest:daily")
    await stored_bot.press(current(), alice, "set:quiet:21-8")
    await stored_bot.press(current(), alice, "set:tz:Asia/Bangkok")
    french = only_message(await stored_bot.press(current(), alice, "set:lang:fr"))
    assert "Paramètres de ce chat" in french.text
    subscriber = await stored(stored_bot)
    assert subscriber.lead_days == [7, 1, 0] and subscriber.digest == "daily"
    assert (subscriber.quiet_start, subscriber.quiet_end) == (21, 8)
    assert subscriber.timezone == "Asia/Bangkok" and subscriber.language == "fr"


STALE = (
    "sub:c:ZZ:0",
    "sub:cp:99999",
    "sub:c:AT",
    "sub:x",
    "set:tz:Mars/Olympus",
    "set:lead:1.2.3.4.5.6.7.8.9.10.11",
    "set:colour:blue",
    "lang:xx",
    "ack:m-zz-c9-nothing",
    "mute:ZZ",
    "uns:c:ZZ",
    "bc:send:stale",
    "prop:a:notanumber",
    "v9:whatever",
    "garbage",
    "sub:c:<script>:0",
    "",
)


async def test_tampered_or_stale_buttons_get_a_polite_answer(bot, alice, fake):
    await bot.say(CHAT, alice, "/subscribe AT")
    await bot.say(CHAT, alice, "/subscribe")
    message = fake.last_bot_message(ALICE)
    for data in STALE:
        calls = await bot.press(message, alice, data)
        (answer,) = [c for c in calls if c.method == "answerCallbackQuery"]
        assert answer.params.get("show_alert") is True, data
        assert answer.text in (
            "This button is out of date. Send the command again for fresh buttons.",
            "Sorry, this command is for the operators of this service.",
        ), data
    assert set((await followed(bot)).countries) == {"AT"}
    assert only_message(await bot.say(CHAT, alice, "/mysubs"))  # still answering


async def test_alert_buttons_mark_done_and_mute(stored_bot, alice, fake):
    await stored_bot.say(CHAT, alice, "/subscribe AT")
    subscriber = await stored(stored_bot)
    deadline = {d.id: d for d in compute_deadlines(dataset(), MARCH_2022)}[
        "m-at-c1-self-assessment"
    ]
    channel = TelegramChannel(stored_bot.application.bot, lambda: MARCH_2022)
    target = Target(subscriber_id=subscriber.id, channel="telegram", address=str(ALICE))
    await channel.send(target, Alert(key="k", kind="reminder", deadline=deadline))
    alert = fake.last_bot_message(ALICE)
    done = await stored_bot.press(alert, alice, "ack:m-at-c1-self-assessment")
    assert answers(done) == ["Marked as done: no more reminders of this deadline here."]
    markup = next(c for c in done if c.method == "editMessageReplyMarkup").params["reply_markup"]
    assert [b["callback_data"] for row in markup["inline_keyboard"] for b in row] == ["mute:AT"]
    async with stored_bot.store.sessions() as session:
        acks = list(await session.scalars(select(Acknowledgement.deadline_id)))
    assert acks == ["m-at-c1-self-assessment"]
    again = await stored_bot.press(alert, alice, "ack:m-at-c1-self-assessment")
    assert answers(again) == ["Already marked as done."]
    muted = await stored_bot.press(fake.bot_message(ALICE, alert["message_id"]), alice, "mute:AT")
    assert answers(muted) == ["Muted: no more alerts about Austria here."]
    chosen = await followed(stored_bot)
    assert set(chosen.muted_countries) == {"AT"} and not chosen.countries


async def test_stop_forgets_the_chat(stored_bot, alice):
    await stored_bot.say(CHAT, alice, "/subscribe AT tip")
    await stored_bot.say(CHAT, alice, "/settings timezone Africa/Lagos")
    reply = only_message(await stored_bot.say(CHAT, alice, "/stop"))
    assert "deleted" in reply.text
    assert await stored(stored_bot) is None
    async with stored_bot.store.sessions() as session:
        assert list(await session.scalars(select(Subscriber))) == []
    again = only_message(await stored_bot.say(CHAT, alice, "/stop"))
    assert "Nothing is stored about this chat" in again.text


async def test_a_chat_that_blocked_the_bot_gets_no_more_alerts_and_others_go_on(bot, fake, alice):
    other, user = private(ALICE + 1), fake.user(ALICE + 1)
    await bot.say(other, user, "/subscribe AT")
    fake.script(ALICE + 1, always=BLOCKED)
    await bot.say(other, user, "/help")
    blocked = await stored(bot, ALICE + 1)
    assert blocked is not None and not blocked.active
    assert blocked.deactivated_reason == "Forbidden: bot was blocked by the user"
    assert only_message(await bot.say(CHAT, alice, "/help"))


async def test_flood_control_on_a_reply_is_waited_out(bot, fake, alice):
    fake.script(ALICE, retry_after(1))
    calls = await bot.say(CHAT, alice, "/help")
    sent = [c for c in calls if c.method == "sendMessage"]
    assert [c.status for c in sent] == [429, 200]
    assert sent[1].at - sent[0].at >= 1.0


async def test_long_answers_are_split_under_the_limit(bot, alice):
    await bot.say(CHAT, alice, "/settings timezone UTC")
    calls = await bot.say(CHAT, alice, "/upcoming")
    # 90 days of every State's milestones do not fit in one message
    assert all(len(t) <= 4096 for t in texts_of(calls))
    for text in texts_of(calls):
        parse_html(text)
