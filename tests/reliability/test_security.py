"""The security checks in their quick form, and the problems they found, one test each."""

from __future__ import annotations

import json
import logging
import urllib.parse

import httpx
import pytest
from starlette.applications import Starlette
from telegram.error import InvalidToken

from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.main import HideCalendarTokens
from bot.publishing.publisher import Publisher
from bot.slack.app import EVENTS_PATH
from bot.telegram.app import build_application, stop_telegram
from bot.telegram.channel import delivery_error
from bot.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH, start_receiving, telegram_routes
from config.settings import load_settings
from reliability import security
from reliability.inputs import (
    ErrorLog,
    Lab,
    signed,
    slack_command_body,
    slack_press_payload,
    slack_service,
)
from tests.bot.telegram_harness import MARCH_2022, dataset
from tests.fakes.telegram_api import FakeTelegram

CHECKS = (
    "forged Slack requests",
    "stale Slack timestamps (replays after 5 min)",
    "replayed Slack requests (inside 5 min)",
    "Telegram webhook secret",
    "Telegram webhook bodies",
    "operator commands from others",
    "calendar nonce entropy",
    "unknown calendar token",
    "calendar token enumeration",
    "constant-time comparison of secrets",
    "watcher SSRF",
    "secrets in logs and error pages",
    "SQL injection (SQLite)",
    "SQL injection (PostgreSQL)",
    "security headers on every answer",
    "script links (javascript:, data:)",
    "Host header tricks",
    "oversized bodies",
    "operators' figures",
    "huge and slow request heads",
    "planted files",
    "dependency audit",
)


# The whole service in a short form: a minute alone, more beside a parallel suite.
@pytest.mark.timeout(360)
def test_the_quick_form_holds_and_reports_every_check():
    section = security.run(quick=True)
    assert section.held, "\n".join(section.failures)
    reported = [figure.split(": ", 1)[0] for figure in section.figures[:-1]]
    assert reported == list(CHECKS)
    audit = section.figures[-2]
    # Tests may not leave the machine: the audit reports itself not run, never held.
    assert audit.startswith("dependency audit: not run"), audit


def test_the_scan_finds_a_secret_compared_with_equals(tmp_path):
    package = tmp_path / "leaky"
    package.mkdir()
    (package / "check.py").write_text(
        "import hmac\n"
        "def ok(given, expected_token):\n"
        "    return given == expected_token\n"
        "def fine(given, secret):\n"
        "    return hmac.compare_digest(given, secret) and len(secret) == 32\n"
    )
    plain, constant_time = security.secret_comparisons(("leaky",), tmp_path)
    assert plain == ["leaky/check.py:3: given == expected_token"]
    assert constant_time == ["leaky/check.py:5"]


def test_a_token_telegram_refused_is_not_in_what_operators_see():
    token = "123456:AAH-the-secret-part"
    error = delivery_error(InvalidToken(f"The token `{token}` was rejected by the server."))
    assert "secret-part" not in str(error)
    assert "TELEGRAM_BOT_TOKEN" in str(error)


def test_the_access_log_shows_personal_calendars_without_their_token():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/calendar/Zq3_secret-Token.ics?x=1", "1.1", 200),
        None,
    )
    assert HideCalendarTokens().filter(record)
    line = record.getMessage()
    assert "secret" not in line and "/calendar/<token>.ics?x=1" in line
    public = logging.LogRecord("a", logging.INFO, __file__, 1, "%s", ("/calendar.ics",), None)
    HideCalendarTokens().filter(public)
    assert public.getMessage() == "/calendar.ics"


@pytest.mark.parametrize(
    "body",
    [
        b'{"update_id": 7, "message": "hi"}',
        b'{"update_id": "one"}',
        b"[" * 400_000 + b"]" * 400_000,
    ],
)
async def test_a_webhook_body_with_the_secret_but_no_update_is_a_400(tmp_path, body):
    url = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    await upgrade(url)
    store = Store(create_engine(url))
    with FakeTelegram() as fake:
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_BASE_URL=fake.base_url,
            TELEGRAM_WEBHOOK_URL="https://watch.example.org/telegram/webhook",
            TELEGRAM_WEBHOOK_SECRET="s3cret-webhook-secret-of-32-characters",
            DATABASE_URL=url,
        )
        publisher = Publisher(dataset(), store, settings.public_base_url, clock=lambda: MARCH_2022)
        application = build_application(settings, store, publisher, dataset(), lambda: MARCH_2022)
        await start_receiving(application)
        app = Starlette(
            routes=telegram_routes(application, "s3cret-webhook-secret-of-32-characters")
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
                response = await http.post(
                    WEBHOOK_PATH,
                    content=body,
                    headers={SECRET_HEADER: "s3cret-webhook-secret-of-32-characters"},
                )
        finally:
            await stop_telegram(application)
            await store.close()
    assert response.status_code == 400


async def test_a_slack_payload_bolt_would_choke_on_is_a_400(tmp_path):
    lab = Lab(tmp_path, dataset(), ErrorLog())
    url, _ = await lab.new_database("slack")
    async with slack_service(lab, url) as (http, _):

        async def post(body):
            headers = signed(body, "application/x-www-form-urlencoded")
            return await http.post(EVENTS_PATH, content=body, headers=headers)

        changes: list[dict[str, object]] = [{"actions": []}, {"actions": [{}]}, {"response_url": 5}]
        for change in changes:
            payload = json.dumps({**slack_press_payload(), **change})
            response = await post(b"payload=" + urllib.parse.quote(payload).encode())
            assert response.status_code == 400, (change, response.text)
        deep = await post(b"payload=" + b"%7B%22a%22%3A" * 5000 + b"1" + b"%7D" * 5000)
        assert deep.status_code == 400
        assert (await post(slack_command_body("subscribe AT"))).status_code == 200
        answer = await post(slack_command_body("settings reminders ²"))
        assert answer.status_code == 200 and "I did not understand ²" in answer.json()["text"]
