"""The calendar key and the personal calendar tokens made with it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli.app import app
from bot.db.store import Store
from config.keys import (
    TOKEN_LENGTH,
    KeyFileError,
    calendar_key,
    calendar_token,
    key_fingerprint,
    key_from_file,
    legacy_hash,
    new_nonce,
    nonce_of,
)
from config.settings import SettingsError, load_settings

KEY = b"a-calendar-key-for-these-tests-only"


def test_a_token_carries_its_nonce_and_only_the_key_makes_it() -> None:
    nonce = new_nonce()
    token = calendar_token(KEY, nonce)
    assert len(token) == TOKEN_LENGTH and token.startswith(nonce)
    assert token == calendar_token(KEY, nonce)  # shown again, the same link
    assert nonce_of(KEY, token) == nonce
    assert nonce_of(b"another-key-another-key-another", token) is None
    assert nonce_of(KEY, nonce) is None  # the nonce alone, as the database holds it
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert nonce_of(KEY, changed) is None
    assert nonce_of(KEY, token + "A") is None
    assert nonce_of(KEY, "é" * TOKEN_LENGTH) is None


def test_nonces_differ_and_legacy_tokens_are_kept_as_their_hash() -> None:
    assert len({new_nonce() for _ in range(1000)}) == 1000
    hashed = legacy_hash("an-old-token")
    assert len(hashed) == 64 and "an-old-token" not in hashed
    assert hashed == legacy_hash("an-old-token") != legacy_hash("an-old-tokeN")


def test_the_key_file_is_made_once_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "untoc-watch.key"
    first = key_from_file(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_from_file(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["untoc-watch.key"]  # no partial left


def test_processes_starting_at_once_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "shared.key"
    keys: list[bytes] = []
    start = threading.Barrier(8)

    def make() -> None:
        start.wait()
        keys.append(key_from_file(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "open.key"
    key_from_file(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=rf"other users; run `chmod 600 {path}`"):
        key_from_file(path)


def test_a_key_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    key_from_file(real)
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(KeyFileError, match="no link"):
        key_from_file(link)


def test_a_key_file_that_cannot_be_made_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "missing-folder" / "untoc-watch.key"
    with pytest.raises(KeyFileError, match="set CALENDAR_KEY_FILE to a place this user may write"):
        key_from_file(path)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root")
def test_a_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "theirs.key"
    key_from_file(path)
    os.chown(path, 65534, 65534)
    with pytest.raises(KeyFileError, match="belongs to another user"):
        key_from_file(path)


def test_a_key_file_without_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="32 or more characters; remove it"):
        key_from_file(path)


def test_the_secret_wins_over_the_file_and_must_be_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALENDAR_SECRET", raising=False)
    path = tmp_path / "k.key"
    from_file = calendar_key(load_settings(CALENDAR_KEY_FILE=str(path)))
    assert path.exists() and from_file == key_from_file(path)
    secret = "s" * 40
    assert calendar_key(load_settings(CALENDAR_SECRET=secret)) == secret.encode()
    with pytest.raises(
        SettingsError, match=r"CALENDAR_SECRET: expected 32 to 256 .*\(got \(hidden\)\)"
    ):
        load_settings(CALENDAR_SECRET="short")


def _worker(tmp_path: Path, secret: str) -> subprocess.CompletedProcess[str]:
    """`untoc-watch worker` as a process, on the test's SQLite file, with this secret."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'watch.db'}",
        "UNTOC_CACHE_DIR": str(tmp_path / "cache"),
        "CALENDAR_SECRET": secret,
        "WATCHER_ENABLED": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_process_with_another_key_refuses_to_start_until_the_old_one_is_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = "first-calendar-secret-" + "a" * 32, "second-calendar-secret-" + "b" * 32
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("UNTOC_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()

    def command(secret: str, *args: str) -> Result:
        monkeypatch.setenv("CALENDAR_SECRET", secret)
        return runner.invoke(app, list(args))

    assert command(first, "db", "upgrade").exit_code == 0
    hook = "https://hooks.slack.com/services/T0AAA/B0BBB/abcdef"
    made = command(second, "slack", "add-webhook", hook)
    assert made.exit_code == 0, made.output  # a command records no key

    async def started_with(secret: str) -> bool:  # what a web or worker does first
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
        try:
            return await store.calendar_key_agrees(
                key_fingerprint(secret.encode()), dt.datetime.now(dt.UTC)
            )
        finally:
            await store.close()

    assert asyncio.run(started_with(first)) and asyncio.run(started_with(first))
    refused = _worker(tmp_path, second)  # the composition root, as a real process
    assert refused.returncode == 2
    assert "give every process the same CALENDAR_SECRET" in refused.stderr
    other = command(second, "slack", "add-webhook", hook + "x")
    assert other.exit_code == 2 and "forget-calendar-key" in other.output
    assert command(first, "slack", "add-webhook", hook + "x").exit_code == 0
    forgotten = command(second, "db", "forget-calendar-key", "--yes")
    assert forgotten.exit_code == 0 and "forgotten" in forgotten.output
    assert asyncio.run(started_with(second)) and not asyncio.run(started_with(first))
    again = command(second, "slack", "add-webhook", hook + "y")
    assert again.exit_code == 0, again.output
    assert "/calendar/" in again.output
