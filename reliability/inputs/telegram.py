"""Hostile Telegram commands and button data, through the real PTB application and the
fake Bot API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliability.inputs._common import (
    DERIVED,
    GENERIC_FAILURE,
    NOW,
    REPLY_METHODS,
    REPORT_TABLES,
    REPORT_TEMPLATES,
    SUBSCRIPTION_TABLES,
    TELEGRAM_BUTTON,
    TELEGRAM_COMMAND,
    TELEGRAM_MAX_DATA,
    TELEGRAM_MAX_TEXT,
    TELEGRAM_TEMPLATES,
    Case,
    Lab,
    Tally,
    _first,
    changed_tables,
    damage,
    hostile,
    rows,
    shown,
)


@dataclass(frozen=True)
class TelegramMessage:
    """A text sent in a private chat, by a reader or by an operator."""

    text: str
    operator: bool = False


@dataclass(frozen=True)
class TelegramPress:
    """A press on a button of the bot's last message, with any data."""

    data: str


def _telegram_text(text: str) -> str:
    return text[:TELEGRAM_MAX_TEXT]


def _may_change(command: str) -> frozenset[str]:
    """What a command could change if its odd argument reads as valid (folded text)."""
    if command.startswith(("/subscribe", "/unsubscribe", "/start")):
        return SUBSCRIPTION_TABLES
    return frozenset()


def _telegram_cases() -> list[Case]:
    cases = []
    for index, (family, text) in enumerate(hostile()):
        for turn in (0, 1):
            template = TELEGRAM_TEMPLATES[(2 * index + turn) % len(TELEGRAM_TEMPLATES)]
            message = _telegram_text(template.format(text))
            if not message.strip():
                continue
            payload = TelegramMessage(message)
            label = shown(message, 70)
            cases.append(Case(TELEGRAM_COMMAND, family, label, payload, _may_change(message)))
    structure = [
        ("zone", "/settings timezone Europe"),
        ("zone", "/settings timezone America/Argentina"),
        ("zone", "/settings timezone ../../etc/passwd"),
        ("zone", "/settings timezone Europe/Vienna\x00"),
        ("number", "/settings lead 999"),
        ("number", "/settings lead 1 2 3 4 5 6 7 8 9 10 11"),
        ("number", "/settings quiet 25-7"),
        ("number", "/settings quiet 7-7"),
        ("unknown", "/subscrbe AT"),
        ("unknown", "/DROP_TABLE_subscribers"),
        ("unknown", "/start sub-XX-c9-zz"),
        ("number", "/addchannel ²"),
        ("number", "/addchannel -²"),
        ("number", "/upcoming ²"),
        ("overlong", "/subscribe " + ", ".join(["AT"] * 60)),
    ]
    for family, message in structure:
        cases.append(Case(TELEGRAM_COMMAND, family, shown(message, 70), TelegramMessage(message)))
    for index, (family, text) in enumerate(hostile()):
        template = REPORT_TEMPLATES[index % len(REPORT_TEMPLATES)]
        message = _telegram_text("/" + template.format(text))
        payload = TelegramMessage(message)
        cases.append(Case(TELEGRAM_COMMAND, family, shown(message, 70), payload, REPORT_TABLES))
    operator = [
        ("record", "/record {} self-assessment 2999-01-01 https://example.org"),
        ("record", "/record AT {} 2022-01-01 https://example.org"),
        ("record", "/record AT saq {} https://example.org"),
        ("approve", "/approve {}"),
        ("approve", "/reject {}"),
    ]
    for index, (family, text) in enumerate(hostile()):
        _, template = operator[index % len(operator)]
        word = text.split()[0] if text.split() else "x"
        message = _telegram_text(template.format(word))
        cases.append(
            Case(TELEGRAM_COMMAND, family, shown(message, 70), TelegramMessage(message, True))
        )
    for message in (
        "/record AT c² self-assessment 2022-01-01 x",
        "/record AT c99 self-assessment 2022-01-01 x",
        "/record AT c99999999999999999999 self-assessment 2022-01-01 x",
        "/record AT self-assessment 2022-02-30 x",
        "/approve 99999999999",
        "/approve 0",
        "/reject ١٢",
        "/broadcast " + "A" * 3600,
    ):
        cases.append(
            Case(TELEGRAM_COMMAND, "operator", shown(message, 70), TelegramMessage(message, True))
        )
    return cases


