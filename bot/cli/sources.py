"""The watcher's sources: `sources list` (their health) and `sources check` (poll now).

Only typer and `_common` (itself light) are imported at module level: `bot/cli/app.py`
registers these commands, and every `untoc-watch` invocation would otherwise pay for
httpx, Beautiful Soup and SQLAlchemy. Each command imports what it uses.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._common import (
    Format,
    FormatOption,
    dump,
    fail,
    iso,
    known_source,
    read_context,
    try_open_store,
)

if TYPE_CHECKING:
    from config.dataset import Dataset
    from config.settings import Settings
    from feeds.ledger import SourceState
    from feeds.watcher import PollOutcome

sources_app = typer.Typer(help="The pages and feeds the watcher polls.", no_args_is_help=True)


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}Z" if moment is not None else "-"


@sources_app.command("list")
def sources_list(output: FormatOption = Format.table) -> None:
    """Every watched source with its health, last poll and next poll."""
    import asyncio

    settings, dataset = read_context()

    async def states() -> tuple[dict[str, SourceState], str | None]:
        store, note = await try_open_store(settings.database_url)
        if store is None:
            return {}, note
        try:
            return await store.source_states(), None
        finally:
            await store.close()

    found, note = asyncio.run(states())
    if note:
        typer.echo(f"note: {note}; showing the configuration only", err=True)
    rows = []
    for source in dataset.sources.values():
        state = found.get(source.id)
        rows.append(
            {
                "id": source.id,
                "kind": source.kind,
                "url": source.url,
                "interval_minutes": source.interval_minutes,
                "selector": source.selector,
                "themes": list(source.themes),
                "health": state.health if state else "not polled yet",
                "last_polled_at": iso(state.last_polled_at if state else None),
                "last_changed_at": iso(state.last_changed_at if state else None),
                "next_poll_at": iso(state.next_poll_at if state else None),
                "failures": state.consecutive_failures if state else 0,
                "last_error": state.last_error if state else None,
            }
        )
    if output is Format.json:
        dump(rows)
        return
    from rich.table import Table

    from bot.text.console import make_console

    table = Table(title="Watched sources", title_justify="left")
    table.add_column("source", overflow="fold", min_width=24)
    table.add_column("every", no_wrap=True)
    table.add_column("health", overflow="fold")
    for column in ("last poll", "last change", "next poll"):
        table.add_column(column, no_wrap=True)
    for source in dataset.sources.values():
        state = found.get(source.id)
        if state is None:
            health = "not polled yet"
        elif state.consecutive_failures:
            label = "retrying" if state.health == "ok" else state.health
            health = f"{label}: {state.consecutive_failures} failed in a row ({state.last_error})"
        else:
            health = state.health
        table.add_row(
            f"{source.id} ({source.kind})\n[dim]{source.url}[/dim]",
            f"{source.interval_minutes} min",
            health,
            _when(state.last_polled_at if state else None),
            _when(state.last_changed_at if state else None),
            _when(state.next_poll_at if state else None),
        )
    make_console().print(table)


@sources_app.command("check")
def sources_check(
    source_id: Annotated[
        str | None, typer.Argument(help="One source id; all when left out.")
    ] = None,
    output: FormatOption = Format.table,
) -> None:
    """Fetch sources once now, record what changed, and show the result."""
    import asyncio

    settings, dataset = read_context()
    chosen = [known_source(dataset, source_id).id] if source_id else list(dataset.sources)
    if not chosen:
        fail("no sources are configured; add some to a YAML file in UNTOC_DATA_DIR")
    outcomes, note = asyncio.run(_check(settings, dataset, chosen, show_progress=True))
    if note:
        typer.echo(f"note: {note}; this check was a dry run, nothing was recorded", err=True)
    if output is Format.json:
        dump([_outcome_row(o) for o in outcomes])
    else:
        _print_outcomes(outcomes)
    if any(o.result == "failed" for o in outcomes):
        raise typer.Exit(1)


async def _check(
    settings: Settings, dataset: Dataset, chosen: list[str], *, show_progress: bool
) -> tuple[list[PollOutcome], str | None]:
    import logging

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bot.delivery.watch import build_watcher, utc_now
    from feeds.fetch import http_client
    from feeds.ledger import MemoryLedger, WatchLedger
    from feeds.reading import ProcessReader

    # The table shows every failure; the watcher's own log lines would repeat them.
    logging.getLogger("untoc_watch.watcher").setLevel(logging.ERROR)
    store, note = await try_open_store(settings.database_url)
    ledger: WatchLedger = store if store is not None else MemoryLedger()
    progress = Progress(
        TextColumn("[bold]checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
        disable=not show_progress,
    )
    try:
        async with http_client() as client, ProcessReader() as reader:
            watcher = build_watcher(settings, dataset, ledger, client, reader)
            with progress:
                task = progress.add_task("", total=len(chosen))

                def done(outcome: PollOutcome) -> None:
                    progress.update(
                        task, advance=1, description=f"{outcome.source_id}: {outcome.result}"
                    )

                outcomes = await watcher.check(chosen, utc_now(), done)
    finally:
        if store is not None:
            await store.close()
    return outcomes, note


def _outcome_row(outcome: PollOutcome) -> dict[str, object]:
    return {
        "id": outcome.source_id,
        "result": outcome.result,
        "message": outcome.message,
        "status_code": outcome.status_code,
        "findings": outcome.findings,
        "new_proposals": outcome.proposals,
        "seconds": round(outcome.elapsed, 3),
        "next_poll_at": outcome.next_poll_at.isoformat(),
    }


def _print_outcomes(outcomes: list[PollOutcome]) -> None:
    from rich.table import Table

    from bot.text.console import make_console

    styles = {"failed": "bold red", "selector_missing": "yellow", "changed": "green"}
    table = Table(title="Sources checked", title_justify="left")
    for column in ("id", "result", "HTTP", "findings", "new proposals", "time"):
        table.add_column(column, no_wrap=True)
    table.add_column("details")
    for outcome in outcomes:
        style = styles.get(outcome.result, "")
        result = f"[{style}]{outcome.result}[/{style}]" if style else outcome.result
        table.add_row(
            outcome.source_id,
            result,
            str(outcome.status_code or "-"),
            str(outcome.findings),
            str(outcome.proposals),
            f"{outcome.elapsed:.2f} s",
            outcome.message,
        )
    make_console().print(table)
    if any(o.proposals for o in outcomes):
        typer.echo("Review them with `untoc-watch proposals list`.")
