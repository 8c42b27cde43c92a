"""Hostile Slack commands and button presses, signed with the app's secret so that they
reach the bolt app behind its route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliability.inputs._common import (
    _DROP,
    DERIVED,
    NOW,
    REPORT_TABLES,
    REPORT_TEMPLATES,
    SIGNING_SECRET,
    SLACK_BUTTON,
    SLACK_CHANNEL,
    SLACK_COMMAND,
    SLACK_TEMPLATES,
    SLACK_USER,
    SUBSCRIPTION_TABLES,
    Case,
    Lab,
    Tally,
    _first,
    changed_tables,
    damage,
    hostile,
    rows,
    shown,
    signed,
)


@dataclass(frozen=True)
class SlackRequest:
    """A body posted to /slack/events, signed over its bytes unless `signed` is False."""

    body: bytes
    content_type: str = "application/x-www-form-urlencoded"


def slack_command_body(text: str, **fields: str) -> bytes:
    """A slash-command body as Slack sends it."""
    from tests.fakes.slack_api import command_body

    return command_body(text, channel=SLACK_CHANNEL, user=SLACK_USER, **fields).encode()


def _slack_command_cases() -> list[Case]:
    cases = []
    for index, (family, text) in enumerate(hostile()):
        for turn in (0, 1):
            template = SLACK_TEMPLATES[(2 * index + turn) % len(SLACK_TEMPLATES)]
            line = template.format(text)
            may = SUBSCRIPTION_TABLES if "subscribe" in template else frozenset()
            request = SlackRequest(slack_command_body(line))
            cases.append(Case(SLACK_COMMAND, family, f"/untoc {shown(line, 60)}", request, may))
    for index, (family, text) in enumerate(hostile()):
        line = REPORT_TEMPLATES[index % len(REPORT_TEMPLATES)].format(text)
        request = SlackRequest(slack_command_body(line))
        label = f"/untoc {shown(line, 60)}"
        cases.append(Case(SLACK_COMMAND, family, label, request, REPORT_TABLES))
    form = "application/x-www-form-urlencoded"
    structure: list[tuple[str, str, bytes, str]] = [
        (
            "shape",
            "channel_id is SQL",
            slack_command_body("list", channel_id="'; DROP TABLE x;--"),
            form,
        ),
        (
            "shape",
            "channel_id missing",
            slack_command_body("list").replace(b"channel_id=", b"chan="),
            form,
        ),
        ("shape", "user_id overlong", slack_command_body("list", user_id="U" * 5000), form),
        ("duplicate", "text twice", slack_command_body("list") + b"&text=subscribe+AT", form),
        ("duplicate", "channel twice", slack_command_body("list") + b"&channel_id=C0OTHER", form),
        ("shape", "unknown command", slack_command_body("list", command="/drop"), form),
        (
            "shape",
            "JSON body",
            json.dumps({"command": "/untoc", "text": "list"}).encode(),
            "application/json",
        ),
        ("shape", "JSON body as a form", json.dumps({"command": "/untoc"}).encode(), form),
        ("shape", "empty body", b"", form),
        ("shape", "percent garbage", b"%%%&&&===", form),
        ("encoding", "invalid UTF-8", slack_command_body("list") + b"&x=\xff\xfe", form),
        (
            "encoding",
            "percent-encoded invalid UTF-8",
            slack_command_body("list") + b"&text=%ff%fe",
            form,
        ),
        (
            "nul",
            "percent-encoded NUL",
            slack_command_body("list").replace(b"text=list", b"text=li%00st"),
            form,
        ),
        ("overlong", "600 KB body", slack_command_body("x" * 600_000), form),
        ("zone", "timezone Europe", slack_command_body("settings timezone Europe"), form),
        (
            "zone",
            "timezone America/Argentina",
            slack_command_body("settings timezone America/Argentina"),
            form,
        ),
        ("number", "reminders 999", slack_command_body("settings reminders 999"), form),
        ("number", "reminders ²", slack_command_body("settings reminders ²"), form),
        (
            "number",
            "reminders 1 through 11",
            slack_command_body("settings reminders " + ",".join(map(str, range(1, 12)))),
            form,
        ),
    ]
    for family, label, body, content_type in structure:
        # Which of two values bolt reads is its choice; either is a valid command.
        may = SUBSCRIPTION_TABLES if family == "duplicate" else frozenset()
        cases.append(Case(SLACK_COMMAND, family, label, SlackRequest(body, content_type), may))
    return cases


def slack_press_payload(
    action_id: str = "ack", value: object = "r-cd-2022-som-tip"
) -> dict[str, Any]:
    """A `block_actions` payload as Slack sends it for a button under an alert."""
    from tests.fakes.slack_api import press_payload

    return press_payload(
        action_id, value, channel=SLACK_CHANNEL, user=SLACK_USER, response_url="RESPONSE_URL"
    )


@dataclass(frozen=True)
class SlackPress:
    """A button press: a payload to send as JSON (`raw` instead, when given)."""

    payload: dict[str, Any] | None = None
    raw: bytes | None = None


def _with(path: Sequence[str | int], value: object) -> dict[str, Any]:
    """The standard press with the item at `path` replaced (or removed, for `_DROP`)."""
    payload = slack_press_payload()
    node: Any = payload
    for step in path[:-1]:
        node = node[step]
    if value is _DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


def _slack_button_cases() -> list[Case]:
    cases = []
    acks = frozenset({"acknowledgements"})
    for index, (family, text) in enumerate(hostile()):
        action = ("ack", "mute")[index % 2]
        may = acks if action == "ack" else SUBSCRIPTION_TABLES
        press = SlackPress(slack_press_payload(action, text))
        cases.append(Case(SLACK_BUTTON, family, f"{action} value {shown(text, 40)}", press, may))
    wrong: list[tuple[str, Sequence[str | int], object]] = [
        ("type", ["channel"], "C0HOSTILE"),
        ("type", ["channel"], None),
        ("type", ["channel"], [1, 2]),
        ("type", ["channel", "id"], 12345),
        ("type", ["channel", "id"], "'; DROP TABLE subscribers; --"),
        ("type", ["user"], "U0ADA"),
        ("type", ["user", "id"], {"id": "U0ADA"}),
        ("type", ["actions"], []),
        ("type", ["actions"], {}),
        ("type", ["actions"], [1]),
        ("type", ["actions"], "ack"),
        ("type", ["actions", 0], {}),
        ("type", ["actions", 0, "action_id"], 5),
        ("type", ["actions", 0, "value"], 5),
        ("type", ["actions", 0, "value"], None),
        ("type", ["actions", 0, "value"], {"id": "r-cd-2022-som-tip"}),
        ("type", ["actions", 0, "value"], ""),
        ("type", ["actions", 0, "value"], "x" * 5000),
        ("type", ["actions", 0, "action_id"], "drop_tables"),
        ("type", ["type"], "view_submission"),
        ("type", ["type"], 7),
        ("shape", ["type"], _DROP),
        ("shape", ["channel"], _DROP),
        ("shape", ["user"], _DROP),
        ("shape", ["actions"], _DROP),
        ("shape", ["response_url"], _DROP),
        ("type", ["response_url"], 5),
        ("type", ["response_url"], ["https://hooks.slack.com/x"]),
    ]
    for family, path, value in wrong:
        label = (
            f"{'.'.join(map(str, path))} = {shown(value, 40) if value is not _DROP else 'missing'}"
        )
        cases.append(Case(SLACK_BUTTON, family, label, SlackPress(_with(path, value)), acks))
    deep = b"[" * 100_000 + b"]" * 100_000
    raws = [
        (
            "nesting",
            "payload nested 100,000 deep",
            b"payload=" + urllib.parse.quote_from_bytes(deep).encode(),
        ),
        (
            "nesting",
            "objects nested 5,000 deep",
            b"payload=" + urllib.parse.quote(('{"a":' * 5000) + "1" + "}" * 5000).encode(),
        ),
        ("shape", "payload not JSON", b"payload=%7Bnot+json"),
        ("shape", "payload a JSON array", b"payload=%5B1%2C2%5D"),
        ("shape", "payload a JSON string", b"payload=%22ack%22"),
        ("shape", "payload empty", b"payload="),
        ("shape", "payload twice", b"payload=%7B%7D&payload=%7B%7D"),
        ("number", "payload a huge number", b"payload=" + b"9" * 5000),
        (
            "encoding",
            "payload with lone surrogates",
            b"payload=" + urllib.parse.quote('{"type": "block_actions", "x": "\\ud800"}').encode(),
        ),
    ]
    for family, label, raw in raws:
        cases.append(Case(SLACK_BUTTON, family, label, SlackPress(raw=raw), acks))
    return cases


@dataclass(frozen=True)
class SlackView:
    """The report modal's `view_submission`, its fields' values as given."""

    values: dict[str, Any]


GOOD_VIEW_VALUES = {
    "country": "Austria",
    "step": "self-assessment",
    "date": "2022-02-20",  # before the lab's today
    "link": "https://www.example.org/at",
    "words": "seen in the letter",
}
VIEW_KINDS = {
    "country": "plain_text_input",
    "step": "static_select",
    "date": "datepicker",
    "link": "url_text_input",
    "words": "plain_text_input",
}


def view_values(values: dict[str, Any]) -> dict[str, Any]:
    """The modal's state as Slack posts it, from plain values."""
    state: dict[str, Any] = {}
    for block, value in values.items():
        kind = VIEW_KINDS[block]
        if kind == "static_select":
            element = {"type": kind, "selected_option": {"value": value}}
        elif kind == "datepicker":
            element = {"type": kind, "selected_date": value}
        else:
            element = {"type": kind, "value": value}
        state[block] = {"value": element}
    return state


