"""Hostile command-line arguments, to the typer app and, for bytes only a real argv can
carry, to the `untoc-watch` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from reliability.inputs._common import (
    CLI,
    CLI_TABLES,
    ROOT,
    Case,
    Lab,
    Tally,
    _first,
    damage,
    hostile,
    rows,
    shown,
)


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
        ("unknown", ("db", "forget-calendar-key", "now"), 2),
        ("unknown", ("db", "forget-old-calendar-links", "--all"), 2),
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
            "shape",
            "a calendar nonce of 21 characters",
            export({**chat, "calendar_nonce": "n" * 21}),
        ),
        (
            "shape",
            "a calendar hash in capitals",
            export({**chat, "calendar_legacy_hash": "A" * 64}),
        ),
        (
            "duplicate",
            "one calendar nonce twice",
            export(
                {**chat, "calendar_nonce": "N" * 22},
                {**chat, "address": "2", "calendar_nonce": "N" * 22},
            ),
        ),
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
