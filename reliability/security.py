"""Security checks of the running service: who may do what, what leaks, what is trusted.

Each check drives the real part and ends in one figure, "check: held (what was seen)" or
"failed", or "not run" when what it needs is missing:

- Slack: forged signatures and stale timestamps are refused before anything runs; a
  replay inside Slack's five-minute window is accepted (Slack's own rule) and must
  change nothing.
- Telegram: the webhook refuses a missing or wrong secret; operator commands and buttons
  refuse everyone who is not an operator.
- Personal calendars: tokens are long and random, an unknown one is a plain 404 that
  gives nothing away, neighbours of a real one do not work, and secrets are compared in
  constant time (a scan of the code for `==` on anything secret).
- The watcher never connects to a private, loopback or link-local address, however a
  page spells it (decimal and octal IPs, IPv6, redirects, names that resolve there).
- Real `web` and `worker` processes with known fake secrets, driven into errors: no
  secret in their logs, in any error page, or in what the command line prints.
- SQL injection strings in every free-text field that reaches the database, on SQLite
  and PostgreSQL: stored verbatim, every table intact.
- `pip-audit`: no dependency with a known vulnerability.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import ipaddress
import itertools
import json
import math
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reliability.inputs import (
    NOW,
    ROOT,
    Lab,
    capture_errors,
    changed_tables,
    rows,
    signed,
    slack_command_body,
    slack_press_payload,
    slack_service,
)
from reliability.report import Section

if TYPE_CHECKING:
    from feeds.proposals import ProposalDraft

FORM = "application/x-www-form-urlencoded"
OPERATOR = 4242
MALLORY = 1666
GROUP = -100_777
WEBHOOK_SECRET = "reliability_webhook-s3cret"
PRODUCT_PACKAGES = ("bot", "config", "feeds", "schedulers")
# A name ending in one of these holds a secret ("tokens", a list of words, does not).
SECRET_NAME = re.compile(r"(token|secret|signature|password|passwd|api_key)\b", re.I)
SQL_INJECTIONS = (
    "'; DROP TABLE subscribers; --",
    "Robert'); DROP TABLE subscriber_filters;--",
    "1' OR '1'='1",
    '" OR ""="',
    "$$; DROP TABLE deliveries; $$",
    "\\'; DELETE FROM milestone_dates; --",
    "%' OR 1=1 --",
    "x' UNION SELECT calendar_token FROM subscribers --",
    "'; SELECT pg_sleep(10); --",
)


@dataclass(frozen=True)
class Finding:
    """The outcome of one check; `held` is None when it could not run."""

    check: str
    held: bool | None
    detail: str

    def line(self) -> str:
        verdict = {True: "held", False: "failed", None: "not run"}[self.held]
        return f"{self.check}: {verdict} ({self.detail})"


def _verdict(check: str, problems: Sequence[str], detail: str) -> Finding:
    if problems:
        return Finding(check, False, "; ".join(problems[:4]))
    return Finding(check, True, detail)


# Slack ---------------------------------------------------------------------------------


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


# Telegram ------------------------------------------------------------------------------


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
    from bot.db.repositories import add_proposal
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


# Personal calendars --------------------------------------------------------------------

URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def _common_prefix(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _token_entropy(samples: int) -> Finding:
    from bot.db.repositories import new_calendar_token

    tokens = [new_calendar_token() for _ in range(samples)]
    counts = Counter(char for token in tokens for char in token)
    total = sum(counts.values())
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    shortest = min(len(t) for t in tokens)
    bits = shortest * per_char
    shared = max(_common_prefix(a, b) for a, b in itertools.pairwise(tokens))
    problems = []
    if len(set(tokens)) != len(tokens):
        problems.append("two tokens were the same")
    if not set(counts) <= URL_SAFE:
        problems.append(
            f"characters outside the URL-safe alphabet: {sorted(set(counts) - URL_SAFE)}"
        )
    if bits < 128:
        problems.append(f"about {bits:.0f} bits")
    if shared > 4:
        problems.append(f"consecutive tokens share a {shared}-character prefix")
    return _verdict(
        "calendar token entropy",
        problems,
        f"{samples} tokens, all distinct, at least {shortest} URL-safe characters at "
        f"{per_char:.2f} bits each: about {bits:.0f} bits; consecutive tokens share at most "
        f"{shared} leading characters",
    )


async def _calendar_checks(lab: Lab) -> list[Finding]:
    import httpx

    from bot.db import subscribers
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.settings import load_settings

    url, _ = await lab.new_database("security-calendar")
    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            active = await subscribers.ensure_subscriber(
                session, channel="telegram", address="1001", now=NOW
            )
            gone = await subscribers.ensure_subscriber(
                session, channel="telegram", address="1002", now=NOW
            )
            gone.active = False
            token, inactive = active.calendar_token, gone.calendar_token
        settings = load_settings(DATABASE_URL=url, PUBLIC_BASE_URL="https://watch.example.org")
        publisher = Publisher(lab.dataset, store, settings.public_base_url, clock=lambda: NOW)
        app = create_app(settings, lab.dataset, publisher)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:

            async def get(candidate: str) -> tuple[int, str, list[tuple[str, str]]]:
                quoted = urllib.parse.quote(candidate, safe="")
                response = await http.get(f"/calendar/{quoted}.ics")
                headers = sorted((k, v) for k, v in response.headers.items() if k != "date")
                return response.status_code, response.text, headers

            own = await get(token)
            flip = "A" if token[-1] != "A" else "B"
            neighbours = {
                "the last character changed": token[:-1] + flip,
                "the first character changed": flip + token[1:],
                "one character short": token[:-1],
                "one character more": token + "A",
                "in upper case": token.upper(),
                "in lower case": token.lower(),
                "reversed": token[::-1],
                "with a LIKE wildcard": token[:-1] + "_",
                "with a % wildcard": token[:-3] + "%",
                "with a * wildcard": token[:-1] + "*",
                "an SQL condition": token + "' OR '1'='1",
                "the token of a stopped subscriber": inactive,
                "a fresh random token": secrets.token_urlsafe(32),
                "a short one": "a",
            }
            neighbours = {k: v for k, v in neighbours.items() if v != token}
            answers = {name: await get(candidate) for name, candidate in neighbours.items()}
    finally:
        await store.close()
    problems = []
    if own[0] != 200:
        problems.append(f"the real token answered HTTP {own[0]}")
    reference = answers["a fresh random token"]
    if reference[0] != 404 or reference[1] != "Not Found\n":
        problems.append(f"an unknown token answered HTTP {reference[0]} {reference[1][:40]!r}")
    different = [name for name, answer in answers.items() if answer != reference]
    if different:
        problems.append(f"answers differ from a plain 404 for: {', '.join(different)}")
    found = [
        _verdict(
            "unknown calendar token",
            [p for p in problems if "real token" in p or "unknown token" in p],
            "a plain 404 'Not Found' with the same headers as any other, nothing about why",
        ),
        _verdict(
            "calendar token enumeration",
            [p for p in problems if "differ" in p],
            f"{len(answers)} neighbours of a real token (a character changed, shorter, longer, "
            "other case, wildcards, SQL, a stopped subscriber's) all answer the same 404",
        ),
    ]
    return found


def secret_comparisons(
    packages: Sequence[str] = PRODUCT_PACKAGES, root: Path = ROOT
) -> tuple[list[str], list[str]]:
    """`==`/`!=` on anything named like a secret, and the uses of `compare_digest`."""
    plain: list[str] = []
    constant_time: list[str] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(root)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("compare_digest"):
                    constant_time.append(f"{where}:{node.lineno}")
                if not isinstance(node, ast.Compare):
                    continue
                if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                    continue
                operands = [node.left, *node.comparators]
                if any(_is_plain_value(operand) for operand in operands):
                    continue  # compared with a literal, None or a length: no secret leaks
                if any(_is_column(operand) for operand in operands):
                    continue  # a query (`Model.column == value`): the database compares
                if any(SECRET_NAME.search(ast.unparse(operand)) for operand in operands):
                    plain.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return plain, constant_time


def _is_column(node: ast.expr) -> bool:
    """`Subscriber.calendar_token`: a model's column, in a query built for the database."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id[:1].isupper()
    )


