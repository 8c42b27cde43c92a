"""What every command group shares: settings, the dataset, countries, the moment, failing.

Imports stay inside the functions, like everywhere in the CLI, so a command pays only for
the modules it uses.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from config.dataset import Dataset
    from config.settings import Settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error (what is wrong and how to fix it) and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def read_settings() -> Settings:
    from config.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def read_dataset(settings: Settings) -> Dataset:
    from config.dataset import DatasetError, load_dataset

    try:
        return load_dataset(settings.data_dir, cache_dir=settings.cache_dir)
    except DatasetError as exc:
        fail(str(exc))


def evaluation_moment(as_of: str | None) -> dt.datetime:
    """The moment to evaluate at: a date means the start of that day in Vienna."""
    from schedulers.timeline import MECHANISM_ZONE

    if as_of is None:
        return dt.datetime.now(dt.UTC)
    try:
        if len(as_of) == 10:
            day = dt.date.fromisoformat(as_of)
            return dt.datetime.combine(day, dt.time(0), tzinfo=MECHANISM_ZONE)
        moment = dt.datetime.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD or an ISO 8601 datetime")
    if moment.tzinfo is None:
        fail(f"--as-of {as_of!r} has no offset; add one, e.g. {as_of}+01:00, or give a date")
    return moment


def country_code(text: str, dataset: Dataset) -> str:
    from config.countries import UnknownCountry, resolve_country

    try:
        return resolve_country(text, dataset.states, dataset.aliases)
    except UnknownCountry as exc:
        fail(f"{exc}. Countries are ISO codes (AT) or English names (Austria).")
