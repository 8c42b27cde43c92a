"""The `untoc-watch` command line: what operators and the Procfile run.

Imports are kept inside the commands so that `untoc-watch upcoming` answers quickly:
a command pays only for the modules it uses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bot.cli._common import (
    CountryOption,
    country_code,
    evaluation_moment,
    fail,
    read_dataset,
    read_settings,
)

if TYPE_CHECKING:
    from bot.db.store import Store
    from config.dataset import Dataset
    from config.settings import Settings
    from schedulers.timeline import Deadline

app = typer.Typer(
    name="untoc-watch",
    help="Deadlines of the UNTOC Implementation Review Mechanism, for civil society.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _facts(settings: Settings, dataset: Dataset) -> Dataset:
    """The dataset with the facts recorded in the database applied."""
    import asyncio

    from bot.db.store import read_recorded_facts

    recorded, warning = asyncio.run(read_recorded_facts(settings.database_url))
    if warning:
        typer.echo(f"note: {warning}", err=True)
    return recorded.apply(dataset)


def with_expected_deadlines(dataset: Dataset, now: dt.datetime) -> list[Deadline]:
    """Every deadline of `dataset` at `now`, the expected ones among them."""
    from bot.publishing.publisher import with_expected

    return with_expected(dataset, now)


def _deadlines(settings: Settings, dataset: Dataset, now: dt.datetime) -> list[Deadline]:
    """Every deadline, with the facts recorded in the database applied."""
    return with_expected_deadlines(_facts(settings, dataset), now)


def _print(deadlines: list[Deadline], output: OutputFormat, title: str) -> None:
    from bot.text.render import deadline_to_dict

    if output is OutputFormat.json:
        json.dump(
            [deadline_to_dict(d) for d in deadlines], sys.stdout, ensure_ascii=False, indent=2
        )
        sys.stdout.write("\n")
        return
    from bot.text.console import deadline_table, make_console

    make_console().print(deadline_table(deadlines, title))


AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Evaluate at this date (YYYY-MM-DD) instead of now.")
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")]


@app.command()
def upcoming(
    country: CountryOption = None,
    cluster: Annotated[list[int] | None, typer.Option(help="Cluster number; repeatable.")] = None,
    kind: Annotated[
        list[str] | None, typer.Option(help="milestone, registration or event; repeatable.")
    ] = None,
    theme: Annotated[list[str] | None, typer.Option(help="tip, som, firearms, ...")] = None,
    days: Annotated[int, typer.Option(min=0, max=3650, help="How far ahead to look.")] = 90,
    overdue: Annotated[bool, typer.Option("--overdue", help="Include overdue milestones.")] = False,
    as_of: AsOfOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Deadlines still open in the next DAYS days, soonest first."""
    from config.dataset import THEMES
    from schedulers.timeline import KINDS, Selection
    from schedulers.timeline import upcoming as select_upcoming

    settings = read_settings()
    dataset = read_dataset(settings)
    for value in kind or []:
        if value not in KINDS:
            fail(f"--kind {value!r} is unknown; use one of: {', '.join(KINDS)}")
    for value in theme or []:
        if value not in THEMES:
            fail(f"--theme {value!r} is unknown; use one of: {', '.join(THEMES)}")
    for number in cluster or []:
        if number not in dataset.clusters:
            fail(f"--cluster {number} is unknown; clusters are {sorted(dataset.clusters)}")
    selection = Selection(
        countries={country_code(c, dataset) for c in country or []},
        clusters=set(cluster or []),
        kinds=set(kind or []),
        themes=set(theme or []),
    )
    now = evaluation_moment(as_of)
    found = select_upcoming(
        _deadlines(settings, dataset, now), now, days, selection, include_overdue=overdue
    )
    _print(found, output, f"Open deadlines in the next {days} days (as of {now:%Y-%m-%d})")