def _slack_view_cases() -> list[Case]:
    """The report modal's submission: every field hostile, then a good one."""
    cases = []
    for family, text in hostile():
        for field in VIEW_KINDS:
            values = {**GOOD_VIEW_VALUES, field: text}
            label = f"report modal {field}={shown(text, 40)}"
            cases.append(Case(SLACK_BUTTON, family, label, SlackView(values), REPORT_TABLES))
    wrong: list[tuple[str, dict[str, Any]]] = [
        ("type", {**GOOD_VIEW_VALUES, "date": 20220220}),
        ("type", {**GOOD_VIEW_VALUES, "country": ["AT"]}),
        ("type", {**GOOD_VIEW_VALUES, "step": None}),
        ("type", {**GOOD_VIEW_VALUES, "link": {"url": "https://www.example.org"}}),
    ]
    for family, values in wrong:
        label = f"report modal {shown(values, 50)}"
        cases.append(Case(SLACK_BUTTON, family, label, SlackView(values), REPORT_TABLES))
    good = SlackView(dict(GOOD_VIEW_VALUES))
    cases.append(Case(SLACK_BUTTON, "valid", "report modal, a good report", good, REPORT_TABLES))
    return cases


def _view_problem(status: int, body: bytes) -> str | None:
    """A submission gets 200 with errors for its fields, or an empty 200 (queued)."""
    if status != 200:
        return f"HTTP {status}: {body[:80]!r}"
    if not body:
        return None
    answer = _json_object(body)
    errors = answer.get("errors")
    if answer.get("response_action") != "errors" or not isinstance(errors, dict) or not errors:
        return f"neither errors for the fields nor an empty answer: {body[:80]!r}"
    if any(not isinstance(v, str) or not v.strip() or len(v) > 150 for v in errors.values()):
        return f"an error a field cannot show: {errors!r}"[:200]
    return None


