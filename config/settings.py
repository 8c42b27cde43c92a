"""Typed settings, read from the environment and `.env` here and nowhere else.

A wrong value fails at start with a message that names the variable and the form it
expects; `load_settings` turns pydantic's report into that message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///untoc-watch.db"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_WATCHER_USER_AGENT = "UNTOC-Watch/0.1 (+https://github.com/untoc-watch/untoc-watch)"
DEFAULT_TELEGRAM_API_BASE_URL = "https://api.telegram.org/bot"
# Variables whose values never appear in an error message.
SECRET_VARIABLES = frozenset(
    {
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_WEBHOOK_URL",
        "SMTP_URL",
        "METRICS_TOKEN",
        "EMAIL_SECRET",
        "CALENDAR_SECRET",
    }
)
_TELEGRAM_TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
# Telegram allows 1 to 256 of these characters; the secret alone stops a forged update
# from an operator's id, so it must be too long to guess.
MIN_WEBHOOK_SECRET = 32
_WEBHOOK_SECRET = re.compile(rf"^[A-Za-z0-9_-]{{{MIN_WEBHOOK_SECRET},256}}$")
_SECRET_HINT = (
    f"{MIN_WEBHOOK_SECRET} to 256 characters from A-Z, a-z, 0-9, _ and -; make one with "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
)
# The password of a URL (user:password@host), masked wherever a setting is shown.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@\s]*(?=@)", re.I)


def mask_password(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return _URL_PASSWORD.sub(r"\g<head>***", text)


DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"
_SLACK_SECRET = re.compile(r"^[A-Za-z0-9]{8,128}$")
# The bearer token of /metrics and /readyz's details: long enough not to be guessed.
MIN_METRICS_TOKEN = 32
_METRICS_TOKEN = re.compile(rf"^[A-Za-z0-9_.~+/=-]{{{MIN_METRICS_TOKEN},256}}$")

# Heroku-style and driverless URLs name the database, not the driver we run it with.
_URL_SCHEMES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class SettingsError(Exception):
    """A setting has a value the service cannot run with; the message says which and why."""


def normalise_database_url(url: str) -> str:
    """Return `url` with the async driver this service uses (`postgres://` is accepted)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _URL_SCHEMES:
        raise ValueError(
            "expected postgresql://user@host:5432/db, postgres://... or sqlite:///path.db"
        )
    return f"{_URL_SCHEMES[scheme]}://{rest}"


