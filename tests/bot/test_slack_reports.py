"""`/untoc report` through the real bolt app: one line, the modal, its submission.

Requests are signed as Slack signs them; the app calls the fake Slack Web API
(`views.open`, `chat.postEphemeral`) with the real slack-sdk client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.parse
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from bot.channels.base import Alert
from bot.cli.app import app as cli_app
from bot.db import subscribers as subs
from bot.db.reports import open_questions
from bot.publishing.publisher import Publisher
from bot.slack.app import EVENTS_PATH, build_slack_app, slack_routes
from bot.slack.channel import APP_TARGET
from bot.slack.layout import layout
from bot.text.i18n import Texts
from config.dataset_loader import load_dataset
from config.settings import load_settings
from schedulers.reminders import Planned
from schedulers.timeline import compute_deadlines
from tests.fakes.slack_api import (
    BOT_TOKEN,
    TEAM_ID,
    FakeSlack,
    command_body,
    press_payload,
    signed_headers,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0COALITION"
USER = "U0ADA"
JUNE_2022 = dt.datetime(2022, 6, 1, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def fake():
    with FakeSlack() as server:
        yield server


@pytest.fixture
async def slack(fake, tmp_path):
    fake.reset()
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade
    from bot.db.store import Store

    url = f"sqlite+aiosqlite:///{tmp_path / 'slack.db'}"
    await upgrade(url)
    store = Store(create_engine(url))
    settings = load_settings(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_BASE_URL=fake.api_url,
        PUBLIC_BASE_URL="https://watch.example.org",
    )
    publisher = Publisher(load_dataset(), store, settings.public_base_url, clock=lambda: JUNE_2022)
    bolt = build_slack_app(settings, store, publisher, publisher.dataset, publisher.clock)
    web = Starlette(routes=slack_routes(bolt, settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://t"
    ) as http:
        yield http, store, tmp_path / "slack.db"
    await store.close()


async def post(http, body: str, content_type: str | None = None) -> httpx.Response:
    response: httpx.Response = await http.post(
        EVENTS_PATH, content=body, headers=signed_headers(body, SECRET, content_type=content_type)
    )
    return response


def submission(view: dict[str, Any], values: dict[str, Any]) -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "coalition"},
        "user": {"id": USER, "username": "ada", "team_id": TEAM_ID},
        "api_app_id": "A111",
        "token": "legacy-verification-token",
        "trigger_id": "9.9.9",
        "view": {**view, "id": "V0000001", "state": {"values": values}},
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def proposals(database, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli_app,
        ["proposals", "list", "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_the_modal_opens_and_its_submission_waits_for_an_operator(slack, fake, monkeypatch):
    http, _store, database = slack
    response = await post(
        http, command_body("report", channel=CHANNEL, user=USER, trigger_id="1.2.3")
    )
    assert response.status_code == 200 and response.text == ""
    (opened,) = fake.calls_to("views.open")
    assert opened.error is None and opened.body["trigger_id"] == "1.2.3"
    (view,) = fake.views
    assert view["callback_id"] == "untoc_report"
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == [
        "country",
        "step",
        "date",
        "link",
        "words",
    ]

    wrong = {
        "country": {"value": {"type": "plain_text_input", "value": "Atlantis"}},
        "step": {
            "value": {"type": "static_select", "selected_option": {"value": "self-assessment"}}
        },
        "date": {"value": {"type": "datepicker", "selected_date": "2030-01-01"}},
        "link": {"value": {"type": "url_text_input", "value": "http://10.0.0.1/x"}},
        "words": {"value": {"type": "plain_text_input", "value": None}},
    }
    refused = await post(http, submission(view, wrong))
    assert refused.status_code == 200
    errors = refused.json()["errors"]
    assert set(errors) == {"country", "date", "link"}
    assert await proposals(database, monkeypatch) == []

    right = {
        **wrong,
        "country": {"value": {"type": "plain_text_input", "value": "Austria"}},
        "date": {"value": {"type": "datepicker", "selected_date": "2022-05-20"}},
        "link": {"value": {"type": "url_text_input", "value": "https://www.example.org/at"}},
        "words": {"value": {"type": "plain_text_input", "value": "Our coalition saw the letter"}},
    }
    accepted = await post(http, submission(view, right))
    assert accepted.status_code == 200 and accepted.text == ""
    (thanks,) = fake.calls_to("chat.postEphemeral")
    assert thanks.body["channel"] == CHANNEL and thanks.body["user"] == USER
    assert "#1" in thanks.body["text"]
    (row,) = await proposals(database, monkeypatch)
    assert (row["origin"], row["state"], row["kind"]) == ("slack", "pending", "milestone")
    assert row["reporter"] == "slack:C0…ON/U…" and USER not in json.dumps(row)
    assert row["excerpt"] == "Our coalition saw the letter"


async def test_a_one_line_report_and_a_used_trigger(slack, fake, monkeypatch):
    http, _store, database = slack
    response = await post(
        http,
        command_body(
            "report AT self-assessment 2022-05-20 https://www.example.org/at",
            channel=CHANNEL,
            user=USER,
        ),
    )
    assert "#1" in response.json()["text"] and response.json()["response_type"] == "ephemeral"
    (row,) = await proposals(database, monkeypatch)
    assert row["origin"] == "slack"
    await post(http, command_body("report", channel=CHANNEL, user=USER, trigger_id="7.7.7"))
    again = await post(http, command_body("report", channel=CHANNEL, user=USER, trigger_id="7.7.7"))
    assert "one line" in again.json()["text"]
    assert [c.error for c in fake.calls_to("views.open")] == [None, "expired_trigger_id"]


def press(action_id: str, value: str, fake: FakeSlack) -> str:
    payload = press_payload(
        action_id, value, channel=CHANNEL, user=USER, response_url=fake.response_url(action_id)
    )
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def test_a_question_in_slack_has_its_answers_and_they_work(slack, fake, monkeypatch):
    http, store, database = slack
    deadlines = {d.id: d for d in compute_deadlines_at(JUNE_2022)}
    step = deadlines["m-at-c1-self-assessment"]
    message = layout(Alert(key="q", kind="question", deadline=step), Texts("en"), "UTC", JUNE_2022)
    (actions,) = [b for b in message.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        "question_yes",
        "question_no",
        "question_unknown",
    ]
    async with store.sessions() as session, session.begin():
        subscriber = await subs.ensure_subscriber(
            session, channel=APP_TARGET, address=CHANNEL, now=JUNE_2022
        )
        asked = Planned(
            key="q1",
            subscriber_id=subscriber.id,
            kind="question",
            at=JUNE_2022,
            deadline_id=step.id,
            payload={"country": "AT"},
        )
        assert await open_questions(session, [asked], JUNE_2022)

    # "Not yet" closes the question; a second press says it was answered
    assert (await post(http, press("question_no", step.id, fake))).status_code == 200
    (said,) = fake.calls_to("response")
    assert "has not happened yet" in said.body["text"]
    fake.reset()
    await post(http, press("question_unknown", step.id, fake))
    (again,) = fake.calls_to("response")
    assert "answered already" in again.body["text"]

    # "It happened" opens the report's modal with the State and the step filled in
    fake.reset()
    await post(http, press("question_yes", step.id, fake))
    (view,) = fake.views
    assert json.loads(view["private_metadata"]) == {"channel": CHANNEL, "question": step.id}
    country = next(b for b in view["blocks"] if b.get("block_id") == "country")
    assert country["element"]["initial_value"] == "Austria"
    values = {
        "country": {"value": {"type": "plain_text_input", "value": "Austria"}},
        "step": {
            "value": {"type": "static_select", "selected_option": {"value": "self-assessment"}}
        },
        "date": {"value": {"type": "datepicker", "selected_date": "2022-05-20"}},
        "link": {"value": {"type": "url_text_input", "value": "https://www.example.org/at"}},
        "words": {"value": {"type": "plain_text_input", "value": None}},
    }
    assert (await post(http, submission(view, values))).status_code == 200
    (row,) = await proposals(database, monkeypatch)
    assert (row["origin"], row["state"]) == ("question", "pending")


def compute_deadlines_at(now: dt.datetime):
    return compute_deadlines(load_dataset(), now)
