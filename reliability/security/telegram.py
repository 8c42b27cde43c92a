"""Telegram: the webhook's secret header, and commands only operators may give."""

from __future__ import annotations

import json
from typing import Any

from reliability.inputs import (
    NOW,
    Lab,
    changed_tables,
    rows,
)
from reliability.security._common import (
    GROUP,
    MALLORY,
    OPERATOR,
    WEBHOOK_SECRET,
    Finding,
    _proposal_draft,
    _verdict,
)


async def _webhook_checks(lab: Lab) -> list[Finding]:
    import httpx
    from starlette.applications import Starlette

    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from bot.telegram.app import build_application, stop_telegram
    from bot.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH, start_receiving, telegram_routes
    from config.settings import load_settings
    from tests.bot.telegram_harness import ALICE, private
    from tests.fakes.telegram_api import FakeTelegram

    url, path = await lab.new_database("security-webhook")
    store = Store(create_engine(url))
    with FakeTelegram() as fake:
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_BASE_URL=fake.base_url,
            TELEGRAM_WEBHOOK_URL="https://watch.example.org/telegram/webhook",
            TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            DATABASE_URL=url,
        )
        publisher = Publisher(lab.dataset, store, settings.public_base_url, clock=lambda: NOW)
        application = build_application(settings, store, publisher, lab.dataset, lambda: NOW)
        await start_receiving(application)
        app = Starlette(routes=telegram_routes(application, WEBHOOK_SECRET))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
                updates = iter(range(1, 1000))

                def update() -> bytes:
                    message = fake.message(private(ALICE), fake.user(ALICE), "/subscribe AT")
                    return json.dumps({"update_id": next(updates), "message": message}).encode()

                wrong: dict[str, dict[str, Any]] = {
                    "no secret": {},
                    "an empty secret": {SECRET_HEADER: ""},
                    "another secret": {SECRET_HEADER: "x" * len(WEBHOOK_SECRET)},
                    "the secret in upper case": {SECRET_HEADER: WEBHOOK_SECRET.upper()},
                    "the secret less its last character": {SECRET_HEADER: WEBHOOK_SECRET[:-1]},
                    "the secret and one more character": {SECRET_HEADER: WEBHOOK_SECRET + "x"},
                    "the secret with a space": {SECRET_HEADER: WEBHOOK_SECRET + " "},
                    "the secret in another header": {"X-Telegram-Secret": WEBHOOK_SECRET},
                    "the secret as bytes beyond ASCII": {SECRET_HEADER: b"\xff" + b"x" * 10},
                }
                problems = []
                for name, headers in wrong.items():
                    fake.reset()
                    before = rows(path)
                    response = await http.post(WEBHOOK_PATH, content=update(), headers=headers)
                    if response.status_code != 403:
                        problems.append(f"{name}: HTTP {response.status_code}")
                    if fake.sent() or changed_tables(before, rows(path)):
                        problems.append(f"{name}: the update was handled")
                query = await http.post(
                    WEBHOOK_PATH + "?secret_token=" + WEBHOOK_SECRET, content=update()
                )
                if query.status_code != 403:
                    problems.append(f"the secret in the query string: HTTP {query.status_code}")
                fake.reset()
                right = {SECRET_HEADER: WEBHOOK_SECRET}
                control = await http.post(WEBHOOK_PATH, content=update(), headers=right)
                if control.status_code != 200 or not fake.sent():
                    problems.append(f"the right secret was not served (HTTP {control.status_code})")
                found = [
                    _verdict(
                        "Telegram webhook secret",
                        problems,
                        f"{len(wrong) + 1} requests without the right secret refused with 403 "
                        "and their updates dropped; the right secret is served",
                    )
                ]
                bodies: dict[str, bytes] = {
                    "not JSON": b"{not json",
                    "invalid UTF-8": b'{"update_id": "\xff"}',
                    "a JSON array": b"[1, 2]",
                    "a JSON string": b'"update"',
                    "an empty object": b"{}",
                    "an update_id that is text": b'{"update_id": "one"}',
                    "a message that is text": b'{"update_id": 7, "message": "hi"}',
                    "a chat that is a number": b'{"update_id": 8, "message": {"message_id": 1, '
                    b'"date": 0, "chat": 5}}',
                    "JSON nested 400,000 deep": b"[" * 400_000 + b"]" * 400_000,
                    "2 MB": b'{"update_id": 9, "x": "' + b"a" * 2_000_000 + b'"}',
                }
                problems = []
                for name, body in bodies.items():
                    mark = lab.errors.mark()
                    response = await http.post(WEBHOOK_PATH, content=body, headers=right)
                    if not 400 <= response.status_code < 500:
                        problems.append(f"{name}: HTTP {response.status_code}")
                    if lab.logged(mark):
                        problems.append(f"{name}: {lab.logged(mark)}")
                found.append(
                    _verdict(
                        "Telegram webhook bodies",
                        problems,
                        f"{len(bodies)} malformed bodies with the right secret answered 400 or 413",
                    )
                )
        finally:
            await stop_telegram(application)
            await store.close()
    return found


