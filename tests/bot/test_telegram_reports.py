"""Reports in Telegram, end to end: /report, the operators' decision, the reporter told.

The real bot, the real delivery loop and the real Telegram channel against the fake Bot
API; the queue read back with `untoc-watch proposals list --format json`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from bot.cli.app import app
from bot.db import subscribers as subs
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.worker import AlertPlanner
from bot.filters.query import Query
from bot.telegram.app import build_bot
from bot.telegram.channel import TelegramChannel
from bot.telegram.services import services_of
from schedulers.timeline import Selection
from tests.bot.telegram_harness import (
    ALICE,
    BOB,
    OPERATOR,
    button_data,
    private,
    running_bot,
    texts_of,
)
from tests.fakes.telegram_api import FakeTelegram

JUNE_2022 = dt.datetime(2022, 6, 1, 9, tzinfo=dt.UTC)
STEP = "m-at-c1-self-assessment"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def clock():
    return Clock(JUNE_2022)


@pytest.fixture
def database(tmp_path):
    return tmp_path / "bot.db"


@pytest.fixture
async def bot(fake, database, clock):
    fake.reset()
    async with running_bot(fake, f"sqlite+aiosqlite:///{database}", clock=clock) as harness:
        yield harness


async def cli(database, monkeypatch, *args):
    """`untoc-watch ARGS` on the bot's database (in a thread: the CLI runs its own loop)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


async def deliver(bot, clock):
    """One planning run and one delivery pass of the worker, through the real channel."""
    services = services_of(bot.application)
    channel = TelegramChannel(build_bot(bot.settings), clock)
    try:
        await AlertPlanner(bot.store, services.publisher, clock).run_once()
        await Dispatcher(
            bot.store, {"telegram": channel}, services.publisher.deadlines, clock
        ).deliver_once()
    finally:
        await channel.close()


def sent_to(fake, chat_id, since):
    return [c for c in fake.calls[since:] if c.method == "sendMessage" and c.chat_id == chat_id]


async def test_a_one_line_report_waits_then_approval_changes_the_timeline_and_tells_the_reporter(
    bot, fake, database, clock, monkeypatch
):
    alice = fake.user(ALICE, language_code="fr")
    calls = await bot.say(
        private(ALICE),
        alice,
        "/report AT self-assessment 2022-05-20 https://www.example.org/at soumis en mai",
    )
    (thanks,) = texts_of(calls)
    assert "Merci" in thanks and "n° 1" in thanks

    (row,) = json.loads(await cli(database, monkeypatch, "proposals", "list", "--format", "json"))
    assert (row["origin"], row["state"], row["kind"]) == ("telegram", "pending", "milestone")
    assert row["reporter"] == "telegram:1…" and str(ALICE) not in json.dumps(row)
    assert row["url"] == "https://www.example.org/at" and row["excerpt"] == "soumis en mai"
    deadlines = {d.id: d for d in await services_of(bot.application).publisher.deadlines()}
    assert deadlines[STEP].status == "no_news"  # nothing changes before approval

    # A follower of Austria, to see the alerts move with the fact.
    async with bot.store.sessions() as session, session.begin():
        follower = await subs.ensure_subscriber(
            session, channel="telegram", address=str(BOB), now=JUNE_2022
        )
        await subs.follow(session, follower, {"country": {"AT"}, "kind": {"milestone"}}, JUNE_2022)

    operator = fake.user(OPERATOR)
    listed = await bot.say(private(OPERATOR), operator, "/approve")
    assert any("telegram:1…" in t for t in texts_of(listed))
    assert any(b == "prop:a:1" for c in listed if c.method == "sendMessage" for b in button_data(c))
    decided = await bot.say(private(OPERATOR), operator, "/approve 1")
    assert "The reporter will be told" in texts_of(decided)[0]

    clock.now = JUNE_2022 + dt.timedelta(seconds=10)
    publisher = services_of(bot.application).publisher
    mark = len(fake.calls)
    await deliver(bot, clock)
    deadlines = {d.id: d for d in await publisher.deadlines()}
    step = deadlines[STEP]
    assert (step.status, step.actual, step.confidence) == ("done", dt.date(2022, 5, 20), "reported")
    assert deadlines["m-at-c1-written-feedback"].due == dt.date(2022, 11, 20)
    told = sent_to(fake, ALICE, mark)
    assert len(told) == 1 and "accepté" in told[0].text, told
    moved = sent_to(fake, BOB, mark)
    assert moved and all("Austria" in c.text or "Autriche" in c.text for c in moved)
    assert "May 20, 2023" in moved[0].text  # the chained steps follow the reported date
    # and the calendar: the step's event now says done, reported, and cites the report
    feed = await publisher.feed(Query(selection=Selection(countries={"AT"})))
    events = {str(e["UID"]): e for e in Calendar.from_ical(feed.body).walk("VEVENT")}
    event = events[f"{STEP}@untoc-watch"]
    description = str(event["DESCRIPTION"])
    assert "Confidence: reported" in description and "soumis en mai" in description
    chained = events["m-at-c1-written-feedback@untoc-watch"]
    assert chained["DTSTART"].dt == dt.date(2022, 11, 20)
    assert int(str(chained.get("SEQUENCE", 0))) > 0  # the moved date raised its version


