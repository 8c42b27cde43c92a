"""What the command groups share: settings, the dataset, countries, the moment, failing.

The watcher's three command modules (sources, extract, proposals) also share the output
format, a source looked up by id and a store that may be missing.

Imports stay inside the functions, like everywhere in the CLI, so a command pays only for
the modules it uses.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

# The options several commands share: one wording, one spelling.
CountryOption = Annotated[
    list[str] | None, typer.Option("--country", "-c", help="ISO code or English name; repeatable.")
]
ThemeOption = Annotated[
    list[str] | None, typer.Option("--theme", help="tip, som, firearms, ...; repeatable.")
]
LanguageOption = Annotated[
    str, typer.Option("--lang", help="Language of the alerts: ar, en, es, fr, ru or zh.")
]

if TYPE_CHECKING:
    from bot.db.store import Store
    from config.dataset import Dataset, Source
    from config.settings import Settings


class Format(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]


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


def read_calendar_key(settings: Settings) -> bytes:
    """The key of the personal calendar links, or exit 2 naming the file and the fix."""
    from config.keys import KeyFileError, calendar_key

    try:
        return calendar_key(settings)
    except (KeyFileError, OSError) as exc:
        fail(f"the calendar key cannot be read: {exc}")


def read_dataset(settings: Settings) -> Dataset:
    from config.dataset_loader import DatasetError, load_dataset

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


def read_context() -> tuple[Settings, Dataset]:
    """The settings and the dataset they point to, or a clear error."""
    settings = read_settings()
    return settings, read_dataset(settings)


def known_source(dataset: Dataset, source_id: str) -> Source:
    """The watched source with this id, or an error naming the closest one."""
    import difflib

    if source_id not in dataset.sources:
        close = difflib.get_close_matches(source_id, list(dataset.sources), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        fail(
            f"unknown source {source_id!r}; {hint}known: {', '.join(dataset.sources)} "
            "(`untoc-watch sources list`; add sources in a YAML file in UNTOC_DATA_DIR)"
        )
    return dataset.sources[source_id]


async def try_open_store(url: str) -> tuple[Store | None, str | None]:
    """The store, or None and why not (a missing database only makes a check a dry run)."""
    from bot.db.store import MIGRATE_HINT, Store, StoreNotReady, sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None, f"no database yet at {path}; {MIGRATE_HINT}"
    try:
        return await Store.open(url), None
    except StoreNotReady as exc:
        return None, str(exc)


def iso(moment: dt.datetime | None) -> str | None:
    """A moment for JSON output; None stays None."""
    return moment.isoformat() if moment is not None else None


def dump(data: object) -> None:
    """`data` as indented JSON on standard output, for `--format json`."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