def _is_plain_value(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    return isinstance(node, ast.Call) and ast.unparse(node.func) in {"len", "type", "bool"}


def _constant_time() -> Finding:
    plain, constant_time = secret_comparisons()
    problems = [f"a plain comparison of a secret at {hit}" for hit in plain]
    return _verdict(
        "constant-time comparison of secrets",
        problems,
        f"compare_digest at {', '.join(constant_time)}; Slack signatures by slack_sdk's "
        "hmac.compare_digest; calendar tokens found by a unique index, then compared with "
        f"compare_digest; no == on a secret in {len(PRODUCT_PACKAGES)} packages",
    )


# The watcher's address guard -------------------------------------------------------------


class Canary:
    """Listens on a loopback address the watcher must never reach, counting connections."""

    def __init__(self, host: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.hits += 1
            connection.close()

    def __enter__(self) -> Canary:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _ssrf_checks(lab: Lab) -> list[Finding]:
    import httpx

    from feeds.fetch import AddressPolicy, Fetcher, FetchError, HostPacer, SourceRefused
    from tests.fakes.unodc_site import FakeUnodcSite

    names = {
        "metadata.example": ["169.254.169.254"],
        "intranet.example": ["10.1.2.3"],
        "half-private.example": ["93.184.216.34", "192.168.1.1"],
        "loopback6.example": ["::1"],
        "mapped.example": ["::ffff:10.0.0.1"],
        "shared.example": ["100.64.0.1"],
    }

    async def resolver(host: str, port: int) -> list[str]:
        if host in names:
            return names[host]
        from feeds.fetch import resolve

        return await resolve(host, port)

    problems: list[str] = []
    tried = unparsed = 0
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(FakeUnodcSite())
        canary = stack.enter_context(Canary("127.0.0.2"))
        canary6 = stack.enter_context(Canary("::1")) if _ipv6_loopback() else None
        port, port6 = canary.port, canary6.port if canary6 else 1
        targets = [
            f"http://127.0.0.2:{port}/",
            f"http://2130706434:{port}/",  # 127.0.0.2 as one decimal number
            f"http://0x7f000002:{port}/",
            f"http://0177.0.0.2:{port}/",  # octal
            f"http://127.2:{port}/",  # the short dotted form
            f"http://0x7f.0.0.2:{port}/",
            f"http://[::ffff:127.0.0.2]:{port}/",
            f"http://[::1]:{port6}/",
            f"http://[0:0:0:0:0:0:0:1]:{port6}/",
            f"http://0.0.0.0:{port}/",
            f"http://0:{port}/",
            "http://10.0.0.1/",
            "http://167772161/",  # 10.0.0.1
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/latest/meta-data/",  # 169.254.169.254
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://user:pass@10.0.0.1/",
            "http://metadata.example/",
            "http://intranet.example/",
            "http://half-private.example/",
            "http://loopback6.example/",
            "http://mapped.example/",
            "http://shared.example/",
        ]
        schemes = ["file:///etc/passwd", "gopher://127.0.0.2:70/", "ftp://10.0.0.1/", "data:,x"]
        local = (ipaddress.ip_network("127.0.0.1/32"),)
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), trust_env=False) as client:
            fetcher = Fetcher(
                client,
                user_agent="UNTOC-Watch/security",
                policy=AddressPolicy(allowed=local),  # the fake site's address, nothing else
                pacer=HostPacer(0.0),
                resolver=resolver,
                total_timeout=10.0,
            )
            for number, target in enumerate(targets + schemes):
                for how in ("directly", "by a redirect"):
                    if how == "directly":
                        address = target
                    else:
                        address = site.url(f"/hop-{number}")
                        site.redirect(f"/hop-{number}", target)
                    tried += 1
                    try:
                        await fetcher.fetch(address)
                    except SourceRefused:
                        continue
                    except FetchError as error:
                        if "Invalid URL" in str(error):  # httpx would not even parse it
                            unparsed += 1
                            continue
                        problems.append(f"{target} {how}: {type(error).__name__}: {error}")
                    except Exception as error:
                        problems.append(f"{target} {how}: crashed ({type(error).__name__})")
                    else:
                        problems.append(f"{target} {how}: fetched")
            default = Fetcher(client, user_agent="UNTOC-Watch/security", pacer=HostPacer(0.0))
            tried += 1
            try:
                await default.fetch(site.url("/hop-0"))
                problems.append("the default policy fetched a loopback address")
            except SourceRefused:
                pass
            # DNS rebinding: the check is told a public address, the connection (through
            # the system's resolver) reaches loopback. Refused before any request is sent.
            site.set("/rebound", body=b"<p>internal</p>")

            async def rebinding(host: str, port: int) -> list[str]:
                return ["93.184.216.34"]

            rebound = Fetcher(
                client, user_agent="UNTOC-Watch/security", pacer=HostPacer(0.0), resolver=rebinding
            )
            tried += 1
            try:
                await rebound.fetch(
                    f"http://localhost:{urllib.parse.urlsplit(site.url('/')).port}/rebound"
                )
                problems.append("a name rebound to loopback was fetched")
            except SourceRefused:
                pass
            except FetchError as error:
                problems.append(f"a name rebound to loopback: {type(error).__name__}: {error}")
            if site.hits("/rebound"):
                problems.append("a request reached loopback through a rebound name")
        hits = canary.hits + (canary6.hits if canary6 else 0)
        if hits:
            problems.append(f"{hits} connections reached the canary on loopback")
    return [
        _verdict(
            "watcher SSRF",
            problems,
            f"{tried} fetches of private, loopback, link-local and metadata addresses (decimal, "
            "octal, hex, short and IPv6 forms; names that resolve there; redirects to them; "
            f"other schemes) refused before connecting ({unparsed} already by httpx's URL "
            "parser), and a name whose answer changed between the check and the connection "
            "(DNS rebinding) refused before any request; no connection reached the canaries",
        )
    ]


