"""Setting Telegram up: `untoc-watch telegram add-channel`, and the token kept out of logs."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.db.engine import create_engine
from bot.db.store import Store
from bot.db.subscribers import find_subscriber, selection_of
from bot.telegram.app import file_url, protect_token
from config.settings import load_settings
from tests.fakes.telegram_api import FakeTelegram

CHANNEL = -1001234567


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def runner(fake, monkeypatch, tmp_path):
    fake.reset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UNTOC_DATA_DIR", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("UNTOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake.base_url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return runner


def stored(tmp_path):
    async def read():
        store = Store(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}"))
        try:
            async with store.sessions() as session:
                return await find_subscriber(session, "telegram", str(CHANNEL))
        finally:
            await store.close()

    return asyncio.run(read())


def test_add_channel_registers_the_channel_with_its_filters(runner, fake, tmp_path):
    fake.add_chat(
        CHANNEL, "channel", title="Alerts", username="network_alerts", bot_status="administrator"
    )
    result = runner.invoke(
        app,
        [
            "telegram",
            "add-channel",
            "@network_alerts",
            "--country",
            "Austria",
            "--country",
            "BR",
            "--theme",
            "tip",
            "--lang",
            "fr",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Alerts for AT, BR, tip will be posted in @network_alerts." in result.output
    subscriber = stored(tmp_path)
    assert subscriber is not None and subscriber.active and subscriber.language == "fr"
    chosen = selection_of(subscriber)
    assert (set(chosen.countries), set(chosen.themes)) == ({"AT", "BR"}, {"tip"})
    assert [c.method for c in fake.calls] == ["getMe", "getChat", "getChatMember"]


@pytest.mark.parametrize(
    ("args", "setup", "message"),
    [
        (["@nowhere"], None, "Telegram does not know @nowhere"),
        (["@network_alerts"], "member", "the bot is not an administrator of @network_alerts"),
        (["@network_alerts"], "group", "@network_alerts is not a channel"),
        (["network_alerts"], None, "is not a channel; write @name"),
        (["@network_alerts", "--country", "Atlantis"], None, "unknown country 'Atlantis'"),
        (["@network_alerts", "--theme", "weather"], None, "--theme 'weather' is unknown"),
        (["@network_alerts", "--lang", "de"], None, "--lang 'de' is unknown"),
    ],
)
def test_add_channel_explains_what_to_fix(runner, fake, tmp_path, args, setup, message):
    if setup == "member":
        fake.add_chat(CHANNEL, "channel", username="network_alerts", bot_status="member")
    elif setup == "group":
        fake.add_chat(CHANNEL, "supergroup", username="network_alerts", bot_status="administrator")
    result = runner.invoke(app, ["telegram", "add-channel", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert stored(tmp_path) is None


def test_add_channel_needs_a_token(runner, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    result = runner.invoke(app, ["telegram", "add-channel", "@network_alerts"])
    assert result.exit_code == 2 and "TELEGRAM_BOT_TOKEN is not set" in result.output


def test_a_revoked_token_is_reported(runner, fake):
    fake.revoke_token()
    result = runner.invoke(app, ["telegram", "add-channel", "@network_alerts"])
    assert result.exit_code == 1 and "Telegram refused TELEGRAM_BOT_TOKEN" in result.output


def test_the_token_never_reaches_the_logs(fake):
    token = fake.token
    settings = load_settings(TELEGRAM_BOT_TOKEN=token)
    root = logging.getLogger("token-test")
    root.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        protect_token(settings, root)
        root.info("calling https://api.telegram.org/bot%s/getMe", token)
        try:
            raise RuntimeError(f"failed at /bot{token}/sendMessage")
        except RuntimeError:
            root.exception("request failed")
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert token not in written
    assert (
        "bot<TELEGRAM_BOT_TOKEN>/getMe" in written and "<TELEGRAM_BOT_TOKEN>/sendMessage" in written
    )
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


def test_file_url_sits_next_to_the_api_url():
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:9/bot") == "http://127.0.0.1:9/file/bot"
