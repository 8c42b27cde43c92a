"""Secrets stay secret: no token, webhook URL or password in logs, pages or output."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from reliability.inputs import (
    NOW,
    Lab,
    signed,
    slack_command_body,
    slack_service,
)
from reliability.security._common import FORM, OPERATOR, Finding, _cli, _pending_proposals, _verdict


def _secret_checks(lab: Lab, quick: bool = False) -> list[Finding]:
    import httpx

    from bot.db import subscribers
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.slack.app import EVENTS_PATH
    from bot.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH
    from config.keys import calendar_token as make_token
    from reliability.service import (
        CALENDAR_SECRET,
        environment,
        start_web,
        start_worker,
        telegram_environment,
        wait_until,
    )
    from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
    from tests.fakes.telegram_api import BOT_ID, SERVER_ERROR, FakeTelegram

    telegram_token = f"{BOT_ID}:AAH" + secrets.token_urlsafe(27)
    signing_secret = secrets.token_hex(16)
    webhook_secret = "whs-" + secrets.token_urlsafe(24)
    database_password = "dbpw" + secrets.token_hex(8)
    url, _ = lab.database("security-secrets")
    sync_url = url.replace("+aiosqlite", "")

    async def subscriber() -> str:
        store = Store(create_engine(url))
        try:
            async with store.sessions() as session, session.begin():
                chat = await subscribers.ensure_subscriber(
                    session, channel="telegram", address="1001", now=NOW
                )
                return make_token(CALENDAR_SECRET.encode(), chat.calendar_nonce)
        finally:
            await store.close()

    calendar_token = asyncio.run(subscriber())
    hidden = {
        "the Telegram bot token": telegram_token,
        "the secret half of the bot token": telegram_token.split(":", 1)[1],
        "the Slack signing secret": signing_secret,
        "the Slack bot token": BOT_TOKEN,
        "the Telegram webhook secret": webhook_secret,
        "a personal calendar token": calendar_token,
        "the database password": database_password,
    }
    seen: list[tuple[str, str]] = []  # (where, text)
    problems: list[str] = []
    with FakeTelegram(telegram_token, bot_id=BOT_ID) as telegram, FakeSlack() as slack:
        env = environment(
            sync_url,
            lab.root,
            **telegram_environment(telegram_token, telegram.base_url),
            TELEGRAM_WEBHOOK_URL="https://watch.example.org/telegram/webhook",
            TELEGRAM_WEBHOOK_SECRET=webhook_secret,
            TELEGRAM_ADMIN_IDS=str(OPERATOR),
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=signing_secret,
            SLACK_API_BASE_URL=slack.api_url,
        )
        web, base = start_web(env, lab.root, "secrets-web")
        worker = start_worker(env, lab.root, "secrets-worker")
        try:
            wait_until(lambda: bool(telegram.calls_to("setWebhook")), 60, "the worker")
            with httpx.Client(base_url=base, timeout=30) as http:
                requests: list[tuple[str, str, bytes, dict[str, str]]] = [
                    ("GET", "/nowhere", b"", {}),
                    ("GET", "/calendar.ics?country=Narnia&colour=red", b"", {}),
                    ("GET", "/api/upcoming?days=%C2%B2", b"", {}),
                    ("GET", f"/calendar/{calendar_token}.ics", b"", {}),
                    ("GET", f"/calendar/{calendar_token[:-1]}x.ics", b"", {}),
                    ("POST", "/calendar.ics", b"x", {}),
                    ("GET", "/metrics", b"", {}),
                    ("GET", "/readyz", b"", {}),
                    ("POST", WEBHOOK_PATH, b"{}", {SECRET_HEADER: "wrong"}),
                    ("POST", WEBHOOK_PATH, b"{not json", {SECRET_HEADER: webhook_secret}),
                    (
                        "POST",
                        WEBHOOK_PATH,
                        b'{"update_id": 1, "message": 5}',
                        {SECRET_HEADER: webhook_secret},
                    ),
                    ("POST", EVENTS_PATH, slack_command_body("list"), {"Content-Type": FORM}),
                ]
                command = slack_command_body("settings timezone Mars/Base")
                requests.append(
                    ("POST", EVENTS_PATH, command, signed(command, FORM, secret=signing_secret))
                )
                garbage = b"payload=%7Bnot"
                requests.append(
                    ("POST", EVENTS_PATH, garbage, signed(garbage, FORM, secret=signing_secret))
                )
                for method, address, body, headers in requests:
                    response = http.request(method, address, content=body or None, headers=headers)
                    headers_text = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
                    seen.append(
                        (
                            f"{method} {address[:40]} ({response.status_code})",
                            headers_text + "\n" + response.text,
                        )
                    )
            # A handler that fails in the web process (its reply is refused), logged with
            # its traceback; then a revoked token, which every delivery of the worker meets.
            telegram.script(1001, always=SERVER_ERROR)
            message = telegram.message(
                {"id": 1001, "type": "private", "first_name": "Ada"}, telegram.user(1001), "/help"
            )
            update = json.dumps({"update_id": 1, "message": message}).encode()
            with httpx.Client(base_url=base, timeout=30) as http:
                http.post(WEBHOOK_PATH, content=update, headers={SECRET_HEADER: webhook_secret})
            telegram.clear_script(1001)
            telegram.revoke_token()
            broadcast = _cli(env, "broadcast", "Registration for the May dialogue opens")
            seen.append(("untoc-watch broadcast", broadcast))
            wait_until(
                lambda: "refused the bot token" in worker.log_text(), 60, "a failed delivery"
            )
            seen.append(("untoc-watch deliveries", _cli(env, "deliveries")))
        finally:
            web.stop()
            worker.stop()
        seen.append(("the web process's log", web.log_text()))
        seen.append(("the worker process's log", worker.log_text()))
        if "Traceback" not in web.log_text():
            problems.append("the web process logged no traceback: the check saw no error path")
    cli_env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://watch:{database_password}@127.0.0.1:1/watch",
        "UNTOC_CACHE_DIR": str(lab.root / "cache"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": signing_secret + "!",  # invalid: the error must not echo it
        "TELEGRAM_BOT_TOKEN": telegram_token + "!",  # invalid too
    }
    for args in (("check-config",),) if quick else (("check-config",), ("db", "upgrade")):
        seen.append((f"untoc-watch {' '.join(args)} (bad secrets)", _cli(cli_env, *args)))
    for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"):
        cli_env.pop(name)
    for args in (
        (("db", "upgrade"),) if quick else (("check-config",), ("db", "upgrade"), ("deliveries",))
    ):
        seen.append((f"untoc-watch {' '.join(args)} (no database)", _cli(cli_env, *args)))
    for name, value in hidden.items():
        for where, text in seen:
            if value in text:
                line = next(line for line in text.splitlines() if value in line)
                problems.append(
                    f"{name} appears in {where}: {line.replace(value, '<SECRET>')[:160]!r}"
                )
    return [
        _verdict(
            "secrets in logs and error pages",
            problems,
            f"{len(hidden)} secret values (bot token, signing secret, webhook secret, Slack "
            f"token, a calendar token, a database password) absent from {len(seen)} places: both "
            "processes' logs through failed deliveries and a revoked token, every error "
            "page, and the command line's errors",
        )
    ]


@dataclass
class Planted:
    """Where each injected string should now be, stored as it was typed."""

    expected: list[tuple[str, str, str]]  # (table.column, value, how it got there)
    subscribers: int = 0


async def _plant_in_chats(lab: Lab, url: str, values: Sequence[str], planted: Planted) -> None:
    """Names, titles and sources typed in Telegram; channel names and user ids from Slack."""
    from bot.slack.app import EVENTS_PATH
    from tests.bot.telegram_harness import private, running_bot
    from tests.fakes.telegram_api import FakeTelegram

    codes = sorted(lab.dataset.states)
    with FakeTelegram() as fake:
        async with running_bot(fake, url, operators=(OPERATOR,), clock=lambda: NOW) as bot:
            operator = fake.user(OPERATOR, "Op")
            for index, value in enumerate(values):
                person = {"id": 7000 + index, "type": "private", "first_name": value}
                await bot.say(person, fake.user(7000 + index, value), "/settings")
                planted.expected.append(
                    ("subscribers.display_name", value[:200], "a Telegram name")
                )
                group_id = -1_007_000 - index
                chat = fake.add_chat(
                    group_id, "supergroup", title=value, admins={OPERATOR: "administrator"}
                )
                await bot.say(chat, operator, "/subscribe AT")
                planted.expected.append(("subscribers.display_name", value[:200], "a group title"))
                planted.subscribers += 2
                source = " ".join(value.split())
                await bot.say(
                    private(OPERATOR, "Op"),
                    operator,
                    f"/record {codes[index]} self-assessment 2022-01-01 {source}",
                )
                planted.expected.append(("milestone_dates.source", source, "/record in Telegram"))
    async with slack_service(lab, url) as (http, _):
        for index, value in enumerate(values):
            channel = f"C0SQL{index}"
            body = slack_command_body("subscribe AT", channel_id=channel, channel_name=value)
            await http.post(EVENTS_PATH, content=body, headers=signed(body, FORM))
            planted.expected.append(
                ("subscribers.display_name", f"#{value}"[:200], "a Slack channel name")
            )
            body = slack_command_body("unsubscribe all", channel_id=channel, user_id=value)
            await http.post(EVENTS_PATH, content=body, headers=signed(body, FORM))
            reason = f"unsubscribed in Slack by {value}"[:500]
            planted.expected.append(("subscribers.deactivated_reason", reason, "a Slack user id"))
            planted.subscribers += 1


def _plant_from_the_command_line(
    lab: Lab, url: str, values: Sequence[str], planted: Planted
) -> list[str]:
    """Sources, names, broadcasts and imported subscribers given to `untoc-watch`."""
    from typer.testing import CliRunner

    from bot.cli.app import app

    codes = sorted(lab.dataset.states)[len(values) :]
    runner = CliRunner(
        env={
            "DATABASE_URL": url,
            "UNTOC_CACHE_DIR": str(lab.root / "cache"),
            "UNTOC_DATA_DIR": None,
        }
    )
    problems = []

    def invoke(*args: str) -> None:
        result = runner.invoke(app, list(args))
        if result.exit_code != 0:
            output = " ".join(result.output.split())[:120]
            problems.append(f"untoc-watch {args[0]} refused stored-as-text input: {output!r}")

    proposals = asyncio.run(_pending_proposals(url, len(values)))
    for index, value in enumerate(values):
        invoke(
            "record",
            codes[index],
            "self-assessment",
            "2022-01-01",
            "--source",
            value,
            "--by",
            value,
        )
        planted.expected.append(("milestone_dates.source", value.strip(), "record --source"))
        planted.expected.append(("milestone_dates.recorded_by", value, "record --by"))
        invoke("broadcast", value)
        planted.expected.append(("deliveries.payload", value.strip(), "broadcast"))
        invoke("proposals", "approve", str(proposals[index]), "--by", value)
        planted.expected.append(("proposals.decided_by", value, "proposals approve --by"))
        webhook = f"https://hooks.slack.com/services/T0SQL/B{index}/abc{index}"
        invoke("slack", "add-webhook", webhook, "--name", value)
        planted.expected.append(
            ("subscribers.display_name", value.strip(), "slack add-webhook --name")
        )
        planted.subscribers += 1
    export = lab.root / f"import-{abs(hash(url))}.json"
    entries = [
        {"channel": "telegram", "address": value, "display_name": value, "thread_id": str(index)}
        for index, value in enumerate(values)
    ]
    export.write_text(json.dumps({"version": 1, "subscribers": entries}), encoding="utf-8")
    invoke("subscribers", "import", str(export))
    # What PostgreSQL cannot store must be refused before it gets there, all or nothing.
    for label, entry in (
        ("a NUL in a name", {"channel": "telegram", "address": "nul", "display_name": "a\x00b"}),
        ("a 40-character channel", {"channel": "x" * 40, "address": "long"}),
    ):
        refused = lab.root / f"refused-{abs(hash((url, label)))}.json"
        refused.write_text(json.dumps({"version": 1, "subscribers": [entry]}), encoding="utf-8")
        result = runner.invoke(app, ["subscribers", "import", str(refused)])
        if result.exit_code != 2:
            problems.append(f"import of {label}: exit {result.exit_code} ({result.exception!r})")
    for value in values:
        planted.expected.append(("subscribers.address", value, "subscribers import"))
        planted.expected.append(("subscribers.display_name", value, "subscribers import"))
    planted.subscribers += len(values)
    return problems
