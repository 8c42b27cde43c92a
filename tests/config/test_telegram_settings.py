"""Telegram settings: optional token, admin ids, webhook URL and secret, hidden secrets."""

from __future__ import annotations

import pytest

from config.settings import DEFAULT_TELEGRAM_API_BASE_URL, SettingsError, load_settings

TOKEN = "123456:ABC-def_GHI"
VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "TELEGRAM_ADMIN_IDS",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_telegram_is_optional():
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_base_url == DEFAULT_TELEGRAM_API_BASE_URL
    assert settings.telegram_admin_ids == frozenset()
    assert settings.telegram_webhook_url is None


def test_the_token_is_a_secret(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f" {TOKEN} ")
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


def test_an_empty_token_means_no_telegram(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    assert load_settings().telegram_bot_token is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1", {1}), ("12345678, 87654321", {12345678, 87654321}), ("5,,6,", {5, 6}), ("", set())],
)
def test_admin_ids_are_parsed(monkeypatch, given, expected):
    monkeypatch.setenv("TELEGRAM_ADMIN_IDS", given)
    assert load_settings().telegram_admin_ids == expected


@pytest.mark.parametrize("given", ["alice", "12;34", "-5", "1.5", "\uff11\uff12"])
def test_garbage_admin_ids_name_the_variable(monkeypatch, given):
    monkeypatch.setenv("TELEGRAM_ADMIN_IDS", given)
    with pytest.raises(SettingsError, match=r"TELEGRAM_ADMIN_IDS: .* is not a Telegram user id"):
        load_settings()


def test_webhook_needs_https_and_a_secret(monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://watch.example.org/telegram/webhook")
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL: needs TELEGRAM_WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "a-good_secret1-of-thirty-two-chars")
    settings = load_settings()
    assert settings.telegram_webhook_secret is not None
    assert (
        settings.telegram_webhook_secret.get_secret_value() == "a-good_secret1-of-thirty-two-chars"
    )
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "http://watch.example.org/telegram/webhook")
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL: Telegram only calls https://"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TELEGRAM_WEBHOOK_SECRET", "has spaces and !"),
        ("TELEGRAM_WEBHOOK_SECRET", "x" * 257),
        ("TELEGRAM_BOT_TOKEN", "not a token"),
    ],
)
def test_bad_secrets_are_named_but_never_shown(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert f"{variable}:" in str(raised.value)
    assert value not in str(raised.value) and "(got (hidden))" in str(raised.value)


def test_api_base_url_for_a_local_server(monkeypatch):
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot")
    assert load_settings().telegram_api_base_url == "http://127.0.0.1:8081/bot"
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "api.telegram.org/bot")
    with pytest.raises(SettingsError, match="TELEGRAM_API_BASE_URL"):
        load_settings()
