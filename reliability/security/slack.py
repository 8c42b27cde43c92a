"""Slack: forged, replayed and malformed requests are refused before anything runs."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from reliability.inputs import (
    Lab,
    changed_tables,
    rows,
    signed,
    slack_command_body,
    slack_press_payload,
    slack_service,
)
from reliability.security._common import FORM, Finding, _verdict


async def _slack_checks(lab: Lab) -> list[Finding]:
    from bot.slack.app import EVENTS_PATH

    url, path = await lab.new_database("security-slack")
    async with slack_service(lab, url) as (http, fake):

        async def post(body: bytes, headers: dict[str, Any]) -> Any:
            return await http.post(EVENTS_PATH, content=body, headers=headers)

        body = slack_command_body("subscribe AT", channel_id="C0FORGED")
        await post(slack_command_body("help"), signed(slack_command_body("help"), FORM))
        forged: dict[str, dict[str, Any]] = {
            "another secret": signed(body, FORM, secret="0" * 32),
            "no signature": {"Content-Type": FORM},
            "the signature of another body": signed(slack_command_body("list"), FORM),
            "a malformed signature": {**signed(body, FORM), "X-Slack-Signature": "v0=zz"},
            "a signature without its version": {
                **signed(body, FORM),
                "X-Slack-Signature": signed(body, FORM)["X-Slack-Signature"][3:],
            },
            "a non-ASCII timestamp": {**signed(body, FORM), "X-Slack-Request-Timestamp": b"\xb2"},
            "a timestamp that is no number": {
                **signed(body, FORM),
                "X-Slack-Request-Timestamp": "1e9",
            },
        }
        problems = []
        for name, headers in forged.items():
            fake.reset()
            before, mark = rows(path), lab.errors.mark()
            response = await post(body, headers)
            if response.status_code != 401:
                problems.append(f"{name}: HTTP {response.status_code}")
            if changed_tables(before, rows(path)) or fake.calls:
                problems.append(f"{name}: the command ran")
            if lab.logged(mark):
                problems.append(f"{name}: {lab.logged(mark)}")
        fake.reset()
        control = await post(body, signed(body, FORM))
        if control.status_code != 200 or "subscribed" not in control.text:
            problems.append(
                f"the same request, signed, was not served (HTTP {control.status_code})"
            )
        found = [
            _verdict(
                "forged Slack requests",
                problems,
                f"{len(forged)} forgeries refused with 401 before anything ran; "
                "the same request correctly signed is served",
            )
        ]

        problems = []
        stale_body = slack_command_body("subscribe BR", channel_id="C0STALE")
        ages = {
            "5 min 1 s old": 301,
            "an hour old": 3600,
            "a day old": 86_400,
            "from the future": -3600,
        }
        for name, age in ages.items():
            before = rows(path)
            response = await post(stale_body, signed(stale_body, FORM, age=age))
            if response.status_code != 401:
                problems.append(f"{name}: HTTP {response.status_code}")
            if changed_tables(before, rows(path)):
                problems.append(f"{name}: the command ran")
        fresh = await post(stale_body, signed(stale_body, FORM, age=240))
        if fresh.status_code != 200:
            problems.append(f"a request 4 minutes old was refused (HTTP {fresh.status_code})")
        found.append(
            _verdict(
                "stale Slack timestamps (replays after 5 min)",
                problems,
                f"{len(ages)} stale or future timestamps refused with 401; 4 minutes old is served",
            )
        )

        problems = []
        replay_body = slack_command_body("subscribe FR, tip", channel_id="C0REPLAY")
        headers = signed(replay_body, FORM)
        first = await post(replay_body, headers)
        after_first = rows(path)
        second = await post(replay_body, headers)
        if first.status_code != 200:
            problems.append(f"the request itself failed (HTTP {first.status_code})")
        if second.status_code != 200:
            problems.append(f"the replay answered HTTP {second.status_code}")
        if changed_tables(after_first, rows(path)):
            problems.append("the replayed command changed the tables")
        press = slack_press_payload("ack", "r-cd-2022-som-tip")
        press["channel"]["id"] = press["container"]["channel_id"] = "C0REPLAY"
        press["response_url"] = fake.response_url("replay")
        press_body = b"payload=" + urllib.parse.quote(json.dumps(press)).encode()
        press_headers = signed(press_body, FORM)
        fake.reset()
        await post(press_body, press_headers)
        after_press = rows(path)
        await post(press_body, press_headers)
        answers = [str(call.body.get("text", "")) for call in fake.calls_to("response")]
        if changed_tables(after_press, rows(path)):
            problems.append("the replayed 'done' press changed the tables")
        if len(answers) != 2 or "Already" not in answers[-1]:
            problems.append(f"the replayed press was answered {answers!r}")
        found.append(
            _verdict(
                "replayed Slack requests (inside 5 min)",
                problems,
                "accepted again, as Slack's rule is the timestamp window and the app keeps no "
                "replay cache; harmless: a replayed subscribe or 'done' changes nothing",
            )
        )
    return found
