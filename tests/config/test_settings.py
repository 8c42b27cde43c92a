"""Settings: defaults, URL normalisation and errors that name the variable."""

from __future__ import annotations

import pytest

from config.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "UNTOC_DATA_DIR", "PUBLIC_BASE_URL", "PORT", "WEB_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_run_on_sqlite_without_any_account():
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.data_dir is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/app", "postgresql+asyncpg://u:p@db.example:5432/app"),
        ("postgresql://u@localhost/app", "postgresql+asyncpg://u@localhost/app"),
        ("sqlite:///data/watch.db", "sqlite+aiosqlite:///data/watch.db"),
    ],
)
def test_database_urls_are_normalised(monkeypatch, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings().database_url == expected


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=postgres://x@h/db\n")
    assert load_settings().database_url == "postgresql+asyncpg://x@h/db"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("DATABASE_URL", "mysql://x@h/db", "postgresql://"),
        ("PORT", "eighty", "PORT"),
        ("PUBLIC_BASE_URL", "watch.example.org", "http://"),
        ("UNTOC_DATA_DIR", "/no/such/dir", "not a directory"),
    ],
)
def test_a_wrong_value_names_the_variable_and_the_expected_form(
    monkeypatch, variable, value, words
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message
    assert words in message
    assert value in message


@pytest.mark.parametrize("secret", ["a", "s3cret", "x" * 31])
def test_a_webhook_secret_shorter_than_32_characters_is_refused(secret):
    with pytest.raises(SettingsError, match="32 to 256 characters") as raised:
        load_settings(TELEGRAM_WEBHOOK_SECRET=secret)
    assert "(got (hidden))" in str(raised.value)
    assert load_settings(TELEGRAM_WEBHOOK_SECRET="x" * 32).telegram_webhook_secret is not None


def test_a_database_password_is_never_shown_in_a_settings_error():
    with pytest.raises(SettingsError) as raised:
        load_settings(DATABASE_URL="mysql://ana:hunter2-secret@db.example.org/untoc")
    assert "hunter2" not in str(raised.value)
    assert "mysql://ana:***@db.example.org/untoc" in str(raised.value)


def test_an_smtp_address_is_read_and_its_password_never_shown():
    from config.settings import parse_smtp_url

    settings = load_settings(
        SMTP_URL="smtps://ana%40ngo.org:p%3Ass@mail.example.org", MAIL_FROM="alerts@example.org"
    )
    assert settings.smtp_url is not None
    relay = parse_smtp_url(settings.smtp_url.get_secret_value())
    assert (relay.host, relay.port, relay.implicit_tls) == ("mail.example.org", 465, True)
    assert (relay.username, relay.password) == ("ana@ngo.org", "p:ss")
    assert "p:ss" not in repr(relay)
    with pytest.raises(SettingsError, match=r"SMTP_URL: expected smtp://.*\(got \(hidden\)\)"):
        load_settings(SMTP_URL="https://ana:secret@mail.example.org")
    with pytest.raises(SettingsError, match="MAIL_FROM: expected an address"):
        load_settings(MAIL_FROM="not an address")