async def test_rejecting_a_report_tells_the_reporter(bot, fake, clock):
    alice = fake.user(ALICE, language_code="ar")
    await bot.say(
        private(ALICE), alice, "/report AT self-assessment 2022-05-20 https://www.example.org/at"
    )
    await bot.say(private(OPERATOR), fake.user(OPERATOR), "/reject 1")
    mark = len(fake.calls)
    await deliver(bot, clock)
    (told,) = sent_to(fake, ALICE, mark)
    assert "لم يُقبل بلاغك" in told.text


async def test_a_step_that_passed_unrecorded_is_asked_once_and_answers_become_reports(
    bot, fake, database, clock, monkeypatch
):
    for chat in (ALICE, BOB):
        async with bot.store.sessions() as session, session.begin():
            follower = await subs.ensure_subscriber(
                session, channel="telegram", address=str(chat), now=JUNE_2022, language="fr"
            )
            await subs.follow(
                session, follower, {"country": {"AT"}, "kind": {"milestone"}}, JUNE_2022
            )
    mark = len(fake.calls)
    await deliver(bot, clock)
    for chat in (ALICE, BOB):
        (question,) = sent_to(fake, chat, mark)
        assert "Est-ce arrivé" in question.text and "Autriche" in question.text
        assert button_data(question) == [f"q:y:{STEP}", f"q:n:{STEP}", f"q:d:{STEP}"]
    clock.now += dt.timedelta(minutes=5)
    mark = len(fake.calls)
    await deliver(bot, clock)
    assert sent_to(fake, ALICE, mark) == [] and sent_to(fake, BOB, mark) == []  # once

    alice = fake.user(ALICE, language_code="fr")
    asked = fake.last_bot_message(ALICE)
    calls = await bot.press(asked, alice, f"q:y:{STEP}")
    assert "Quel jour" in texts_of(calls)[0]
    assert "Où pouvons-nous" in texts_of(await bot.say(private(ALICE), alice, "2022-05-20"))[0]
    (thanks,) = texts_of(await bot.say(private(ALICE), alice, "https://www.example.org/lettre"))
    assert "n° 1" in thanks
    bob = fake.user(BOB, language_code="fr")
    said = await bot.press(fake.last_bot_message(BOB), bob, f"q:n:{STEP}")
    assert any("pas encore" in c.text for c in said if c.method == "editMessageText")
    again = await bot.press(fake.last_bot_message(BOB), bob, f"q:n:{STEP}")
    assert any("déjà" in c.text for c in again if c.method == "editMessageText")

    (row,) = json.loads(await cli(database, monkeypatch, "proposals", "list", "--format", "json"))
    assert (row["origin"], row["state"], row["target_id"]) == ("question", "pending", STEP)
    clock.now += dt.timedelta(days=3)
    mark = len(fake.calls)
    await deliver(bot, clock)
    assert sent_to(fake, ALICE, mark) == [] and sent_to(fake, BOB, mark) == []  # never again


async def test_a_page_changed_alert_links_to_what_changed(bot, fake, clock):
    from bot.db.models import SourceChange

    async with bot.store.sessions() as session, session.begin():
        reader = await subs.ensure_subscriber(
            session, channel="telegram", address=str(ALICE), now=JUNE_2022
        )
        await subs.follow(
            session, reader, {"theme": {"firearms"}, "kind": {"registration"}}, JUNE_2022
        )
        change = SourceChange(
            source_id="unodc-constructive-dialogues",
            detected_at=JUNE_2022,
            url="https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html",
            summary="Added: Constructive Dialogue on Firearms: 7 May 2027.",
            old_hash="a",
            new_hash="b",
        )
        session.add(change)
        await session.flush()
        change_id = change.id
    mark = len(fake.calls)
    await deliver(bot, clock)
    sent = sent_to(fake, ALICE, mark)
    changed = [c for c in sent if "changes/" in c.text]
    assert len(changed) == 1, [c.text for c in sent]
    assert f"https://watch.example.org/changes/{change_id}" in changed[0].text


async def test_a_guided_report_in_french_waits_for_better_evidence(
    bot, fake, database, monkeypatch
):
    alice = fake.user(ALICE, language_code="fr")
    chat = private(ALICE)
    assert "Quel pays" in texts_of(await bot.say(chat, alice, "/report"))[0]
    step = await bot.say(chat, alice, "Autriche")
    assert "Autriche" in texts_of(step)[0] and "rep:s:self-assessment" in button_data(step[-1])
    asked = await bot.press(fake.last_bot_message(ALICE), alice, "rep:s:self-assessment")
    assert any("AAAA-MM-JJ" in c.text for c in asked if c.method == "editMessageText")
    assert "n’est pas une date" in texts_of(await bot.say(chat, alice, "20 mai"))[0]
    assert "Où pouvons-nous" in texts_of(await bot.say(chat, alice, "2022-05-20"))[0]
    assert "adresse privée" in texts_of(await bot.say(chat, alice, "http://192.168.1.1/x"))[0]
    thanks = texts_of(
        await bot.say(chat, alice, "https://www.example.org/lettre Le ministère a répondu")
    )
    assert "n° 1" in thanks[0]
    (row,) = json.loads(await cli(database, monkeypatch, "proposals", "list", "--format", "json"))
    assert row["excerpt"] == "Le ministère a répondu" and row["origin"] == "telegram"
    # done: what follows is a country search again
    assert "n° " not in texts_of(await bot.say(chat, alice, "Autriche"))[0]
