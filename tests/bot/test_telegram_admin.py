"""Operator commands: only for TELEGRAM_ADMIN_IDS, checked like the command line checks."""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from bot.db.models import Proposal
from tests.bot.telegram_harness import (
    ALICE,
    MARCH_2022,
    OPERATOR,
    answers,
    button_data,
    only_message,
    private,
    running_bot,
)
from tests.fakes.telegram_api import FakeTelegram

REFUSAL = "Sorry, this command is for the operators of this service."
EVENT = {
    "id": "cd-2022-extra",
    "kind": "constructive-dialogue",
    "title": "Constructive Dialogue on Firearms",
    "themes": ["firearms"],
    "start": "2022-06-10",
    "source": "UNODC constructive dialogues page",
    "confidence": "reported",
}


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
    fake.add_chat(OPERATOR, "private", title="Operator")
    async with running_bot(fake, url) as harness:
        yield harness


@pytest.fixture
def operator(fake):
    return fake.user(OPERATOR, "Olga")


async def add_proposal(bot, key: str, payload=None) -> int:
    async with bot.store.sessions() as session, session.begin():
        proposal = Proposal(
            source_id="unodc-cd",
            kind="event",
            payload=payload or EVENT,
            excerpt="Constructive Dialogue on Firearms: 10 June 2022 <b>",
            url="https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html",
            confidence="reported",
            created_at=MARCH_2022,
            key=key,
            summary="New event: Constructive Dialogue on Firearms, 10 June 2022",
        )
        session.add(proposal)
        await session.flush()
        return proposal.id


async def test_the_operators_menu_has_the_operator_commands(bot, fake):
    menu = fake.commands[("chat", "", OPERATOR)]
    assert {"stats", "record", "approve", "reject", "broadcast"} <= {c["command"] for c in menu}


async def test_everyone_else_gets_a_polite_refusal(bot, fake):
    alice = fake.user(ALICE)
    for command in (
        "/stats",
        "/record AT focal-points 2021-11-20 x",
        "/approve 1",
        "/reject 1",
        "/broadcast hi",
    ):
        assert only_message(await bot.say(private(ALICE), alice, command)).text == REFUSAL
    assert bot.broadcasts.sent == []
    assert (await bot.store.recorded_facts()).milestone_dates == []


async def test_stats(bot, operator):
    await bot.say(private(ALICE), bot.fake.user(ALICE), "/subscribe AT")
    await add_proposal(bot, "k1")
    text = only_message(await bot.say(private(OPERATOR), operator, "/stats")).text
    assert "telegram: 1 with alerts on, 0 off" in text
    assert "Pending proposals: 1" in text


async def test_record_checks_like_the_command_line(stored_bot, operator):
    chat = private(OPERATOR)
    for words, expected in (
        ("", "Usage: /record AT self-assessment"),
        ("AT focal-points", "Usage: /record AT self-assessment"),
        ("Austira focal-points 2021-11-20 src", "Unknown country Austira"),
        ("AT focal-point 2021-11-20 src", "Did you mean focal-points?"),
        ("AT c9 focal-points 2021-11-20 src", "Unknown cluster 9"),
        ("AT focal-points 20/11/2021 src", "20/11/2021 is not a date"),
        ("AT focal-points 2022-03-02 src", "is in the future"),
    ):
        assert (
            expected in only_message(await stored_bot.say(chat, operator, f"/record {words}")).text
        ), words
    assert (await stored_bot.store.recorded_facts()).milestone_dates == []
    done = only_message(
        await stored_bot.say(
            chat, operator, "/record Austria focal-points 2021-11-20 UNODC country page"
        )
    )
    assert "Recorded: Austria, cluster 1, focal-points completed on November 20, 2021." in done.text
    (recorded,) = (await stored_bot.store.recorded_facts()).milestone_dates
    assert (recorded.country, recorded.milestone, recorded.date) == (
        "AT",
        "focal-points",
        dt.date(2021, 11, 20),
    )
    assert recorded.source == "UNODC country page"


async def test_approve_and_reject_proposals(stored_bot, operator, fake):
    chat = private(OPERATOR)
    first = await add_proposal(stored_bot, "k1")
    second = await add_proposal(stored_bot, "k2", {**EVENT, "id": "cd-2022-other"})
    approved = only_message(await stored_bot.say(chat, operator, f"/approve {first}"))
    assert (
        f"Approved proposal {first}: Constructive Dialogue on Firearms on June 10, 2022."
        in approved.text
    )
    again = only_message(await stored_bot.say(chat, operator, f"/approve {first}"))
    assert "already approved" in again.text
    rejected = only_message(await stored_bot.say(chat, operator, f"/reject {second}"))
    assert f"Rejected proposal {second}." in rejected.text
    missing = only_message(await stored_bot.say(chat, operator, "/reject 999"))
    assert "there is no proposal 999" in missing.text
    garbage = only_message(await stored_bot.say(chat, operator, "/approve twelve"))
    assert "Usage: /approve 12" in garbage.text
    async with stored_bot.store.sessions() as session:
        states = dict((await session.execute(select(Proposal.id, Proposal.state))).all())
    assert states == {first: "approved", second: "rejected"}
    assert [e.id for e in await stored_bot.store.approved_events()] == ["cd-2022-extra"]


async def test_pending_proposals_listed_with_buttons(bot, operator, fake):
    chat = private(OPERATOR)
    assert "No proposal is waiting" in only_message(await bot.say(chat, operator, "/approve")).text
    proposal_id = await add_proposal(bot, "k1")
    listing = only_message(await bot.say(chat, operator, "/approve"))
    assert "&lt;b&gt;" in listing.text
    assert button_data(listing) == [f"prop:a:{proposal_id}", f"prop:r:{proposal_id}"]
    message = fake.last_bot_message(OPERATOR)
    refused = await bot.press(message, fake.user(ALICE), f"prop:a:{proposal_id}")
    assert answers(refused) == [REFUSAL]
    decided = only_message(await bot.press(message, operator, f"prop:r:{proposal_id}"))
    assert f"Rejected proposal {proposal_id}." in decided.text


async def test_broadcast_asks_first_then_hands_the_text_to_the_alert_engine(bot, operator, fake):
    chat = private(OPERATOR)
    preview = only_message(
        await bot.say(chat, operator, "/broadcast The <May> dialogue moved & more.")
    )
    assert "The &lt;May&gt; dialogue moved &amp; more." in preview.text
    message = fake.last_bot_message(OPERATOR)
    nonce = button_data(preview)[0].split(":")[2]
    refused = await bot.press(message, fake.user(ALICE), f"bc:send:{nonce}")
    assert answers(refused) == [REFUSAL] and bot.broadcasts.sent == []
    sent = only_message(await bot.press(message, operator, f"bc:send:{nonce}"))
    assert "Queued for 7 subscribers." in sent.text
    ((text, selection),) = bot.broadcasts.sent
    assert text == "The <May> dialogue moved & more." and not selection.countries
    twice = await bot.press(message, operator, f"bc:send:{nonce}")
    assert "out of date" in answers(twice)[0] and len(bot.broadcasts.sent) == 1
    await bot.say(chat, operator, "/broadcast Second")
    nonce = button_data(fake.sent(OPERATOR)[-1])[0].split(":")[2]
    cancelled = only_message(
        await bot.press(fake.last_bot_message(OPERATOR), operator, f"bc:cancel:{nonce}")
    )
    assert cancelled.text == "Cancelled." and len(bot.broadcasts.sent) == 1
    empty = only_message(await bot.say(chat, operator, "/broadcast"))
    assert "Usage: /broadcast" in empty.text