def _slack_problem(status: int, body: bytes, answers: Sequence[str], *, spoke: bool) -> str | None:
    text = body.decode(errors="replace")
    if status >= 500:
        return f"HTTP {status}"
    if "Traceback" in text:
        return "a traceback in the answer"
    if 400 <= status < 500:
        return None if text.strip() else f"HTTP {status} with an empty body"
    if status != 200:
        return f"HTTP {status}"
    if spoke and not any(answer.strip() for answer in answers):
        return "no answer"
    return None


@contextlib.asynccontextmanager
async def slack_service(lab: Lab, url: str) -> AsyncIterator[tuple[Any, Any]]:
    """The bolt app behind its route on a database, and the fake Slack it talks to."""
    import httpx
    from starlette.applications import Starlette

    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from bot.slack.app import build_slack_app, slack_routes
    from config.settings import load_settings
    from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

    store = Store(create_engine(url))
    try:
        with FakeSlack() as fake:
            settings = load_settings(
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_BASE_URL=fake.api_url,
                PUBLIC_BASE_URL="https://watch.example.org",
                DATABASE_URL=url,
            )
            publisher = Publisher(lab.dataset, store, settings.public_base_url, clock=lambda: NOW)
            app = build_slack_app(settings, store, publisher, lab.dataset, publisher.clock)
            web = Starlette(routes=slack_routes(app, settings))
            transport = httpx.ASGITransport(app=web, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
                yield http, fake
    finally:
        await store.close()


async def _slack_run(cases: Sequence[Case], lab: Lab, url: str, path: Path, tally: Tally) -> None:
    import httpx

    from bot.slack.app import EVENTS_PATH

    async with slack_service(lab, url) as (http, fake):

        async def post(body: bytes, content_type: str) -> httpx.Response:
            response: httpx.Response = await http.post(
                EVENTS_PATH, content=body, headers=signed(body, content_type)
            )
            return response

        setup = await post(slack_command_body("subscribe AT"), "application/x-www-form-urlencoded")
        if setup.status_code != 200:
            raise RuntimeError(f"the Slack app did not subscribe a channel: {setup.text}")
        for case in cases:
            fake.reset()
            before, mark = rows(path), lab.errors.mark()
            response_url = fake.response_url("press")
            if isinstance(case.payload, SlackView):
                submission = {
                    "type": "view_submission",
                    "team": {"id": "T0FAKE", "domain": "coalition"},
                    "user": {"id": SLACK_USER, "username": "ada", "team_id": "T0FAKE"},
                    "api_app_id": "A111",
                    "token": "legacy-verification-token",
                    "trigger_id": "9.9.9",
                    "view": {
                        "id": "V0000001",
                        "type": "modal",
                        "callback_id": "untoc_report",
                        "private_metadata": json.dumps({"channel": SLACK_CHANNEL}),
                        "state": {"values": view_values(case.payload.values)},
                    },
                }
                posted = b"payload=" + urllib.parse.quote(json.dumps(submission)).encode()
                response = await post(posted, "application/x-www-form-urlencoded")
                after = rows(path)
                problem = _first(
                    _view_problem(response.status_code, response.content),
                    damage(before, after, DERIVED | REPORT_TABLES),
                    lab.logged(mark),
                )
                tally.add(case, problem, accepted=bool(changed_tables(before, after)))
                continue
            if isinstance(case.payload, SlackPress):
                raw = case.payload.raw
                payload = dict(case.payload.payload or {})
                if payload.get("response_url") == "RESPONSE_URL":
                    payload["response_url"] = response_url
                if raw is None:
                    raw = b"payload=" + urllib.parse.quote(json.dumps(payload)).encode()
                response = await post(raw, "application/x-www-form-urlencoded")
                answers = [str(call.body.get("text", "")) for call in fake.calls_to("response")]
                # An accepted press is answered on its response URL, seen only by the presser.
                spoke = response.status_code == 200 and payload.get("response_url") == response_url
                in_channel = False
            else:
                request: SlackRequest = case.payload
                response = await post(request.body, request.content_type)
                answer = _json_object(response.content)
                answers = [str(answer.get("text", ""))]
                in_channel = answer.get("response_type") == "in_channel"
                spoke = response.status_code == 200
            after = rows(path)
            # A change is said in the channel, except a report: its thanks are the caller's.
            reported = case.may_change == REPORT_TABLES
            allowed = DERIVED | (
                case.may_change
                if in_channel or reported or isinstance(case.payload, SlackPress)
                else frozenset()
            )
            problem = _first(
                _slack_problem(response.status_code, response.content, answers, spoke=spoke),
                damage(before, after, allowed),
                lab.logged(mark),
            )
            tally.add(case, problem, accepted=in_channel or bool(changed_tables(before, after)))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_slack(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Signed slash commands and button presses, through the real route and bolt app."""
    url, path = lab.database("slack")
    asyncio.run(_slack_run(cases, lab, url, path, tally))