# Secrets in logs and error pages ---------------------------------------------------------


def _secret_checks(lab: Lab, quick: bool = False) -> list[Finding]:
    import httpx

    from bot.db import subscribers
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.slack.app import EVENTS_PATH
    from bot.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH
    from reliability.service import (
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
                return chat.calendar_token
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


def _cli(env: dict[str, str], *args: str) -> str:
    """What `untoc-watch ARGS` prints, run as a process."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    return (result.stdout + result.stderr).decode(errors="replace")


# SQL injection -------------------------------------------------------------------------


@dataclass
class Planted:
    """Where each injected string should now be, stored as it was typed."""

    expected: list[tuple[str, str, str]]  # (table.column, value, how it got there)
    subscribers: int = 0


def _collect_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _collect_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _collect_strings(item)


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
            body = slack_command_body("unsubscribe", channel_id=channel, user_id=value)
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


def _proposal_draft(key: str, event_id: str, excerpt: str) -> ProposalDraft:
    """A proposal the watcher could have made: a new dialogue on 1 May 2099."""
    from config.dataset import Event
    from feeds.proposals import ProposalDraft

    event = Event(
        id=event_id,
        kind="constructive-dialogue",
        title="A dialogue",
        start=dt.date(2099, 5, 1),
        source="https://example.org",
        confidence="reported",
    )
    return ProposalDraft(
        key=key,
        kind="event",
        event=event,
        target_id=None,
        summary="A new dialogue",
        excerpt=excerpt,
        url="https://example.org",
        source_id=None,
        certainty=80,
    )


async def _pending_proposals(url: str, count: int) -> list[int]:
    from bot.db.engine import create_engine
    from bot.db.repositories import add_proposal
    from bot.db.store import Store

    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            for index in range(count):
                draft = _proposal_draft(f"sql-{index}", f"cd-2099-sql-{index}", "x")
                await add_proposal(session, draft, NOW)
        return sorted(p.id for p in await store.proposals("pending"))
    finally:
        await store.close()


async def _stored(url: str) -> tuple[set[str], dict[str, list[str]], int]:
    """The tables there are, every string in the planted columns, the number of subscribers."""
    from sqlalchemy import inspect, select

    from bot.db.engine import create_engine
    from bot.db.models import Delivery, MilestoneDateRecord, Proposal, Subscriber

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
            columns = {
                "subscribers.display_name": Subscriber.display_name,
                "subscribers.address": Subscriber.address,
                "subscribers.deactivated_reason": Subscriber.deactivated_reason,
                "milestone_dates.source": MilestoneDateRecord.source,
                "milestone_dates.recorded_by": MilestoneDateRecord.recorded_by,
                "proposals.decided_by": Proposal.decided_by,
                "deliveries.payload": Delivery.payload,
            }
            found: dict[str, list[str]] = {}
            for name, column in columns.items():
                values = (await connection.execute(select(column))).scalars()
                found[name] = [text for value in values for text in _collect_strings(value)]
            count = len((await connection.execute(select(Subscriber.id))).all())
    finally:
        await engine.dispose()
    return tables, found, count


def _inject(lab: Lab, url: str, values: Sequence[str]) -> list[str]:
    from bot.db.migrate import upgrade
    from bot.db.models import Base

    asyncio.run(upgrade(url))
    planted = Planted([])
    asyncio.run(_plant_in_chats(lab, url, values, planted))
    problems = _plant_from_the_command_line(lab, url, values, planted)
    tables, found, count = asyncio.run(_stored(url))
    missing = set(Base.metadata.tables) - tables
    if missing:
        problems.append(f"tables gone: {sorted(missing)}")
    for column, value, how in planted.expected:
        if value not in found[column]:
            problems.append(f"{how}: {value!r} is not in {column} as typed")
    if count != planted.subscribers:
        problems.append(f"{count} subscribers, expected {planted.subscribers}")
    return problems


def sql_injection(lab: Lab, quick: bool) -> list[Finding]:
    """Injection strings through every free-text field, on SQLite and on PostgreSQL."""
    from reliability.service import database, postgres_server

    values = SQL_INJECTIONS[:2] if quick else SQL_INJECTIONS
    fields = (
        "Telegram names and group titles, /record sources, Slack channel names and user ids, "
        "record --source/--by, broadcast texts, proposals approve --by, webhook names, "
        "imported addresses and names"
    )
    found = []
    kinds = ["sqlite"] + (["postgresql"] if postgres_server() else [])
    for kind in kinds:
        check = f"SQL injection ({'PostgreSQL' if kind == 'postgresql' else 'SQLite'})"
        directory = lab.root / f"sql-{kind}"
        directory.mkdir()
        with database(kind, directory) as url:
            problems = _inject(lab, url, values)
        found.append(
            _verdict(
                check,
                problems,
                f"{len(values)} injection strings through {fields}: every one stored as typed, "
                "every table intact",
            )
        )
    if len(kinds) == 1:
        found.append(Finding("SQL injection (PostgreSQL)", None, "no PostgreSQL server answers"))
    return found


# Dependencies ----------------------------------------------------------------------------

AUDIT_TIMEOUT = 900
PROJECT = "untoc-watch"  # this project, installed editable: not on PyPI


def _online(host: str = "pypi.org") -> str | None:
    """None if PyPI answers on its port; otherwise why not."""
    try:
        with socket.create_connection((host, 443), timeout=5):
            return None
    except (OSError, RuntimeError) as error:  # tests forbid leaving the machine
        return f"{type(error).__name__}: {error}"[:120]


def _canonical(name: str) -> str:
    """A package's name as PyPI compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_audit(executable: Path, *options: str) -> list[dict[str, Any]] | str:
    """pip-audit's packages (name, version, vulns, skip_reason), or why it failed."""
    command = [str(executable), "--progress-spinner", "off", "--skip-editable", "--format", "json"]
    result = subprocess.run(
        [*command, *options], capture_output=True, timeout=AUDIT_TIMEOUT, cwd=ROOT
    )
    try:
        packages = json.loads(result.stdout)["dependencies"]
    except (ValueError, KeyError, TypeError):
        error = result.stderr.decode(errors="replace").strip().splitlines()
        return f"pip-audit failed: {error[-1] if error else result.returncode}"
    return [p for p in packages if "editable" not in (p.get("skip_reason") or "")]


def _audit(quick: bool) -> Finding:
    """pip-audit over the installed packages; strict: a package it cannot audit fails it.

    First against PyPI's release records, as pip-audit does by default; the packages
    that leaves unaudited (a proxy that serves no release records) are audited again
    against PyPI's project records, through `reliability.advisories`, which covers each
    project's latest release only. It runs without `--strict` and applies the rule here,
    so that the figure names every package that could not be audited rather than the
    first. Without the network the quick form reports "not run"; the full run fails.
    """
    from reliability.advisories import ProjectRecords, osv_bridge

    check = "dependency audit"
    unavailable = None if quick else False
    executable = Path(sys.executable).with_name("pip-audit")
    if not executable.exists():
        return Finding(check, unavailable, "pip-audit is not installed: pip install -e '.[test]'")
    offline = _online()
    if offline is not None:
        return Finding(check, unavailable, f"not run (offline: {offline})")
    first = _pip_audit(executable)
    if isinstance(first, str):
        return Finding(check, False, first)
    first = [p for p in first if p["name"] != PROJECT]
    # pip-audit gives no version for what it skipped; this interpreter's packages are its.
    versions = {
        _canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    for package in first:
        package.setdefault("version", versions.get(_canonical(package["name"])))
    results = {p["name"]: p for p in first if not p.get("skip_reason")}
    by_release = len(results)
    records = ProjectRecords()
    try:
        covered = [
            f"{p['name']}=={p['version']}"
            for p in first
            if p["name"] not in results and records.covers(p["name"], str(p["version"]))
        ]
        if covered:
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
                requirements.write("\n".join(covered) + "\n")
                requirements.flush()
                with osv_bridge(records) as url:
                    second = _pip_audit(
                        executable,
                        *("-r", requirements.name, "--no-deps", "--disable-pip"),
                        *("--vulnerability-service", "osv", "--osv-url", url),
                    )
            if isinstance(second, str):
                return Finding(check, False, f"{second} (against PyPI's project records)")
            results.update((p["name"], p) for p in second if not p.get("skip_reason"))
    finally:
        records.close()
    vulnerable = [
        f"{package['name']} {package.get('version')}: {vuln['id']}"
        + (f" (fixed in {', '.join(vuln['fix_versions'])})" if vuln.get("fix_versions") else "")
        for package in results.values()
        for vuln in package.get("vulns", [])
    ]
    unaudited = [f"{p['name']} {p.get('version')}" for p in first if p["name"] not in results]
    sources = (
        f"{by_release} against PyPI's release records, "
        f"{len(results) - by_release} against its project records (latest releases)"
    )
    if vulnerable:
        return Finding(
            check, False, f"{len(vulnerable)} known vulnerabilities: {'; '.join(vulnerable)}"
        )
    if unaudited:
        return Finding(
            check,
            unavailable,
            f"{len(unaudited)} of {len(first)} installed packages could not be audited: "
            f"neither record this machine reaches covers their version "
            f"({', '.join(unaudited)}); no known vulnerability in the {len(results)} others "
            f"({sources})",
        )
    return Finding(
        check,
        True,
        f"{len(results)} installed packages audited ({sources}), no known vulnerability",
    )


# The suite -----------------------------------------------------------------------------


def run(quick: bool = False) -> Section:
    """Every check, each a figure; a check that does not hold is a failure."""
    from config.dataset import load_dataset

    section = Section("Security" + (" (quick form)" if quick else ""))
    findings: list[Finding] = []
    started = time.perf_counter()
    checks: list[tuple[str, Callable[[Lab], list[Finding]]]] = [
        ("Slack requests", lambda lab: asyncio.run(_slack_checks(lab))),
        ("Telegram webhook", lambda lab: asyncio.run(_webhook_checks(lab))),
        ("operator commands", lambda lab: asyncio.run(_operator_checks(lab))),
        ("calendar tokens", lambda lab: [_token_entropy(300 if quick else 5000)]),
        ("calendar addresses", lambda lab: asyncio.run(_calendar_checks(lab))),
        ("secret comparisons", lambda lab: [_constant_time()]),
        ("watcher SSRF", lambda lab: asyncio.run(_ssrf_checks(lab))),
        ("secrets in logs", lambda lab: _secret_checks(lab, quick)),
        ("SQL injection", lambda lab: sql_injection(lab, quick)),
        ("dependency audit", lambda lab: [_audit(quick)]),
    ]
    with (
        tempfile.TemporaryDirectory(prefix="untoc-security-") as scratch,
        capture_errors() as errors,
    ):
        lab = Lab(Path(scratch), load_dataset(), errors)
        for name, check in checks:
            try:
                findings += check(lab)
            except Exception as error:  # one broken check must not hide the others
                findings.append(
                    Finding(name, False, f"the check stopped: {type(error).__name__}: {error}")
                )
    for finding in findings:
        section.figure(finding.line())
        if finding.held is False:
            section.fail(finding.line())
    held = sum(1 for f in findings if f.held)
    section.figure(
        f"total: {held}/{len(findings)} checks held, {time.perf_counter() - started:.0f} s"
    )
    return section
