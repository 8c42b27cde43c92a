"""`untoc-watch slack ...`, the Slack settings and the app manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli.app import app
from bot.db import subscribers as subs
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.slack.channel import WEBHOOK_TARGET
from bot.slack.targets import InvalidWebhookUrl, check_webhook_url
from config.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
HOOK = "https://hooks.slack.com/services/T0AAA/B0BBB/abcdefSECRET123"


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("UNTOC_DATA_DIR", "PUBLIC_BASE_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("UNTOC_CACHE_DIR", str(tmp_path / "cache"))
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def stored(tmp_path, url):
    async def read():
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
        try:
            async with store.sessions() as session:
                return await subs.find_subscriber(session, WEBHOOK_TARGET, url)
        finally:
            await store.close()

    return asyncio.run(read())


def test_add_webhook_with_an_unusable_key_file_registers_nothing(runner, tmp_path, monkeypatch):
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}"))
    monkeypatch.delenv("CALENDAR_SECRET", raising=False)
    key = tmp_path / "untoc-watch.key"
    key.write_text("k" * 43 + "\n")
    key.chmod(0o644)  # others could read it
    result = invoke(runner, "slack", "add-webhook", HOOK)
    assert result.exit_code == 2
    assert "run `chmod 600 untoc-watch.key`" in result.output
    assert stored(tmp_path, HOOK) is None
    key.chmod(0o600)
    done = invoke(runner, "slack", "add-webhook", HOOK)
    assert done.exit_code == 0 and stored(tmp_path, HOOK) is not None


def test_add_webhook_registers_a_target_with_its_filters(runner, tmp_path):
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}"))
    result = invoke(
        runner, "slack", "add-webhook", HOOK, "--country", "Austria", "-c", "br",
        "--theme", "tip", "--lang", "fr", "--name", "#coalition",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "abcdefSECRET123" not in result.output  # the URL is a secret
    assert "hooks.slack.com/services/T0AAA/B0BBB/…" in result.output
    assert "follows AT, BR, tip" in result.output and "/calendar/" in result.output
    subscriber = stored(tmp_path, HOOK)
    assert subscriber.active and subscriber.language == "fr"
    assert subscriber.display_name == "#coalition"
    selection = subs.selection_of(subscriber)
    assert selection.countries == {"AT", "BR"} and selection.themes == {"tip"}
    again = invoke(runner, "slack", "add-webhook", HOOK, "--theme", "firearms")
    assert again.exit_code == 0
    selection = subs.selection_of(stored(tmp_path, HOOK))
    assert not selection.countries and selection.themes == {"firearms"}  # filters replaced


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://hooks.slack.com/services/T0/B0/x"], "starts with https://"),
        (["https://evil.example/services/T0AAA/B0BBB/abc"], "is not on hooks.slack"),
        (["https://hooks.slack.com/services/T0AAA"], "expected https://hooks.slack.com/services/"),
        ([HOOK, "--country", "Austira"], "did you mean AT (Austria)"),
        ([HOOK, "--theme", "guns"], "--theme 'guns' is unknown"),
        ([HOOK, "--lang", "de"], "--lang 'de' is unknown"),
    ],
)
def test_add_webhook_refuses_bad_input_with_exit_2(runner, args, message):
    result = runner.invoke(app, ["slack", "add-webhook", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "abcdefSECRET123" not in result.output


def test_add_webhook_without_a_database_says_how_to_make_one(runner):
    result = runner.invoke(app, ["slack", "add-webhook", HOOK])
    assert result.exit_code == 1 and "untoc-watch db upgrade" in result.output


def test_a_test_server_base_is_accepted_only_when_named():
    url = "http://127.0.0.1:9999/services/T0/B0/secret"
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url)
    assert check_webhook_url(f" {url} ", "http://127.0.0.1:9999/services") == url
    with pytest.raises(InvalidWebhookUrl) as caught:
        check_webhook_url("https://hooks.slack.com/services/T0/B0/has space secret")
    assert "secret" not in str(caught.value)


def test_the_manifest_declares_the_command_interactivity_and_scopes():
    manifest = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/untoc"
    assert command["url"] == "${PUBLIC_BASE_URL}/slack/events"
    assert manifest["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": "${PUBLIC_BASE_URL}/slack/events",
    }
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write",
        "chat:write.public",
        "channels:read",
        "groups:read",
        "commands",
        "incoming-webhook",
    }


def test_slack_manifest_fills_in_the_public_address(runner, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org/")
    result = invoke(runner, "slack", "manifest")
    manifest = yaml.safe_load(result.stdout)
    assert manifest["features"]["slash_commands"][0]["url"] == (
        "https://watch.example.org/slack/events"
    )


def test_slack_settings_name_the_variable_and_hide_secrets():
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET is required") as caught:
        load_settings(SLACK_BOT_TOKEN="xoxb-1-2-secretvalue")
    assert "secretvalue" not in str(caught.value)
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN: expected") as caught:
        load_settings(SLACK_BOT_TOKEN="xoxp-user-secretvalue", SLACK_SIGNING_SECRET="abcdef123456")
    assert "secretvalue" not in str(caught.value)
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN"):
        load_settings(SLACK_APP_TOKEN="xapp-1-secretvalue")
    with pytest.raises(SettingsError, match="SLACK_WEBHOOK_URL") as caught:
        load_settings(SLACK_WEBHOOK_URL="http://hooks.slack.com/services/T/B/secretvalue")
    assert "secretvalue" not in str(caught.value)
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-1-2-abc",
        SLACK_SIGNING_SECRET="abcdef123456",
        SLACK_API_BASE_URL="http://127.0.0.1:9/api",
        SLACK_WEBHOOK_URL="",
    )
    assert settings.slack_api_base_url == "http://127.0.0.1:9/api/"
    assert settings.slack_webhook_url is None and settings.slack_app_token is None
    assert load_settings().slack_api_base_url == "https://slack.com/api/"