async def _operator_checks(lab: Lab) -> list[Finding]:
    from bot.db.watch import add_proposal
    from tests.bot.telegram_harness import answers, button_data, private, running_bot, texts_of
    from tests.fakes.telegram_api import FakeTelegram

    url, path = await lab.new_database("security-operators")
    refusal = "for the operators of this service"
    with FakeTelegram() as fake:
        async with running_bot(fake, url, operators=(OPERATOR,), clock=lambda: NOW) as bot:
            draft = _proposal_draft("security-check", "cd-2099-test", "A dialogue on 1 May 2099")
            async with bot.store.sessions() as session, session.begin():
                await add_proposal(session, draft, NOW)
            proposal = (await bot.store.proposals("pending"))[0].id
            mallory, mallory_chat = fake.user(MALLORY, "Mallory"), private(MALLORY, "Mallory")
            operator = fake.user(OPERATOR, "Op")
            attempts = [
                "/stats",
                "/record AT self-assessment 2022-01-01 https://evil.example",
                "/approve",
                f"/approve {proposal}",
                f"/reject {proposal}",
                "/broadcast Everyone: the dialogue is cancelled.",
            ]
            problems = []
            for text in attempts:
                before = rows(path)
                calls = await bot.say(mallory_chat, mallory, text)
                said = texts_of(calls)
                if not any(refusal in t for t in said):
                    problems.append(f"{text.split()[0]} was not refused: {said[:1]!r}")
                if changed_tables(before, rows(path)):
                    problems.append(f"{text.split()[0]} changed the tables")
            # An operator starts a broadcast in a group; another member presses its buttons.
            group = {"id": GROUP, "type": "supergroup", "title": "Coalition"}
            calls = await bot.say(group, operator, "/broadcast The May dialogue moved.")
            offer = [c for c in calls if c.method == "sendMessage" and button_data(c)]
            send = [d for c in offer for d in button_data(c) if d.startswith("bc:send")]
            message = fake.last_bot_message(GROUP)
            presses = [*send, f"prop:a:{proposal}", f"prop:r:{proposal}"]
            for data in presses:
                before = rows(path)
                calls = await bot.press(message, mallory, data)
                if not any(refusal in a for a in answers(calls)):
                    problems.append(f"the button {data.split(':')[0]} was not refused")
                if changed_tables(before, rows(path)):
                    problems.append(f"the button {data.split(':')[0]} changed the tables")
            if bot.broadcasts.sent:
                problems.append("a broadcast went out")
            if [p.id for p in await bot.store.proposals("pending")] != [proposal]:
                problems.append("the proposal was decided")
            if not send:
                problems.append("the operator's broadcast offered no Send button")
            else:  # the control: the operator's own press works
                await bot.press(message, operator, send[0])
                if len(bot.broadcasts.sent) != 1:
                    problems.append("the operator's own Send did nothing")
            approved = texts_of(
                await bot.say(private(OPERATOR, "Op"), operator, f"/approve {proposal}")
            )
            if not any("Approved" in t for t in approved):
                problems.append(f"the operator could not approve: {approved[:1]!r}")
    return [
        _verdict(
            "operator commands from others",
            problems,
            f"{len(attempts)} commands (/stats, /record, /approve, /reject, /broadcast) and "
            f"{len(presses)} buttons (Send, Approve, Reject) refused to a non-operator with "
            "nothing changed; the operator's own commands and buttons work",
        )
    ]