def _fit(data: str, limit: int = TELEGRAM_MAX_DATA) -> str:
    """At most `limit` bytes of UTF-8, cut on a character boundary."""
    return data.encode()[:limit].decode(errors="ignore")


def _telegram_button_cases() -> list[Case]:
    verbs = ("", "set:tz:", "sub:c:", "uns:", "ack:", "mute:", "lang:", "set:lead:", "sub:p:")
    cases = []
    for index, (family, text) in enumerate(hostile()):
        verb = verbs[index % len(verbs)]
        data = _fit(verb + text)
        may = frozenset({"acknowledgements"}) if verb == "ack:" else SUBSCRIPTION_TABLES
        cases.append(Case(TELEGRAM_BUTTON, family, shown(data), TelegramPress(data), may))
    structure = [
        ("shape", ""),
        ("shape", ":"),
        ("shape", "::::::"),
        ("shape", "set"),
        ("shape", "set:"),
        ("shape", "ack2:r-cd-2022-som-tip"),
        ("zone", "set:tz:Europe"),
        ("zone", "set:tz:America/Argentina"),
        ("zone", "set:tz:Etc/../Europe/Vienna"),
        ("number", "set:lead:999.999"),
        ("number", "set:lead:1.2.3.4.5.6.7.8.9.10.11"),
        ("number", "sub:p:99999"),
        ("number", "sub:cl:0"),
        ("overlong", "ack:" + "a" * 80),
        ("unknown", "prop:x:1"),
        ("unknown", "bc:send:not-the-nonce"),
        ("unknown", "lang:xx"),
    ]
    for family, data in structure:
        cases.append(
            Case(TELEGRAM_BUTTON, family, shown(data), TelegramPress(data), SUBSCRIPTION_TABLES)
        )
    return cases


def _telegram_problem(calls: Sequence[Any], *, press: bool) -> str | None:
    replies = [c for c in calls if c.method in REPLY_METHODS]
    refused = [c for c in replies if c.status != 200]
    if refused:
        return f"the Bot API refused {refused[0].method} (HTTP {refused[0].status})"
    texts = [c.text for c in replies]
    if press and not any(c.method == "answerCallbackQuery" for c in replies):
        return "the press was never answered"
    if not any(text.strip() for text in texts):
        return "no answer"
    if any(GENERIC_FAILURE in text for text in texts):
        return "answered 'something went wrong' (a handler crashed)"
    return None


async def _telegram_run(
    cases: Sequence[Case], lab: Lab, url: str, path: Path, tally: Tally
) -> None:
    from tests.bot.telegram_harness import ALICE, OPERATOR, private, running_bot
    from tests.fakes.telegram_api import FakeTelegram

    with FakeTelegram() as fake:
        async with running_bot(fake, url, clock=lambda: NOW) as bot:
            reader, reader_user = private(ALICE), fake.user(ALICE)
            operator, operator_user = private(OPERATOR, "Op"), fake.user(OPERATOR, "Op")
            await bot.say(reader, reader_user, "/subscribe AT")
            await bot.say(operator, operator_user, "/start")
            for case in cases:
                if case.entry == TELEGRAM_BUTTON:
                    await bot.say(reader, reader_user, "/settings")  # a fresh keyboard
                before, mark = rows(path), lab.errors.mark()
                try:
                    if isinstance(case.payload, TelegramPress):
                        message = fake.last_bot_message(ALICE)
                        calls = await bot.press(message, reader_user, case.payload.data)
                    elif case.payload.operator:
                        calls = await bot.say(operator, operator_user, case.payload.text)
                    else:
                        calls = await bot.say(reader, reader_user, case.payload.text)
                except TimeoutError:
                    tally.add(case, "not handled within 5 s")
                    continue
                after = rows(path)
                problem = _first(
                    _telegram_problem(calls, press=case.entry == TELEGRAM_BUTTON),
                    damage(before, after, case.may_change | DERIVED),
                    lab.logged(mark),
                )
                tally.add(case, problem, accepted=bool(changed_tables(before, after) - DERIVED))


def run_telegram(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Commands, typed text and button data, through the real bot and the fake Bot API."""
    url, path = lab.database("telegram")
    asyncio.run(_telegram_run(cases, lab, url, path, tally))