@dataclass(frozen=True)
class SmtpRelay:
    """Where email goes: `SMTP_URL` taken apart. The password never enters a message."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpRelay:
    """`smtp://[user:password@]host[:port]` or `smtps://...`; raises ValueError saying why."""

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not an SMTP address ({exc})") from None
    if parts.scheme not in {"smtp", "smtps"}:
        raise ValueError(
            "expected smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465"
        )
    if not parts.hostname:
        raise ValueError("the SMTP address needs a host, e.g. smtp://mail.example.org:587")
    implicit = parts.scheme == "smtps"
    return SmtpRelay(
        host=parts.hostname,
        port=port or (465 if implicit else 587),
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _check_http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// address, e.g. https://watch.example.org")
    return url.rstrip("/")


def _check_user_agent(value: str) -> str:
    value = value.strip()
    if not value or not value.isascii() or not value.isprintable():
        raise ValueError(
            "expected one line of printable ASCII naming the service and a contact URL, "
            f"e.g. {DEFAULT_WATCHER_USER_AGENT}"
        )
    return value


def _check_slack_api_base_url(url: str) -> str:
    return _check_http_url(url) + "/"


def _empty_as_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _parse_admin_ids(value: object) -> object:
    """Telegram user ids as the environment gives them: `12345678,87654321`."""
    if not isinstance(value, str):
        return value
    ids = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()):
            raise ValueError(
                f"{part[:20]!r} is not a Telegram user id; expected numbers separated by "
                "commas, e.g. 12345678,87654321"
            )
        ids.append(int(part))
    return ids


class Settings(BaseSettings):
    """Everything the service can be told from outside its code."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    data_dir: Path | None = Field(default=None, alias="UNTOC_DATA_DIR")
    public_base_url: Annotated[str, AfterValidator(_check_http_url)] = Field(
        default=DEFAULT_PUBLIC_BASE_URL, alias="PUBLIC_BASE_URL"
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "untoc-watch", alias="UNTOC_CACHE_DIR"
    )
    # Signs the report form's tokens and keys its per-address limits. Unset, each web
    # process draws its own at start: fine for one process, not behind a load balancer.
    web_form_secret: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="WEB_FORM_SECRET"
    )
    telegram_bot_username: str | None = Field(
        default=None, alias="TELEGRAM_BOT_USERNAME", pattern=r"^[A-Za-z][A-Za-z0-9_]{4,31}$"
    )
    web_host: str = Field(default="127.0.0.1", alias="WEB_HOST")
    web_port: int = Field(default=8000, ge=1, le=65535, alias="PORT")
    # What one client may ask of the web process: the request line and headers, the body,
    # how long the head may take to arrive, how many connections at once.
    web_max_header_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, alias="WEB_MAX_HEADER_BYTES"
    )
    web_max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=104_857_600, alias="WEB_MAX_BODY_BYTES"
    )
    web_header_timeout: float = Field(default=10, gt=0, le=300, alias="WEB_HEADER_TIMEOUT")
    web_body_timeout: float = Field(default=30, gt=0, le=3600, alias="WEB_BODY_TIMEOUT")
    web_keep_alive: float = Field(default=5, gt=0, le=300, alias="WEB_KEEP_ALIVE")
    web_max_connections: int = Field(default=500, ge=1, le=100_000, alias="WEB_MAX_CONNECTIONS")
    web_shutdown_timeout: float = Field(default=10, ge=0, le=300, alias="WEB_SHUTDOWN_TIMEOUT")
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed ("*" for any).
    forwarded_allow_ips: str = Field(default="127.0.0.1,::1", alias="FORWARDED_ALLOW_IPS")
    # /metrics and the details of /readyz: with a token, for its bearer only; without,
    # for loopback clients only.
    metrics_token: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="METRICS_TOKEN"
    )
    # Seconds /readyz and /metrics reuse their last answer (each one queries the database).
    metrics_cache_seconds: float = Field(default=5, ge=0, le=300, alias="METRICS_CACHE_SECONDS")
    # The watcher refuses pages on loopback and private addresses unless told otherwise.
    watcher_allow_private: bool = Field(default=False, alias="WATCHER_ALLOW_PRIVATE")
    watcher_user_agent: Annotated[str, AfterValidator(_check_user_agent)] = Field(
        default=DEFAULT_WATCHER_USER_AGENT, alias="WATCHER_USER_AGENT"
    )
    watcher_failure_threshold: int = Field(
        default=5, ge=1, le=1000, alias="WATCHER_FAILURE_THRESHOLD"
    )
    # Seconds between two requests to the same host, however many sources it serves.
    watcher_host_delay: float = Field(default=2.0, ge=0, le=60, alias="WATCHER_HOST_DELAY")
    watcher_enabled: bool = Field(default=True, alias="WATCHER_ENABLED")
    # Delivery: how long a claimed alert stays reserved for the worker that claimed it.
    delivery_lease_seconds: float = Field(
        default=120, ge=1, le=3600, alias="DELIVERY_LEASE_SECONDS"
    )
    # Telegram's overall limit is about 30 messages a second; raise it only for a fake server.
    telegram_max_rate: float = Field(default=30, gt=0, le=10_000, alias="TELEGRAM_MAX_RATE")
    # Telegram: without a token the worker runs without the bot.
    telegram_bot_token: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="TELEGRAM_BOT_TOKEN"
    )
    telegram_api_base_url: Annotated[str, AfterValidator(_check_http_url)] = Field(
        default=DEFAULT_TELEGRAM_API_BASE_URL, alias="TELEGRAM_API_BASE_URL"
    )
    telegram_admin_ids: Annotated[frozenset[int], NoDecode, BeforeValidator(_parse_admin_ids)] = (
        Field(default=frozenset(), alias="TELEGRAM_ADMIN_IDS")
    )
    telegram_webhook_secret: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="TELEGRAM_WEBHOOK_SECRET"
    )
    # After the secret, so that its validator can require the secret.
    telegram_webhook_url: Annotated[str | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="TELEGRAM_WEBHOOK_URL"
    )

    # Email: the relay as smtp://user:password@host:587 (STARTTLS when offered) or
    # smtps://...:465 (TLS from the first byte), and the address alerts come from.
    smtp_url: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="SMTP_URL"
    )
    mail_from: Annotated[str | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="MAIL_FROM"
    )
    email_max_rate: float = Field(default=5, gt=0, le=1000, alias="EMAIL_MAX_RATE")
    # Signs the confirmation, manage and unsubscribe links and the forms' CSRF tokens.
    # Unset, the service makes one and keeps it in the database (all processes share it).
    email_secret: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="EMAIL_SECRET"
    )

    # Makes and checks the personal calendar links. Unset, the service makes a key once
    # and keeps it in CALENDAR_KEY_FILE, readable by its owner only: never in the database,
    # so a copy of the database cannot open anybody's calendar. Processes on more than one
    # machine need the same CALENDAR_SECRET.
    calendar_secret: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="CALENDAR_SECRET"
    )
    calendar_key_file: Path = Field(default=Path("untoc-watch.key"), alias="CALENDAR_KEY_FILE")

    @field_validator("email_secret", "calendar_secret")
    @classmethod
    def _secret_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError(f"expected {_SECRET_HINT}")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parse_smtp_url(value.get_secret_value())  # raises, naming the problem
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from_form(cls, value: str | None) -> str | None:
        if value is None:
            return None

        name, address = parseaddr(value)
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise ValueError(
                "expected an address, e.g. alerts@example.org or UNTOC Watch <alerts@example.org>"
            )
        Address(display_name=name, addr_spec=address)  # raises for what no header can hold
        return value.strip()

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _METRICS_TOKEN.match(value.get_secret_value()):
            raise ValueError(
                f"expected {MIN_METRICS_TOKEN} to 256 characters without spaces; make one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TELEGRAM_TOKEN.match(value.get_secret_value().strip()):
            raise ValueError("expected the token @BotFather gave, of the form 123456:ABC-def...")
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_webhook_secret_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.match(value.get_secret_value()):
            raise ValueError(f"expected {_SECRET_HINT}")
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _telegram_webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.strip().startswith("https://"):
            raise ValueError(
                "Telegram only calls https:// addresses, "
                "e.g. https://watch.example.org/telegram/webhook"
            )
        if "telegram_webhook_secret" in info.data and info.data["telegram_webhook_secret"] is None:
            raise ValueError(
                f"needs TELEGRAM_WEBHOOK_SECRET as well ({_SECRET_HINT}), which Telegram "
                "sends back with every update"
            )
        return value.strip()

    # Slack: a bot token runs the app (/untoc, buttons); a webhook alone needs no app.
    slack_bot_token: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="SLACK_BOT_TOKEN"
    )
    slack_signing_secret: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="SLACK_SIGNING_SECRET", validate_default=True
    )
    slack_app_token: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="SLACK_APP_TOKEN"
    )
    slack_api_base_url: Annotated[str, AfterValidator(_check_slack_api_base_url)] = Field(
        default=DEFAULT_SLACK_API_BASE_URL, alias="SLACK_API_BASE_URL"
    )
    slack_webhook_url: Annotated[SecretStr | None, BeforeValidator(_empty_as_none)] = Field(
        default=None, alias="SLACK_WEBHOOK_URL"
    )

    @field_validator("slack_bot_token")
    @classmethod
    def _slack_bot_token_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if not token.startswith("xoxb-") or not token.isascii() or " " in token:
            raise ValueError("expected the app's Bot User OAuth Token, which starts with xoxb-")
        return SecretStr(token)

    @field_validator("slack_signing_secret")
    @classmethod
    def _slack_signing_secret(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None:
            if info.data.get("slack_bot_token") is not None:
                raise ValueError(
                    "SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set: copy the "
                    "Signing Secret from the Slack app's Basic Information page"
                )
            return None
        secret = value.get_secret_value().strip()
        if not _SLACK_SECRET.match(secret):
            raise ValueError("expected the Signing Secret from the app's Basic Information page")
        return SecretStr(secret)

    @field_validator("slack_app_token")
    @classmethod
    def _slack_app_token_form(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if not token.startswith("xapp-") or not token.isascii() or " " in token:
            raise ValueError(
                "expected an app-level token, which starts with xapp- (Basic Information, "
                "App-Level Tokens, scope connections:write)"
            )
        if "slack_bot_token" in info.data and info.data["slack_bot_token"] is None:
            raise ValueError("Socket Mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET too")
        return SecretStr(token)

    @field_validator("slack_webhook_url")
    @classmethod
    def _slack_webhook_url_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        local = url.startswith(("http://127.0.0.1:", "http://localhost:"))
        if not (url.startswith("https://") or local) or " " in url or not url.isascii():
            raise ValueError(
                "expected an incoming-webhook URL, https://hooks.slack.com/services/T.../B.../..."
            )
        return SecretStr(url)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("data_dir")
    @classmethod
    def _data_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory; create it or unset the variable")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read settings, raising `SettingsError` that names the bad variable and the fix."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = ".".join(str(part) for part in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            shown = (
                "(hidden)"
                if variable in SECRET_VARIABLES
                else mask_password(repr(error.get("input")))
            )
            problems.append(f"{variable}: {message} (got {shown})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
