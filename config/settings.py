"""Typed settings, read from the environment and `.env` here and nowhere else.

A wrong value fails at start with a message that names the variable and the form it
expects; `load_settings` turns pydantic's report into that message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///untoc-watch.db"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_WATCHER_USER_AGENT = "UNTOC-Watch/0.1 (+https://github.com/untoc-watch/untoc-watch)"

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
    telegram_bot_username: str | None = Field(
        default=None, alias="TELEGRAM_BOT_USERNAME", pattern=r"^[A-Za-z][A-Za-z0-9_]{4,31}$"
    )
    web_host: str = Field(default="127.0.0.1", alias="WEB_HOST")
    web_port: int = Field(default=8000, ge=1, le=65535, alias="PORT")
    # The watcher refuses pages on loopback and private addresses unless told otherwise.
    watcher_allow_private: bool = Field(default=False, alias="WATCHER_ALLOW_PRIVATE")
    watcher_user_agent: Annotated[str, AfterValidator(_check_user_agent)] = Field(
        default=DEFAULT_WATCHER_USER_AGENT, alias="WATCHER_USER_AGENT"
    )
    watcher_failure_threshold: int = Field(
        default=5, ge=1, le=1000, alias="WATCHER_FAILURE_THRESHOLD"
    )

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
            problems.append(f"{variable}: {message} (got {error.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