@app.command()
def timeline(
    country: Annotated[str, typer.Argument(help="ISO code or English name.")],
    as_of: AsOfOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """One State party's review: its steps with their status, the later clusters as
    planned, or what is known when its group is not."""
    from config.countries import country_name
    from schedulers.review import country_review
    from schedulers.timeline import MECHANISM_ZONE, country_timeline

    settings = read_settings()
    dataset = read_dataset(settings)
    code = country_code(country, dataset)
    now = evaluation_moment(as_of)
    facts = _facts(settings, dataset)
    found = country_timeline(with_expected_deadlines(facts, now), code)
    if output is OutputFormat.json:
        _print(found, output, "")
        return
    from bot.text.console import known_lines, make_console, planned_table

    review = country_review(facts, code, now.astimezone(MECHANISM_ZONE).date())
    console = make_console()
    name = f"{country_name(code)} ({code})"
    if found:
        _print(found, output, f"{name}: review milestones as of {now:%Y-%m-%d}")
        console.print('"no news since": the date passed and nobody reported the step done or late.')
    if review.phases:
        console.print(planned_table(review.phases, f"{name}: the later clusters, as planned"))
    if review.known is not None:
        for line in known_lines(review.known, name):
            console.print(line)
        console.print(
            "Know its group or a date of its review? Tell the operators, with a source; they "
            "record it in a file in UNTOC_DATA_DIR (groups.members or review_starts)."
        )


@app.command()
def record(
    country: Annotated[str, typer.Argument(help="ISO code or English name.")],
    milestone: Annotated[str, typer.Argument(help="Milestone id, e.g. self-assessment.")],
    date: Annotated[str, typer.Argument(help="The actual date, YYYY-MM-DD.")],
    source: Annotated[str, typer.Option(help="Where this fact comes from (URL or document).")],
    cluster: Annotated[int, typer.Option(help="Cluster number.")] = 1,
    by: Annotated[str | None, typer.Option(help="Who records it.")] = None,
) -> None:
    """Record the actual date of a review step; chained deadlines move accordingly."""
    import asyncio
    import difflib

    from bot.db.store import StoreNotReady, record_milestone_date
    from schedulers.timeline import MECHANISM_ZONE, country_timeline

    settings = read_settings()
    dataset = read_dataset(settings)
    code = country_code(country, dataset)
    if milestone not in dataset.milestones:
        close = difflib.get_close_matches(milestone, list(dataset.milestones), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        fail(f"unknown milestone {milestone!r}; {hint}known: {', '.join(dataset.milestones)}")
    if cluster not in dataset.clusters:
        fail(f"--cluster {cluster} is unknown; clusters are {sorted(dataset.clusters)}")
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        fail(f"{date!r} is not a date; use YYYY-MM-DD, e.g. 2022-04-30")
    now = dt.datetime.now(dt.UTC)
    if day > now.astimezone(MECHANISM_ZONE).date():
        fail(f"{day} is in the future; record a step only once it has happened")
    if not source.strip():
        fail("--source is empty; give the URL or document that reports this date")
    try:
        asyncio.run(
            record_milestone_date(
                settings.database_url,
                country=code,
                cluster=cluster,
                milestone=milestone,
                date=day,
                source=source.strip(),
                recorded_by=by,
                now=now,
            )
        )
    except StoreNotReady as exc:
        fail(str(exc), code=1)
    typer.echo(f"Recorded: {code} cluster {cluster} {milestone} completed on {day}.")
    found = [
        d
        for d in country_timeline(_deadlines(settings, dataset, now), code)
        if d.cluster == cluster
    ]
    if found:
        _print(found, OutputFormat.table, f"{code} cluster {cluster} now")


@app.command("check-config")
def check_config() -> None:
    """Validate the settings and the dataset, and print a summary."""
    import asyncio

    from bot.db.store import database_status
    from bot.text.console import make_console
    from schedulers.timeline import compute_deadlines

    settings = read_settings()
    dataset = read_dataset(settings)
    deadlines = compute_deadlines(dataset, dt.datetime.now(dt.UTC))
    known_group = sum(1 for code in dataset.states if dataset.group_of(code))
    console = make_console()
    console.print("[bold]Settings[/bold] OK")
    console.print(f"  database: {_masked(settings.database_url)}")
    console.print(f"  public base URL: {settings.public_base_url}")
    console.print(f"  extra data directory: {settings.data_dir or '(none)'}")
    console.print("[bold]Dataset[/bold] OK")
    console.print(f"  files: {len(dataset.files)}")
    console.print(
        f"  States parties: {len(dataset.states)} ({known_group} with a known group); "
        f"non-parties listed: {len(dataset.non_parties)}"
    )
    console.print(
        f"  clusters: {len(dataset.clusters)}, milestone rules: {len(dataset.milestones)}, "
        f"events: {len(dataset.events)}, watched sources: {len(dataset.sources)}"
    )
    console.print(f"  deadlines computed: {len(deadlines)}")
    console.print(f"[bold]Database[/bold] {asyncio.run(database_status(settings.database_url))}")


def _masked(url: str) -> str:
    from bot.db.engine import masked_url

    return masked_url(url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations up to the newest."""
    import asyncio

    from bot.db.migrate import upgrade

    settings = read_settings()
    try:
        asyncio.run(upgrade(settings.database_url))
    except OSError as exc:
        fail(f"cannot reach the database at {_masked(settings.database_url)}: {exc}", code=1)
    typer.echo(f"Database at {_masked(settings.database_url)} is up to date.")
    if settings.calendar_secret is None and not settings.database_url.startswith("sqlite"):
        typer.echo(
            "warning: CALENDAR_SECRET is not set, so each machine makes a calendar key of its "
            f"own in {settings.calendar_key_file}, and a process whose key differs from the "
            "one in use refuses to start; set the same CALENDAR_SECRET for every process",
            err=True,
        )


@db_app.command("forget-calendar-key")
def db_forget_calendar_key(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False,
) -> None:
    """Accept a new calendar key: after a lost key file, or to change CALENDAR_SECRET.

    Stop every web and worker process first; the next one to start records its key. The
    personal links given out so far stop working (those made before nonces go on).
    """
    if not yes:
        typer.confirm(
            "Every personal calendar link given out so far will stop working. Go on?",
            abort=True,
        )
    forgotten = _with_store(lambda store: store.forget_calendar_key())
    if forgotten:
        typer.echo(
            "The calendar key in use is forgotten: the next process to start records its "
            "own. Links made with the old key stop working; links made before nonces still work."
        )
    else:
        typer.echo("No calendar key was recorded yet: the next process to start records its own.")


@db_app.command("forget-old-calendar-links")
def db_forget_old_calendar_links(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False,
) -> None:
    """End the calendar links made before nonces (kept as hashes since migration 0005).

    For when a backup or export from before it may have leaked.
    """
    if not yes:
        typer.confirm(
            "Calendar apps subscribed to a link made before nonces will stop updating. Go on?",
            abort=True,
        )
    count = _with_store(lambda store: store.forget_old_calendar_links())
    typer.echo(
        f"{count} link(s) made before nonces no longer open; /calendar on the bots shows "
        "each subscriber its current one."
    )


T = TypeVar("T")


def _with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    """`work` on the configured database, or exit naming what is missing."""
    import asyncio

    from bot.db.store import MIGRATE_HINT, Store, StoreNotReady, sqlite_path

    settings = read_settings()
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        fail(f"no database yet at {path}; {MIGRATE_HINT}", code=1)

    async def run() -> T:
        store = await Store.open(settings.database_url)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreNotReady as exc:
        fail(str(exc), code=1)
    except OSError as exc:
        fail(f"cannot reach the database at {_masked(settings.database_url)}: {exc}", code=1)


@app.command()
def run() -> None:
    """Web and worker together in one process: what `make run` starts."""
    from bot.main import run_service

    run_service(read_settings(), web=True, worker=True)


@app.command()
def web(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default $PORT).")] = None,
) -> None:
    """The web process: feeds, page, API and health (the Procfile's `web`)."""
    from bot.main import run_service

    run_service(read_settings(), web=True, worker=False, host=host, port=port)


@app.command()
def worker() -> None:
    """The worker process: scheduler, watcher and deliveries (the Procfile's `worker`)."""
    from bot.main import run_service

    run_service(read_settings(), web=False, worker=True)


def _register_commands() -> None:
    """Commands that live in modules of their own: alerts, the watcher, the services."""
    from bot.cli import alerts, email, extract, proposals, slack, sources, telegram

    alerts.register(app)
    app.add_typer(sources.sources_app, name="sources")
    app.add_typer(proposals.proposals_app, name="proposals")
    app.command()(extract.extract)
    app.add_typer(slack.slack_app, name="slack")
    app.add_typer(telegram.telegram_app, name="telegram")
    app.add_typer(email.email_app, name="email")


_register_commands()


def main() -> None:
    """Console-script entry point."""
    # We use no pydantic plugins; looking for them scans every installed package's
    # metadata, a noticeable part of a short command's start-up.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app()
