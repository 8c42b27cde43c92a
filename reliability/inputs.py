"""Hostile and malformed input at every entry point: a clear error each time, data intact.

Each input is a `Case` for one entry point: the web's query strings and calendar
addresses, Telegram commands and button data, Slack commands and button presses (signed
with the app's secret, so that they reach the app), dataset files, watched pages and
feeds, and command-line arguments. The real parts take them: the Starlette app, the PTB
application against the fake Bot API, the bolt app behind its route, the dataset loader,
the watcher against a local site, the typer app (and, for bytes that only a real argv
can carry, the `untoc-watch` process).

A case passes when the answer is a clear error (a 4xx whose text names the problem, a
bot reply that explains, exit code 2 with a message, a failure the watcher recorded) or,
for odd input that is valid, a normal answer; never a crash, a 5xx, a traceback or an
error in the log. And the data must be as it was: every database table row for row
(except what that input may change), the dataset files byte for byte.

The corpus is generated from families of hostile text (`FAMILIES`) shaped for each entry
point. `run(quick=True)` takes the first cases of every family at every entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from config.dataset import BUNDLED_DATA_DIR
from reliability.report import Section

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)
SIGNING_SECRET = "5e1fa0c0ffee5ca1ab1e5eedbadc0de5"
GENERIC_FAILURE = "something went wrong"
QUICK_PER_FAMILY = 1
QUICK_MINIMUM = 5

QUERY = "query string"
TELEGRAM_COMMAND = "telegram command"
TELEGRAM_BUTTON = "telegram button"
SLACK_COMMAND = "slack command"
SLACK_BUTTON = "slack interactivity"
DATASET = "dataset file"
PAGE = "watched page"
CLI = "command line"
ENTRY_POINTS = (
    QUERY,
    TELEGRAM_COMMAND,
    TELEGRAM_BUTTON,
    SLACK_COMMAND,
    SLACK_BUTTON,
    DATASET,
    PAGE,
    CLI,
)

# Hostile text, by family. Entry points shape these into their own inputs.
FAMILIES: dict[str, tuple[str, ...]] = {
    "overlong": ("A" * 5000, "Austria, " * 700),
    "control": ("\x01\x02\x03\x07\x08", "\x1b[31mred\x1b[0m", "AT\r\nX-Injected: 1", "\x7f\x85"),
    "nul": ("AT\x00", "\x00\x00", "Aus\x00tria"),
    "direction": ("\u202eTA", "\u2066AT\u2069\u202e", "A\u200bT", "\ufeffAT"),
    "sql": (
        "'; DROP TABLE subscribers; --",
        "' OR '1'='1",
        "1; DELETE FROM subscriber_filters --",
        '" OR ""="',
        "AT' UNION SELECT calendar_token FROM subscribers --",
    ),
    "format": ("{0.__class__}", "{texts.__init__.__globals__}", "%s%n%x%d", "{}{}{}", "%(secret)s"),
    "traversal": (
        "../../../../etc/passwd",
        "..\\..\\..\\windows\\win.ini",
        "/etc/passwd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ),
    "number": ("99999999999999999999999999", "-1", "-99999", "1e309", "NaN", "0x1F", "²", "١٢"),
    "markup": (
        "<script>alert(1)</script>",
        "<b>unclosed",
        '</b></i><a href="javascript:alert(1)">x</a>',
        "&amp;&#0;&lt;",
        "<!channel> <@U0ADA> <https://evil.example|x>",
    ),
    "unicode": (
        "🇦🇹🇦🇹",
        "\uff21\uff55\uff53\uff54\uff52\uff49\uff41\uff58",
        "A\u0308\u0308\u0308\u0308T",
        "\U0001f4a9" * 40,
    ),
    "unknown": ("XX", "Narnia", "cluster 99", "kind=party"),
    "date": ("2023-02-30", "2022-13-01", "0000-00-00", "2022-02-29T25:61"),
}


def hostile() -> list[tuple[str, str]]:
    """Every hostile text with its family, in a fixed order."""
    return [(family, text) for family, texts in FAMILIES.items() for text in texts]


def shown(value: object, limit: int = 60) -> str:
    """A short printable form of an input, for the report."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Case:
    """One input for one entry point, and what it may change if it turns out valid."""

    entry: str
    family: str
    label: str
    payload: Any
    may_change: frozenset[str] = frozenset()


# Query strings and calendar addresses ------------------------------------------------

# Families whose text may fold to a real country name.
FOLDED_AWAY = frozenset({"nul", "direction", "unicode", "control"})
QUERY_PARAMS = {
    # parameter: the paths that take it (each case uses one, in turn)
    "country": ("/calendar.ics", "/api/upcoming", "/"),
    "cluster": ("/api/upcoming", "/", "/calendar.ics"),
    "kind": ("/", "/calendar.ics", "/api/upcoming"),
    "theme": ("/calendar.ics", "/api/upcoming", "/"),
    "lang": ("/calendar.ics", "/"),
    "alarms": ("/calendar.ics",),
    "days": ("/api/upcoming", "/"),
}


@dataclass(frozen=True)
class WebRequest:
    """A GET with a raw query string; `words` must appear in the error (None: a 2xx)."""

    path: str
    query: bytes
    words: str | None
    status: tuple[int, ...] = (400,)
    # Country names are compared folded (case, accents, invisible marks dropped), so
    # "A\u200bT" may read as Austria: then a normal answer is right too.
    may_be_valid: bool = False


def _query_cases() -> list[Case]:
    cases = []
    for index, (family, text) in enumerate(hostile()):
        for offset, (name, paths) in enumerate(QUERY_PARAMS.items()):
            path = paths[(index + offset) % len(paths)]
            query = f"{name}={urllib.parse.quote(text, safe='')}".encode()
            words, status = (name[:5], (400,))
            if len(query) > 2048:
                words, status = ("longer than", (414,))
            label = f"GET {path}?{name}={shown(text, 40)}"
            folded = name == "country" and family in FOLDED_AWAY
            request = WebRequest(path, query, words, status, may_be_valid=folded)
            cases.append(Case(QUERY, family, label, request))
    structure = [
        ("unknown", "/calendar.ics", b"colour=red", "unknown parameter"),
        ("unknown", "/api/upcoming", b"country%5B%5D=AT", "unknown parameter"),
        ("unknown", "/", b"__proto__=x", "unknown parameter"),
        ("unknown", "/calendar.ics", b"=AT", "unknown parameter"),
        ("sql", "/api/upcoming", b"%27%3B%20DROP%20TABLE%20x%3B--=1", "unknown parameter"),
        ("duplicate", "/calendar.ics", b"lang=fr&lang=es", "more than once"),
        ("duplicate", "/api/upcoming", b"days=1&days=2", "more than once"),
        ("duplicate", "/calendar.ics", b"alarms=P1D&alarms=P2D", "more than once"),
        ("encoding", "/calendar.ics", b"country=%ff%fe", "country"),
        ("encoding", "/api/upcoming", b"country=%", "country"),
        ("encoding", "/", b"country=%zz", "country"),
        ("encoding", "/calendar.ics", b"country=%ed%a0%80", "country"),
        ("encoding", "/calendar.ics", b"theme=%c0%af", "theme"),
        ("overlong", "/calendar.ics", b"country=AT&" * 300, "longer than"),
        (
            "overlong",
            "/calendar.ics",
            b"alarms=" + b",".join(b"PT%dH" % n for n in range(1, 13)),
            "alarms",
        ),
        ("number", "/calendar.ics", b"alarms=P999W", "longer than a year"),
        ("number", "/api/upcoming", b"days=3651", "days"),
        ("number", "/calendar.ics", b"cluster=0", "cluster"),
        ("number", "/calendar.ics", b"cluster=%2B1", "cluster"),
    ]
    for family, path, query, words in structure:
        status = (414,) if len(query) > 2048 else (400,)
        label = f"GET {path}?{shown(query, 50)}"
        cases.append(Case(QUERY, family, label, WebRequest(path, query, words, status)))
    odd_but_valid = [
        b"country=",
        b"country=%20",
        b"country=,,,",
        b"country=AT,AT,at",
        b"theme=tip&theme=tip",
        b"days=0",
        b"alarms=",
    ]
    for query in odd_but_valid:
        path = "/api/upcoming" if query.startswith(b"days") else "/calendar.ics"
        request = WebRequest(path, query, None, (200,))
        cases.append(Case(QUERY, "blank", f"GET {path}?{shown(query)}", request))
    tokens = [text for _, text in hostile()] + [
        "A" * 43,
        "A" * 64,
        "A" * 65,
        "-" * 43,
        "..%2F..%2Fetc%2Fpasswd",
    ]
    for token in tokens:
        path = "/calendar/" + urllib.parse.quote(token, safe="") + ".ics"
        request = WebRequest(path, b"", "Not Found", (404,))
        cases.append(Case(QUERY, "token", f"GET /calendar/{shown(token, 40)}.ics", request))
    return cases


# Telegram ------------------------------------------------------------------------------

TELEGRAM_MAX_TEXT = 4096
TELEGRAM_MAX_DATA = 64
# Each hostile text goes after two of these, in turn; "{}" alone is typed in the chat.
TELEGRAM_TEMPLATES = (
    "/subscribe {}",
    "/unsubscribe {}",
    "/country {}",
    "/upcoming {}",
    "/settings timezone {}",
    "/settings lead {}",
    "/settings quiet {}",
    "/settings language {}",
    "/settings digest {}",
    "/settings {}",
    "/start {}",
    "/addchannel {}",
    "{}",
    "/calendar {}",
    "/help {}",
)
SUBSCRIPTION_TABLES = frozenset({"subscribers", "subscriber_filters"})
# What reading deadlines may write: the fingerprint that raises an iCal SEQUENCE.
DERIVED = frozenset({"deadline_versions"})


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


# Slack ---------------------------------------------------------------------------------

SLACK_TEMPLATES = (
    "subscribe {}",
    "unsubscribe {}",
    "upcoming {}",
    "country {}",
    "settings timezone {}",
    "settings reminders {}",
    "settings language {}",
    "settings digest {}",
    "{}",
    "settings {}",
)
SLACK_CHANNEL = "C0HOSTILE"
SLACK_USER = "U0ADA"


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


_DROP = object()  # in `_with`: remove the item instead of replacing it


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


# Dataset files -----------------------------------------------------------------------

EVENT = {
    "id": "hostile-event",
    "kind": "other",
    "title": "A meeting",
    "start": "2022-04-01",
    "source": "https://example.org/meeting",
    "confidence": "confirmed",
}


@dataclass(frozen=True)
class DatasetFile:
    """A file put next to the dataset (or over a bundled one); `loads`: it is valid."""

    name: str
    content: bytes
    loads: bool = False
    replaces_bundled: bool = False


class Raw(str):
    """A value written into YAML as it is (an unquoted date, 1e309)."""


def _yaml(section: str, *entries: dict[str, object]) -> bytes:
    """A dataset file with one section; values are written as JSON, which YAML reads."""
    lines = [f"{section}:"]
    for entry in entries:
        for index, (key, value) in enumerate(entry.items()):
            prefix = "  - " if index == 0 else "    "
            rendered = value if isinstance(value, Raw) else json.dumps(value, ensure_ascii=False)
            lines.append(f"{prefix}{key}: {rendered}")
    return ("\n".join(lines) + "\n").encode()


def _event_yaml(**changes: object) -> bytes:
    event: dict[str, object] = {**EVENT}
    event.update(changes)
    return _yaml("events", event)


def _bomb(levels: int = 9, width: int = 10) -> bytes:
    lines = ["x0: &x0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*x{level - 1}"] * width)
        lines.append(f"x{level}: &x{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def _dataset_cases() -> list[Case]:
    files: list[tuple[str, str, bytes]] = [
        ("syntax", "a tab for indentation", b"events:\n\t- id: x\n"),
        ("syntax", "an unclosed quote", b'events:\n  - id: "x\n'),
        ("syntax", "an unclosed bracket", b"events: [{id: x\n"),
        ("syntax", "bad indentation", b"events:\n  - id: x\n   kind: other\n"),
        ("syntax", "a mapping in a scalar", b"events: a: b: c\n"),
        ("syntax", "two documents", b"events: []\n---\nstates: []\n"),
        ("syntax", "a bad escape", b'events:\n  - id: "\\xZZ"\n'),
        ("shape", "a list at the top", b"- events\n- states\n"),
        ("shape", "a number at the top", b"42\n"),
        ("shape", "a string at the top", b"just some text\n"),
        ("shape", "an unknown section", b"subscribers:\n  - id: x\n"),
        ("shape", "a section that is no list", b"events: null\n"),
        ("shape", "a section that is a mapping", b"events:\n  id: x\n"),
        ("shape", "an entry that is a string", b"events:\n  - just text\n"),
        ("shape", "an entry that is a list", b"events:\n  - [1, 2]\n"),
        ("shape", "a key that is a list", b"events:\n  - ? [a, b]\n    : x\n"),
        ("shape", "a duplicated key", b"events:\n  - id: x\n    id: y\n"),
        ("shape", "a duplicated id", _event_yaml() + _event_yaml()[len(b"events:\n") :]),
        ("encoding", "invalid UTF-8", b"events:\n  - id: \xff\xfe\xfa\n"),
        ("encoding", "UTF-16 with a BOM", "events:\n  - id: x\n".encode("utf-16")),
        ("encoding", "Latin-1", "events:\n  - title: Réunion\n".encode("latin-1")),
        ("nul", "NUL bytes", b"events:\n  - id: x\x00y\n"),
        ("control", "control characters", b"events:\n  - id: x\x1b[31m\n"),
        (
            "tags",
            "a Python object tag",
            b"events: !!python/object/apply:os.system ['echo pwned']\n",
        ),
        ("tags", "a Python name tag", b"events: !!python/name:os.system\n"),
        ("tags", "an unknown tag", b"events: !include /etc/passwd\n"),
        ("tags", "binary data", b"events: !!binary aGVsbG8=\n"),
        ("bomb", "billion laughs", _bomb()),
        (
            "bomb",
            "billion laughs inside an event",
            _bomb() + _event_yaml(themes="PLACEHOLDER").replace(b'"PLACEHOLDER"', b"*x8"),
        ),
        (
            "bomb",
            "merge keys",
            b"a: &a {k0: 1}\n"
            + b"".join(
                b"m%d: &m%d {<<: [*%s, *%s], k%d: 1}\n"
                % (
                    i,
                    i,
                    b"a" if i == 0 else b"m%d" % (i - 1),
                    b"a" if i == 0 else b"m%d" % (i - 1),
                    i + 1,
                )
                for i in range(25)
            ),
        ),
        ("nesting", "lists nested 3,000 deep", b"events: " + b"[" * 3000 + b"]" * 3000 + b"\n"),
        (
            "nesting",
            "mappings nested 3,000 deep",
            b"events: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n",
        ),
        (
            "nesting",
            "blocks nested 1,500 deep",
            b"".join(b"  " * i + b"k%d:\n" % i for i in range(1500)),
        ),
    ]
    changes: list[tuple[str, str, dict[str, object]]] = [
        ("date", "start 2023-02-30", {"start": "2023-02-30"}),
        ("date", "start 2022-13-01", {"start": "2022-13-01"}),
        ("date", "start 0000-00-00", {"start": "0000-00-00"}),
        ("date", "start yesterday", {"start": "yesterday"}),
        ("date", "end before start", {"end": "2022-03-15"}),
        ("date", "start_time 25:00", {"start_time": "25:00"}),
        ("date", "a DST gap", {"start": "2022-03-27", "start_time": "02:30"}),
        (
            "date",
            "registration 24:00",
            {"registration": {"deadline": "2022-05-20", "time": "24:00"}},
        ),
        ("type", "start a list", {"start": [1, 2]}),
        ("type", "title a mapping", {"title": {"en": "x"}}),
        ("type", "themes a string", {"themes": "tip"}),
        ("type", "start a huge number", {"start": 10**30}),
        ("type", "an unknown field", {"colour": "red"}),
        ("unknown", "kind party", {"kind": "party"}),
        ("unknown", "status maybe", {"status": "maybe"}),
        ("unknown", "confidence sure", {"confidence": "sure"}),
        ("unknown", "theme drugs", {"themes": ["drugs"]}),
        ("zone", "zone Mars/Base", {"zone": "Mars/Base"}),
        ("zone", "zone Europe", {"zone": "Europe"}),
        ("zone", "zone America/Argentina", {"zone": "America/Argentina"}),
        ("zone", "zone ../../etc/passwd", {"zone": "../../etc/passwd"}),
        ("zone", "zone with a NUL", {"zone": "Europe/Vienna\x00"}),
        ("overlong", "a 5,000-character title", {"title": "A" * 5000}),
        ("blank", "an empty title", {"title": "   "}),
        ("sql", "an SQL id", {"id": "x'; DROP TABLE subscribers; --"}),
        ("traversal", "a path as id", {"id": "../../etc/passwd"}),
        ("direction", "an RTL override in the id", {"id": "a\u202eb"}),
        ("unicode", "an uppercase id", {"id": "Hostile"}),
        (
            "number",
            "registration in a DST gap",
            {"registration": {"deadline": "2022-03-27", "time": "02:30"}},
        ),
    ]
    for family, label, change in changes:
        files.append((family, label, _event_yaml(**change)))
    fact = {"source": "s", "confidence": "confirmed"}
    rule = {"title": "t", "offset": {"days": 1}, "actor": "a", "hint": "h", **fact}
    site = {"id": "s", "url": "https://example.org", **fact}
    others: list[tuple[str, str, bytes]] = [
        ("unknown", "country code XX", _yaml("states", {"code": "XX", **fact})),
        ("unknown", "country code at", _yaml("states", {"code": "at", **fact})),
        ("unknown", "country code AUT", _yaml("states", {"code": "AUT", **fact})),
        (
            "unknown",
            "reviewer XX",
            _yaml("reviewers", {"country": "AT", "cluster": 1, "states": ["XX"], **fact}),
        ),
        (
            "unknown",
            "reviewing itself",
            _yaml("reviewers", {"country": "AT", "cluster": 1, "states": ["AT"], **fact}),
        ),
        ("number", "cluster 0", _yaml("clusters", {"number": 0, "title": "t", **fact})),
        (
            "number",
            "cluster 1e309",
            _yaml("clusters", {"number": Raw("1e309"), "title": "t", **fact}),
        ),
        ("number", "cluster -1", _yaml("clusters", {"number": -1, "title": "t", **fact})),
        ("number", "cluster two", _yaml("clusters", {"number": "two", "title": "t", **fact})),
        (
            "number",
            "offset 10^20 days",
            _yaml("milestones", {**rule, "id": "m", "offset": {"days": 10**20}}),
        ),
        ("number", "offset zero", _yaml("milestones", {**rule, "id": "m", "offset": {}})),
        (
            "unknown",
            "a chain to nowhere",
            _yaml("milestones", {**rule, "id": "m", "after": "nowhere"}),
        ),
        (
            "unknown",
            "a chain in a cycle",
            _yaml(
                "milestones",
                {**rule, "id": "m1", "after": "m2"},
                {**rule, "id": "m2", "after": "m1"},
            ),
        ),
        (
            "date",
            "a recorded 2023-02-30",
            _yaml(
                "milestone_dates",
                {"country": "AT", "cluster": 1, "milestone": "self-assessment", **fact}
                | {"date": Raw("2023-02-30")},
            ),
        ),
        ("traversal", "a file:// source", _yaml("sources", {**site, "url": "file:///etc/passwd"})),
        ("markup", "a javascript: source", _yaml("sources", {**site, "url": "javascript:x()"})),
        ("syntax", "a bad ignore pattern", _yaml("sources", {**site, "ignore": ["("]})),
        ("syntax", "a bad selector", _yaml("sources", {**site, "selector": "div["})),
        ("number", "an interval of 0", _yaml("sources", {**site, "interval_minutes": 0})),
    ]
    files += others
    cases = [
        Case(DATASET, family, label, DatasetFile("hostile.yaml", content))
        for family, label, content in files
    ]
    # A broken bundled file (an operator editing config/data in place).
    events = (BUNDLED_DATA_DIR / "events.yaml").read_bytes()
    half = DatasetFile("events.yaml", events[: len(events) // 2], replaces_bundled=True)
    cases.append(Case(DATASET, "syntax", "a bundled file cut in half", half))
    # Odd text that is valid: it loads, and every page and feed shows it as text.
    valid = [
        ("format", "a format string as title", {"title": "{0.__class__} %s%n {texts}"}),
        ("markup", "a script as title", {"title": "<script>alert(1)</script> & <b>"}),
        ("direction", "an RTL override in the title", {"title": "\u202eevil\u202c meeting"}),
        ("unicode", "emoji and combining marks", {"title": "🇦🇹 Ä\u0308\u0308 meeting"}),
        ("sql", "SQL in the title", {"title": "'; DROP TABLE subscribers; --"}),
    ]
    for family, label, title in valid:
        content = _event_yaml(**title)
        cases.append(
            Case(
                DATASET,
                family,
                label + " (valid)",
                DatasetFile("hostile.yaml", content, loads=True),
            )
        )
    return cases


# Watched pages and feeds -----------------------------------------------------------------


@dataclass(frozen=True)
class HostilePage:
    """What the local site answers for one watched source, and how the source reads it."""

    kind: str = "html"
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    selector: str | None = None


def _html(text: str) -> bytes:
    return f"<html><body><main><h1>Meetings</h1><p>{text}</p></main></body></html>".encode(
        errors="surrogatepass"
    )


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><title>&xxe;</title><link>https://example.org/a</link></item></channel></rss>"""
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>x</title><item><title>&lol9;</title></item>'
    + b"</channel></rss>"
)
RSS = '<rss version="2.0"><channel><title>x</title>{}</channel></rss>'
ICS_EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//EN\r\nBEGIN:VEVENT\r\nUID:a@x\r\n"
    "DTSTAMP:20220101T000000Z\r\nDTSTART{start}\r\nSUMMARY:{summary}\r\n{extra}"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _ics(start: str = ";VALUE=DATE:20220601", summary: str = "Meeting", extra: str = "") -> bytes:
    return ICS_EVENT.format(start=start, summary=summary, extra=extra).encode(
        errors="surrogatepass"
    )


def _page_cases() -> list[Case]:
    pages: list[tuple[str, str, HostilePage]] = []
    for family, text in hostile():
        pages.append((family, f"a page saying {shown(text, 40)}", HostilePage(body=_html(text))))
    rss = "application/rss+xml"
    ics = "text/calendar"
    pages += [
        ("blank", "an empty page", HostilePage(body=b"")),
        ("nul", "NUL bytes", HostilePage(body=b"<p>Meeting\x00\x00 on 1 June 2022</p>" * 10)),
        ("encoding", "invalid UTF-8", HostilePage(body=b"<p>\xff\xfe\xfa\xc3\x28</p>" * 100)),
        (
            "encoding",
            "a bogus charset",
            HostilePage(body=_html("Réunion"), content_type="text/html; charset=x-bogus"),
        ),
        (
            "encoding",
            "UTF-7 declared",
            HostilePage(body=_html("+ADw-script+AD4-"), content_type="text/html; charset=utf-7"),
        ),
        (
            "encoding",
            "a lying meta charset",
            HostilePage(
                body=b'<meta charset="utf-16"><p>plain ASCII</p>', content_type="text/html"
            ),
        ),
        (
            "encoding",
            "UTF-16 without a BOM",
            HostilePage(
                body="<p>Meeting on 1 June 2022</p>".encode("utf-16-le"), content_type="text/html"
            ),
        ),
        (
            "encoding",
            "gzip bytes without Content-Encoding",
            HostilePage(body=gzip.compress(_html("x"))),
        ),
        (
            "encoding",
            "a PNG served as HTML",
            HostilePage(body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20),
        ),
        (
            "syntax",
            "a truncated page",
            HostilePage(body=b"<html><body><main><p>Registration closes 8 May 2022 at mid"),
        ),
        (
            "syntax",
            "an unclosed comment",
            HostilePage(body=b"<p>Meeting</p><!-- never closed <p>1 June 2022</p>"),
        ),
        (
            "syntax",
            "CDATA and a doctype in the body",
            HostilePage(body=b"<![CDATA[<p>x</p>]]><!DOCTYPE x><p>y</p>"),
        ),
        (
            "syntax",
            "entities out of range",
            HostilePage(body=b"<p>&#xFFFFFFFF; &#0; &#xD800; &#99999999999; &bogus;</p>"),
        ),
        (
            "nesting",
            "50,000 nested divs",
            HostilePage(body=b"<div>" * 50_000 + b"deep" + b"</div>" * 50_000),
        ),
        (
            "overlong",
            "10,000 paragraphs",
            HostilePage(body=b"<p>Meeting on 1 June 2022</p>" * 10_000),
        ),
        ("overlong", "one 2 MB word", HostilePage(body=b"<p>" + b"A" * 2_000_000 + b"</p>")),
        (
            "markup",
            "only scripts and styles",
            HostilePage(body=b"<script>alert(1)</script><style>p{}</style>"),
        ),
        (
            "date",
            "impossible dates",
            HostilePage(
                body=_html(
                    "Registration closes 30 February 2023; session on 99999999 May 2022, 31/31/2022"
                )
            ),
        ),
        (
            "selector",
            "a selector that matches nothing",
            HostilePage(body=_html("Meeting"), selector="#nowhere"),
        ),
        (
            "syntax",
            "a broken feed",
            HostilePage(kind="rss", body=b"<rss><channel><item><title>x", content_type=rss),
        ),
        (
            "syntax",
            "a feed that is no XML",
            HostilePage(kind="rss", body=b"just words", content_type=rss),
        ),
        (
            "traversal",
            "an external entity (XXE)",
            HostilePage(kind="rss", body=XXE, content_type=rss),
        ),
        (
            "bomb",
            "billion laughs in a feed",
            HostilePage(kind="rss", body=LAUGHS, content_type=rss),
        ),
        (
            "markup",
            "a javascript: link in a feed",
            HostilePage(
                kind="rss",
                body=RSS.format(
                    "<item><title>a</title><link>javascript:alert(1)</link>"
                    "<pubDate>not a date</pubDate></item>"
                ).encode(),
                content_type=rss,
            ),
        ),
        (
            "overlong",
            "5,000 feed entries",
            HostilePage(
                kind="rss",
                body=b'<rss version="2.0"><channel><title>x</title>'
                + b"<item><title>Meeting 1 June 2022</title></item>" * 5000
                + b"</channel></rss>",
                content_type=rss,
            ),
        ),
        (
            "shape",
            "an Atom feed read as RSS",
            HostilePage(
                kind="atom",
                body=b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title/></entry></feed>',
                content_type="application/atom+xml",
            ),
        ),
        (
            "syntax",
            "a calendar that is no calendar",
            HostilePage(kind="ics", body=b"not a calendar", content_type=ics),
        ),
        (
            "syntax",
            "a calendar without END",
            HostilePage(
                kind="ics",
                body=b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n",
                content_type=ics,
            ),
        ),
        (
            "date",
            "DTSTART 2023-02-30",
            HostilePage(kind="ics", body=_ics(start=";VALUE=DATE:20230230"), content_type=ics),
        ),
        (
            "date",
            "DTSTART in year 99999",
            HostilePage(kind="ics", body=_ics(start=":999991231T100000Z"), content_type=ics),
        ),
        (
            "zone",
            "an unknown TZID",
            HostilePage(
                kind="ics", body=_ics(start=";TZID=Mars/Base:20220601T100000"), content_type=ics
            ),
        ),
        (
            "zone",
            "a TZID that is a folder",
            HostilePage(
                kind="ics",
                body=_ics(start=";TZID=America/Argentina:20220601T100000"),
                content_type=ics,
            ),
        ),
        (
            "number",
            "a secondly rule without end",
            HostilePage(kind="ics", body=_ics(extra="RRULE:FREQ=SECONDLY\r\n"), content_type=ics),
        ),
        (
            "nesting",
            "10,000 nested components",
            HostilePage(
                kind="ics",
                body=b"BEGIN:VCALENDAR\r\n" * 10_000 + b"END:VCALENDAR\r\n" * 10_000,
                content_type=ics,
            ),
        ),
        (
            "control",
            "control characters in a summary",
            HostilePage(
                kind="ics", body=_ics(summary="Meet\x00ing\x1b[31m\u202e"), content_type=ics
            ),
        ),
        ("status", "HTTP 500", HostilePage(status=500, body=b"oops")),
        ("status", "HTTP 404", HostilePage(status=404, body=b"gone")),
        ("status", "HTTP 999", HostilePage(status=999, body=b"?")),
        (
            "status",
            "HTTP 429 asking for 10^20 s",
            HostilePage(status=429, headers=(("Retry-After", "99999999999999999999"),)),
        ),
        (
            "status",
            "HTTP 503 asking for -1 s",
            HostilePage(status=503, headers=(("Retry-After", "-1"),)),
        ),
        (
            "status",
            "HTTP 503 asking for ² s",
            HostilePage(status=503, headers=(("Retry-After", "²"),)),
        ),
        (
            "status",
            "HTTP 503 asking for a date",
            HostilePage(status=503, headers=(("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),)),
        ),
        (
            "redirect",
            "to port 99999",
            HostilePage(status=302, headers=(("Location", "http://127.0.0.1:99999/"),)),
        ),
        (
            "redirect",
            "to a broken IPv6 address",
            HostilePage(status=302, headers=(("Location", "http://[::1/"),)),
        ),
        (
            "redirect",
            "to javascript:",
            HostilePage(status=302, headers=(("Location", "javascript:alert(1)"),)),
        ),
        (
            "redirect",
            "to file:///etc/passwd",
            HostilePage(status=301, headers=(("Location", "file:///etc/passwd"),)),
        ),
        ("redirect", "without a Location", HostilePage(status=302)),
        (
            "redirect",
            "to a host with a space",
            HostilePage(status=302, headers=(("Location", "http://exa mple.org/"),)),
        ),
        (
            "redirect",
            "to a 300-character label",
            HostilePage(status=302, headers=(("Location", "http://" + "a" * 300 + ".example/"),)),
        ),
        ("redirect", "to itself forever", HostilePage(status=302, headers=(("Location", "SELF"),))),
        (
            "header",
            "a Content-Length of 10^11",
            HostilePage(body=b"<p>x</p>", headers=(("Content-Length", "99999999999"),)),
        ),
        (
            "header",
            "a Content-Length that is no number",
            HostilePage(body=b"<p>x</p>", headers=(("Content-Length", "abc"),)),
        ),
        (
            "header",
            "gzip declared, plain sent",
            HostilePage(body=b"<p>not gzip</p>", headers=(("Content-Encoding", "gzip"),)),
        ),
        (
            "header",
            "an unknown Content-Encoding",
            HostilePage(body=b"<p>x</p>", headers=(("Content-Encoding", "zstd-bogus"),)),
        ),
    ]
    return [Case(PAGE, family, label, page, PAGE_TABLES) for family, label, page in pages]


# A poll may record the page, its change and proposals, and tell the operators (deliveries
# of kind "operator.*"); nothing else.
PAGE_TABLES = frozenset(
    {"source_states", "source_snapshots", "source_changes", "proposals", "deliveries"}
)
NOT_FOR_OPERATORS = "SELECT count(*) FROM deliveries WHERE kind NOT LIKE 'operator.%'"


# Command line --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandLine:
    """Arguments for `untoc-watch`; `process` runs it as a real process (raw argv bytes)."""

    args: tuple[str, ...]
    exit_code: int = 2
    process: bool = False
    raw: tuple[bytes, ...] = ()
    file: bytes | None = None  # written to a temporary file, whose path replaces "FILE"


def _cli_cases() -> list[Case]:
    templates: tuple[tuple[str, ...], ...] = (
        ("upcoming", "--country", "{}"),
        ("upcoming", "--kind", "{}"),
        ("upcoming", "--theme", "{}"),
        ("upcoming", "--cluster", "{}"),
        ("upcoming", "--days", "{}"),
        ("upcoming", "--as-of", "{}"),
        ("upcoming", "--format", "{}"),
        ("timeline", "{}"),
        ("record", "{}", "self-assessment", "2022-01-01", "--source", "x"),
        ("record", "AT", "{}", "2022-01-01", "--source", "x"),
        ("record", "AT", "self-assessment", "{}", "--source", "x"),
        ("record", "AT", "self-assessment", "2022-01-01", "--source", "x", "--cluster", "{}"),
        ("preview", "--from", "{}", "--to", "2022-05-01"),
        ("preview", "--from", "2022-04-01", "--to", "2022-05-01", "--tz", "{}"),
        ("preview", "--from", "2022-04-01", "--to", "2022-05-01", "--lead-days", "{}"),
        ("broadcast", "Dialogue moved", "--country", "{}"),
        ("proposals", "approve", "{}"),
        ("proposals", "list", "--state", "{}"),
        ("sources", "check", "{}"),
        ("slack", "add-webhook", "{}"),
        ("telegram", "add-channel", "{}"),
    )
    cases = []
    for index, (family, text) in enumerate(hostile()):
        if "\x00" in text:
            continue  # an argv cannot carry NUL; invalid bytes are sent below
        for turn in (0, 1):
            template = templates[(2 * index + turn) % len(templates)]
            args = tuple(part.format(text) if part == "{}" else part for part in template)
            line = CommandLine(args)
            cases.append(Case(CLI, family, "untoc-watch " + shown(" ".join(args), 70), line))
    structure: list[tuple[str, tuple[str, ...], int]] = [
        ("unknown", ("upcomingg",), 2),
        ("unknown", ("upcoming", "--colour", "red"), 2),
        ("shape", ("upcoming", "--days"), 2),
        ("shape", ("record", "AT"), 2),
        ("number", ("upcoming", "--days", "-1"), 2),
        ("number", ("upcoming", "--days", "99999999999999999999"), 2),
        ("number", ("proposals", "approve", "99999999999999999999"), 2),
        ("number", ("proposals", "approve", "-1"), 2),
        ("number", ("telegram", "add-channel", "²"), 2),
        ("number", ("preview", "--from", "2022-01-01", "--to", "2030-01-01"), 2),
        (
            "number",
            ("preview", "--from", "2022-04-01", "--to", "2022-05-01", "--morning-hour", "24"),
            2,
        ),
        ("zone", ("preview", "--from", "2022-04-01", "--to", "2022-05-01", "--tz", "Europe"), 2),
        (
            "zone",
            ("preview", "--from", "2022-04-01", "--to", "2022-05-01", "--tz", "America/Argentina"),
            2,
        ),
        ("blank", ("broadcast", ""), 2),
        ("blank", ("broadcast", "   "), 2),
        ("overlong", ("broadcast", "A" * 3600), 2),
        ("date", ("record", "AT", "self-assessment", "2999-01-01", "--source", "x"), 2),
        ("blank", ("record", "AT", "self-assessment", "2022-01-01", "--source", "  "), 2),
        ("traversal", ("extract", "/nonexistent/../../etc/shadow"), 2),
        ("traversal", ("extract", "file:///etc/passwd"), 2),
        ("traversal", ("extract", "gopher://127.0.0.1:70/"), 2),
        ("traversal", ("extract", "/tmp"), 2),
        ("traversal", ("subscribers", "import", "/nonexistent/file.json"), 2),
        ("traversal", ("subscribers", "import", "/tmp"), 2),
    ]
    for family, args, code in structure:
        cases.append(
            Case(CLI, family, "untoc-watch " + shown(" ".join(args), 70), CommandLine(args, code))
        )

    def export(*entries: object, version: object = 1) -> bytes:
        return json.dumps({"version": version, "subscribers": list(entries)}).encode()

    chat = {"channel": "telegram", "address": "1"}
    imports: list[tuple[str, str, bytes]] = [
        ("syntax", "not JSON", b"{not json"),
        ("encoding", "invalid UTF-8", b'{"version": 1, "subscribers": ["\xff"]}'),
        ("shape", "a list", b"[1, 2, 3]"),
        ("shape", "another version", export(version=999)),
        ("shape", "subscribers not a list", b'{"version": 1, "subscribers": "all"}'),
        ("shape", "an entry without a channel", export({"address": "1"})),
        ("type", "filters of the wrong shape", export({**chat, "filters": [1, 2]})),
        ("zone", "a zone that is a folder", export({**chat, "timezone": "America/Argentina"})),
        ("unknown", "an unknown language", export({**chat, "language": "xx"})),
        ("number", "lead days of 10^20", export({**chat, "lead_days": [10**20]})),
        ("type", "lead days a string", export({**chat, "lead_days": "7"})),
        ("unknown", "a cluster filter ²", export({**chat, "filters": [["cluster", "²"]]})),
        ("nul", "a NUL in a name", export({**chat, "display_name": "a\x00b"})),
        ("overlong", "a 40-character channel", export({**chat, "channel": "telegram" * 5})),
        ("type", "a name that is a list", export({**chat, "display_name": ["a"]})),
        ("unknown", "a country filter XX", export({**chat, "filters": [["country", "XX"]]})),
        ("sql", "an SQL filter", export({**chat, "filters": [["theme", "'; DROP TABLE x; --"]]})),
        ("shape", "a short calendar token", export({**chat, "calendar_token": "a"})),
        (
            "duplicate",
            "one calendar token twice",
            export(
                {**chat, "calendar_token": "T" * 43},
                {**chat, "address": "2", "calendar_token": "T" * 43},
            ),
        ),
        ("nesting", "JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
    ]
    for family, label, content in imports:
        line = CommandLine(("subscribers", "import", "FILE"), file=content)
        cases.append(Case(CLI, family, f"untoc-watch subscribers import ({label})", line))
    processes: list[tuple[str, tuple[bytes, ...]]] = [
        ("encoding", (b"upcoming", b"--country", b"\xff\xfe")),
        ("encoding", (b"timeline", b"Aus\xfftria")),
        ("encoding", (b"record", b"\xff", b"self-assessment", b"2022-01-01", b"--source", b"x")),
        ("encoding", (b"upcoming", b"--as-of", b"2022-\xff-01")),
    ]
    for family, raw in processes:
        label = "untoc-watch " + shown(b" ".join(raw), 60) + " (a process)"
        cases.append(Case(CLI, family, label, CommandLine((), process=True, raw=raw)))
    return cases


def corpus() -> list[Case]:
    """Every case, in a fixed order."""
    return [
        *_query_cases(),
        *_telegram_cases(),
        *_telegram_button_cases(),
        *_slack_command_cases(),
        *_slack_button_cases(),
        *_dataset_cases(),
        *_page_cases(),
        *_cli_cases(),
    ]


def sample(cases: Sequence[Case]) -> list[Case]:
    """The quick form: the first case of each family at each entry point, at least 5 each."""
    chosen: list[Case] = []
    seen: Counter[tuple[str, str]] = Counter()
    per_entry: Counter[str] = Counter()
    for case in cases:
        if seen[(case.entry, case.family)] < QUICK_PER_FAMILY:
            seen[(case.entry, case.family)] += 1
            per_entry[case.entry] += 1
            chosen.append(case)
    for case in cases:
        if per_entry[case.entry] < QUICK_MINIMUM and case not in chosen:
            per_entry[case.entry] += 1
            chosen.append(case)
    return chosen


# Running the cases ---------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Every log record at ERROR or above, or with a traceback: a crash somewhere."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> list[str]:
        found = []
        for record in self.records[mark:]:
            error = record.exc_info[1] if record.exc_info else None
            cause = f" ({type(error).__name__}: {error})" if error else ""
            found.append(f"{record.name}: {record.getMessage()[:120]}{cause}"[:300])
        return found


@contextlib.contextmanager
def capture_errors() -> Iterator[ErrorLog]:
    """Collect errors logged anywhere while the block runs."""
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


Rows = dict[str, list[tuple[Any, ...]]]


def rows(path: Path) -> Rows:
    """Every row of every table of a SQLite database, in a stable order."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
        }


def changed_tables(before: Rows, after: Rows) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def damage(before: Rows, after: Rows, allowed: frozenset[str]) -> str | None:
    """The tables an input changed beyond what it may change, as a problem, or None."""
    changed = changed_tables(before, after) - allowed
    return f"changed the tables {sorted(changed)}" if changed else None


def fingerprint(*directories: Path) -> dict[str, str]:
    """The SHA-256 of every file under the directories."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for directory in directories
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def signed(
    body: bytes, content_type: str, *, secret: str = SIGNING_SECRET, age: int = 0
) -> dict[str, str]:
    """Headers that sign `body` with this suite's signing secret, as Slack does."""
    from tests.fakes.slack_api import signed_headers

    return signed_headers(body, secret, age=age, content_type=content_type)


@dataclass
class Tally:
    """Tried, passed, and what failed, per entry point; how many inputs were accepted."""

    tried: Counter[str] = field(default_factory=Counter)
    passed: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def add(self, case: Case, problem: str | None, *, accepted: bool = False) -> None:
        self.tried[case.entry] += 1
        if problem is None:
            self.passed[case.entry] += 1
            self.accepted[case.entry] += accepted
        else:
            self.problems.append(f"{case.entry}: {case.label}: {problem}")


@dataclass
class Lab:
    """What the runners share: a scratch directory, the dataset, the error log."""

    root: Path
    dataset: Any
    errors: ErrorLog

    def database(self, name: str) -> tuple[str, Path]:
        """A new SQLite database, migrated; its async URL and its file."""
        return asyncio.run(self.new_database(name))

    async def new_database(self, name: str) -> tuple[str, Path]:
        """`database`, on a running event loop."""
        from bot.db.migrate import upgrade

        path = self.root / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        return url, path

    def logged(self, mark: int) -> str | None:
        errors = self.errors.since(mark)
        return f"logged an error: {errors[0]}" if errors else None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p), None)


# The web -------------------------------------------------------------------------------


def _web_problem(request: WebRequest, status: int, content_type: str, text: str) -> str | None:
    if status >= 500:
        return f"HTTP {status}"
    if "Traceback" in text:
        return "a traceback in the answer"
    if request.words is None or (request.may_be_valid and status == 200):
        return None if status == 200 else f"HTTP {status} for a valid query: {text[:80]!r}"
    if status not in request.status:
        return f"HTTP {status}, expected {request.status}: {text[:80]!r}"
    if not content_type.startswith("text/plain"):
        return f"the error is {content_type}, not plain text"
    if request.words.lower() not in text.lower():
        return f"the error does not name the problem: {text[:80]!r}"
    return None


async def _web_cases(cases: Sequence[Case], lab: Lab, url: str, path: Path, tally: Tally) -> None:
    import httpx

    from bot.db import subscribers
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.settings import load_settings

    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            await subscribers.ensure_subscriber(
                session, channel="telegram", address="1001", now=NOW, display_name="Ada"
            )
        settings = load_settings(DATABASE_URL=url, PUBLIC_BASE_URL="https://watch.example.org")
        publisher = Publisher(lab.dataset, store, settings.public_base_url, clock=lambda: NOW)
        app = create_app(settings, lab.dataset, publisher)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
            for warm in ("/calendar.ics", "/api/upcoming", "/"):
                await http.get(warm)  # the feeds record their versions once
            for case in cases:
                request: WebRequest = case.payload
                before, mark = rows(path), lab.errors.mark()
                response = await http.get(
                    httpx.URL("http://web" + request.path, query=request.query)
                )
                problem = _first(
                    _web_problem(
                        request,
                        response.status_code,
                        response.headers.get("content-type", ""),
                        response.text,
                    ),
                    damage(before, rows(path), frozenset()),
                    lab.logged(mark),
                )
                tally.add(case, problem, accepted=response.status_code == 200)
    finally:
        await store.close()


def run_web(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Query strings and calendar addresses, through the ASGI app."""
    url, path = lab.database("web")
    asyncio.run(_web_cases(cases, lab, url, path, tally))


# Telegram ------------------------------------------------------------------------------

REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "answerCallbackQuery"})


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


# Slack ---------------------------------------------------------------------------------


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
            allowed = DERIVED | (
                case.may_change
                if in_channel or isinstance(case.payload, SlackPress)
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


# Dataset files -------------------------------------------------------------------------


def _renders(dataset: Any, title: str) -> str | None:
    """Whether the web shows a dataset with odd text: as text, on every page and feed."""
    import httpx

    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.settings import load_settings

    async def fetch() -> str | None:
        publisher = Publisher(dataset, None, "https://watch.example.org", clock=lambda: NOW)
        app = create_app(load_settings(), dataset, publisher)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
            for address in (
                "/",
                "/?lang=fr",
                "/calendar.ics",
                "/calendar.ics?lang=es",
                "/api/upcoming",
            ):
                response = await http.get(address)
                if response.status_code != 200:
                    return f"GET {address} answered HTTP {response.status_code}"
                page = address.startswith("/?") or address == "/"
                if page and "<script>alert(1)</script>" in response.text:
                    return f"GET {address} shows a script from the dataset unescaped"
            listed = (await http.get("/api/upcoming")).json()
            if not any(row.get("title") == title for row in listed):
                return "the API does not show the title as written"
        return None

    return asyncio.run(fetch())


def run_datasets(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Broken dataset files, read by the loader from a scratch copy of the dataset."""
    from config.dataset import DatasetError, load_dataset

    bundled = lab.root / "bundled"
    shutil.copytree(BUNDLED_DATA_DIR, bundled)
    shipped = fingerprint(BUNDLED_DATA_DIR)
    for number, case in enumerate(cases):
        file: DatasetFile = case.payload
        base = bundled
        extra = lab.root / f"extra-{number}"
        extra.mkdir()
        if file.replaces_bundled:
            base = lab.root / f"bundled-{number}"
            shutil.copytree(bundled, base)
            (base / file.name).write_bytes(file.content)
        else:
            (extra / file.name).write_bytes(file.content)
        before, mark = fingerprint(base, extra), lab.errors.mark()
        problem: str | None = None
        accepted = False
        try:
            dataset = load_dataset(extra, base, cache_dir=lab.root / f"cache-{number}")
        except DatasetError as error:
            message = str(error)
            if file.loads:
                problem = f"a valid file was refused: {message[:120]}"
            elif file.name not in message:
                problem = f"the error does not name the file: {message[:120]}"
        except Exception as error:
            problem = f"the loader crashed: {type(error).__name__}: {str(error)[:100]}"
        else:
            accepted = True
            if not file.loads:
                problem = "a broken file was accepted"
            else:
                title = dataset.events["hostile-event"].title
                problem = _renders(dataset, title)
        leftovers = list((lab.root / f"cache-{number}").glob("*.pickle"))
        if leftovers and not accepted:
            problem = problem or "a broken dataset was cached"
        problem = _first(
            problem,
            None if fingerprint(base, extra) == before else "the dataset files changed",
            lab.logged(mark),
        )
        tally.add(case, problem, accepted=accepted)
    if fingerprint(BUNDLED_DATA_DIR) != shipped:
        tally.problems.append(f"{DATASET}: the shipped dataset files changed")
    load_dataset(None, bundled)  # the copy still loads: nothing above harmed it


# Watched pages -------------------------------------------------------------------------


class RawSite:
    """A local site answering each path with exactly the status, headers and body given."""

    def __init__(self) -> None:
        self.pages: dict[str, HostilePage] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                page = site.pages.get(self.path, HostilePage(status=404))
                headers = dict(page.headers)
                if headers.get("Location") == "SELF":
                    headers["Location"] = site.url(self.path)
                headers.setdefault("Content-Type", page.content_type)
                headers.setdefault("Content-Length", str(len(page.body)))
                head = f"HTTP/1.1 {page.status} Hostile\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                head += "Connection: close\r\n\r\n"
                with contextlib.suppress(OSError):
                    self.wfile.write(head.encode("latin-1") + page.body)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RawSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"


PASSWD_LINE = "root:x:0:0"


async def _page_run(cases: Sequence[Case], lab: Lab, url: str, path: Path, tally: Tally) -> None:
    import ipaddress

    import httpx

    from bot.db.engine import create_engine
    from bot.db.store import Store
    from config.dataset import Source
    from feeds.fetch import AddressPolicy, Fetcher, HostPacer
    from feeds.reading import ProcessReader
    from feeds.watcher import Watcher
    from tests.fakes.unodc_site import FakeUnodcSite

    store = Store(create_engine(url))
    local = (ipaddress.ip_network("127.0.0.1/32"),)
    try:
        with FakeUnodcSite() as site, RawSite() as raw:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as client,
                ProcessReader() as reader,
            ):
                fetcher = Fetcher(
                    client,
                    user_agent="UNTOC-Watch/reliability",
                    policy=AddressPolicy(allowed=local),
                    pacer=HostPacer(0.0),
                    total_timeout=20.0,
                )
                for number, case in enumerate(cases):
                    page: HostilePage = case.payload
                    address = f"/page-{number}"
                    names = {name for name, _ in page.headers}
                    if names - {"Location"}:
                        raw.pages[address] = page
                        target = raw.url(address)
                    else:
                        location = dict(page.headers).get("Location")
                        if location == "SELF":
                            location = site.url(address)
                        site.publish(
                            address,
                            page.body,
                            content_type=page.content_type,
                            status=page.status,
                            location=location,
                        )
                        target = site.url(address)
                    source = Source(
                        id=f"hostile-{number}",
                        url=target,
                        kind=page.kind,
                        selector=page.selector,
                        source="reliability suite",
                        confidence="reported",
                    )
                    watcher = Watcher(
                        [source],
                        fetcher,
                        store,
                        events=lab.dataset.events,
                        failure_threshold=1000,
                        reader=reader,
                    )
                    before, mark = rows(path), lab.errors.mark()
                    alerts = _count(path, NOT_FOR_OPERATORS)
                    (outcome,) = await watcher.check([source.id], NOW)
                    state = (await store.source_states()).get(source.id)
                    problem = _first(
                        "the watcher crashed"
                        if outcome.message.startswith("internal error")
                        else None,
                        "the poll was not recorded"
                        if state is None or state.last_polled_at != NOW
                        else None,
                        "a failure without its reason"
                        if outcome.result == "failed" and not (state and state.last_error)
                        else None,
                        "read a local file" if PASSWD_LINE in json.dumps(rows(path)) else None,
                        "queued an alert" if _count(path, NOT_FOR_OPERATORS) != alerts else None,
                        damage(before, rows(path), case.may_change),
                        lab.logged(mark),
                    )
                    tally.add(case, problem, accepted=outcome.result != "failed")
    finally:
        await store.close()


def _count(path: Path, query: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        (count,) = db.execute(query).fetchone()
        return int(count)


def run_pages(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Broken pages, feeds, calendars and HTTP answers, polled by the real watcher."""
    url, path = lab.database("pages")
    asyncio.run(_page_run(cases, lab, url, path, tally))


# The command line ----------------------------------------------------------------------

CLI_TABLES = {
    "record": frozenset({"milestone_dates"}),
    "broadcast": frozenset({"deliveries"}),
    "subscribers": SUBSCRIPTION_TABLES | {"acknowledgements"},
    "slack": SUBSCRIPTION_TABLES,
    "telegram": SUBSCRIPTION_TABLES,
}


def _cli_problem(code: int, output: str, crashed: BaseException | None) -> str | None:
    if crashed is not None:
        return f"crashed: {type(crashed).__name__}: {str(crashed)[:100]}"
    if "Traceback" in output:
        return "printed a traceback"
    if code == 0:
        return None
    if code not in (1, 2):
        return f"exit code {code}"
    if "rror" not in output:
        return f"exit code {code} without an error message: {output[:80]!r}"
    return None


def run_cli(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Arguments to `untoc-watch`, in process (typer's runner) or as a real process."""
    from typer.testing import CliRunner

    from bot.cli.app import app

    url, path = lab.database("cli")
    env: dict[str, str | None] = {
        "DATABASE_URL": url.replace("+aiosqlite", ""),
        "UNTOC_CACHE_DIR": str(lab.root / "cli-cache"),
        "UNTOC_DATA_DIR": None,
        "PUBLIC_BASE_URL": "https://watch.example.org",
        # Anything that would reach a chat service goes to a closed local port.
        "TELEGRAM_BOT_TOKEN": "123:reliability-token",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
        "SLACK_BOT_TOKEN": None,
        "WATCHER_ALLOW_PRIVATE": "false",
    }
    runner = CliRunner(env=env)
    for number, case in enumerate(cases):
        line: CommandLine = case.payload
        allowed = CLI_TABLES.get(line.args[0] if line.args else "", frozenset())
        before, mark = rows(path), lab.errors.mark()
        crashed: BaseException | None = None
        if line.process:
            code, output = _cli_process(line.raw, env)
        else:
            args = list(line.args)
            if line.file is not None:
                file = lab.root / f"cli-{number}.json"
                file.write_bytes(line.file)
                args = [str(file) if arg == "FILE" else arg for arg in args]
            result = runner.invoke(app, args)
            code, output = result.exit_code, result.output
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                crashed = result.exception
        problem = _first(
            _cli_problem(code, output, crashed),
            damage(before, rows(path), allowed),
            lab.logged(mark),
        )
        tally.add(case, problem, accepted=code == 0)


def _cli_process(raw: tuple[bytes, ...], env: dict[str, str | None]) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if k not in env}
    environment.update({k: v for k, v in env.items() if v is not None})
    command = [sys.executable.encode(), b"-m", b"bot", *raw]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, timeout=120)
    output = (result.stdout + result.stderr).decode(errors="replace")
    return result.returncode, output


# The suite -----------------------------------------------------------------------------

RUNNERS: tuple[tuple[frozenset[str], Callable[[Sequence[Case], Lab, Tally], None]], ...] = (
    (frozenset({QUERY}), run_web),
    (frozenset({TELEGRAM_COMMAND, TELEGRAM_BUTTON}), run_telegram),
    (frozenset({SLACK_COMMAND, SLACK_BUTTON}), run_slack),
    (frozenset({DATASET}), run_datasets),
    (frozenset({PAGE}), run_pages),
    (frozenset({CLI}), run_cli),
)
MAX_LISTED_FAILURES = 40


def run(quick: bool = False) -> Section:
    """Send the corpus (or its quick sample) to every entry point; figures per entry point."""
    from config.dataset import load_dataset

    everything = corpus()
    cases = sample(everything) if quick else everything
    section = Section("Hostile input" + (" (quick sample)" if quick else ""))
    tally = Tally()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="untoc-inputs-") as scratch, capture_errors() as errors:
        lab = Lab(Path(scratch), load_dataset(), errors)
        for entries, runner in RUNNERS:
            chosen = [case for case in cases if case.entry in entries]
            if not chosen:
                continue
            try:
                runner(chosen, lab, tally)
            except Exception as error:  # a broken runner must show, not hide the others
                tally.problems.append(
                    f"{sorted(entries)}: the run stopped: {type(error).__name__}: {error}"
                )
    for entry in ENTRY_POINTS:
        section.figure(
            f"{entry}: {tally.passed[entry]}/{tally.tried[entry]} passed "
            f"({tally.accepted[entry]} of them odd but valid, and served as such)"
        )
    total_tried, total_passed = sum(tally.tried.values()), sum(tally.passed.values())
    section.figure(
        f"total: {total_passed}/{total_tried} passed, corpus of {len(everything)} inputs, "
        f"{time.perf_counter() - started:.0f} s"
    )
    for problem in tally.problems[:MAX_LISTED_FAILURES]:
        section.fail(problem)
    if len(tally.problems) > MAX_LISTED_FAILURES:
        section.fail(f"... and {len(tally.problems) - MAX_LISTED_FAILURES} more")
    return section
