"""The watcher's commands: `sources list|check`, `extract`, and `proposals list|approve|reject`.

Only typer is imported at module level: `bot/cli/app.py` registers these commands, and
every `untoc-watch` invocation would otherwise pay for httpx, Beautiful Soup and
SQLAlchemy. Each command imports what it uses.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from bot.db.models import Proposal
    from bot.db.store import Store
    from config.dataset import Dataset, Source
    from config.settings import Settings
    from feeds.extract import Finding
    from feeds.watcher import PollOutcome, SourceState

sources_app = typer.Typer(help="The pages and feeds the watcher polls.", no_args_is_help=True)
proposals_app = typer.Typer(
    help="Dates the watcher read on pages, waiting for an operator's decision.",
    no_args_is_help=True,
)


class Format(StrEnum):
    table = "table"
    json = "json"


class DocumentKind(StrEnum):
    html = "html"
    rss = "rss"
    atom = "atom"
    ics = "ics"


class ProposalState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    all = "all"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]
# Ids are 64-bit in the database; a larger number is a usage error, not a crash.
ProposalId = Annotated[
    int, typer.Argument(help="The id `proposals list` shows.", min=1, max=2**63 - 1)
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who decides (kept with it).")]


def _fail(message: str, code: int = 2) -> NoReturn:
    from bot.cli._common import fail

    fail(message, code)


def _context() -> tuple[Settings, Dataset]:
    from bot.cli._common import read_dataset, read_settings

    settings = read_settings()
    return settings, read_dataset(settings)


def _source(dataset: Dataset, source_id: str) -> Source:
    import difflib

    if source_id not in dataset.sources:
        close = difflib.get_close_matches(source_id, list(dataset.sources), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        _fail(
            f"unknown source {source_id!r}; {hint}known: {', '.join(dataset.sources)} "
            "(`untoc-watch sources list`; add sources in a YAML file in UNTOC_DATA_DIR)"
        )
    return dataset.sources[source_id]


async def _open_store(url: str) -> tuple[Store | None, str | None]:
    """The store, or None and why not (a missing database only makes a check a dry run)."""
    from bot.db.store import MIGRATE_HINT, Store, StoreNotReady, sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None, f"no database yet at {path}; {MIGRATE_HINT}"
    try:
        return await Store.open(url), None
    except StoreNotReady as exc:
        return None, str(exc)


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}Z" if moment is not None else "-"


@sources_app.command("list")
def sources_list(output: FormatOption = Format.table) -> None:
    """Every watched source with its health, last poll and next poll."""
    import asyncio

    settings, dataset = _context()

    async def states() -> tuple[dict[str, SourceState], str | None]:
        store, note = await _open_store(settings.database_url)
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
                "last_polled_at": _iso(state.last_polled_at if state else None),
                "last_changed_at": _iso(state.last_changed_at if state else None),
                "next_poll_at": _iso(state.next_poll_at if state else None),
                "failures": state.consecutive_failures if state else 0,
                "last_error": state.last_error if state else None,
            }
        )
    if output is Format.json:
        _dump(rows)
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


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _dump(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


@sources_app.command("check")
def sources_check(
    source_id: Annotated[
        str | None, typer.Argument(help="One source id; all when left out.")
    ] = None,
    output: FormatOption = Format.table,
) -> None:
    """Fetch sources once now, record what changed, and show the result."""
    import asyncio

    settings, dataset = _context()
    chosen = [_source(dataset, source_id).id] if source_id else list(dataset.sources)
    if not chosen:
        _fail("no sources are configured; add some to a YAML file in UNTOC_DATA_DIR")
    outcomes, note = asyncio.run(_check(settings, dataset, chosen, show_progress=True))
    if note:
        typer.echo(f"note: {note}; this check was a dry run, nothing was recorded", err=True)
    if output is Format.json:
        _dump([_outcome_row(o) for o in outcomes])
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
    from feeds.reading import ProcessReader
    from feeds.watcher import MemoryLedger, WatchLedger

    # The table shows every failure; the watcher's own log lines would repeat them.
    logging.getLogger("untoc_watch.watcher").setLevel(logging.ERROR)
    store, note = await _open_store(settings.database_url)
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


def extract(
    location: Annotated[str, typer.Argument(help="A saved page or feed, or an http(s) URL.")],
    output: FormatOption = Format.table,
    source_id: Annotated[
        str | None, typer.Option("--source", help="Read it as this source (selector, ignore).")
    ] = None,
    selector: Annotated[str | None, typer.Option(help="CSS selector of the part to read.")] = None,
    kind: Annotated[DocumentKind | None, typer.Option(help="html, rss, atom or ics.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date for dates without a year.")
    ] = None,
    text: Annotated[bool, typer.Option("--text", help="Also print the normalised text.")] = False,
) -> None:
    """Show what the watcher would read on a page: its text, events and deadlines."""
    from bot.cli._common import evaluation_moment

    settings, dataset = _context()
    source = _source(dataset, source_id) if source_id else None
    chosen_kind = kind.value if kind else source.kind if source else _kind_of(location)
    chosen_selector = selector or (source.selector if source else None)
    if chosen_selector:
        import soupsieve

        try:
            soupsieve.compile(chosen_selector)
        except soupsieve.SelectorSyntaxError as exc:
            _fail(
                f"--selector {chosen_selector!r} is not a CSS selector: {str(exc).splitlines()[0]}"
            )
    body, content_type, url = _load(location, settings)
    findings, lines, matched = _read(
        chosen_kind, body, content_type, chosen_selector, source, url, evaluation_moment(as_of)
    )
    from feeds.proposals import draft_proposal

    verdicts = [
        _verdict(draft_proposal(f, dataset.events, url=url, source_id=None)) for f in findings
    ]
    if output is Format.json:
        _dump(
            {
                "url": url,
                "kind": chosen_kind,
                "selector": chosen_selector,
                "selector_matched": matched,
                "lines": list(lines) if text else len(lines),
                "findings": [
                    {**_finding_row(f), "proposal": verdict}
                    for f, verdict in zip(findings, verdicts, strict=True)
                ],
            }
        )
        return
    _print_findings(findings, verdicts, lines, matched, chosen_selector, show_text=text)


def _kind_of(location: str) -> str:
    name = location.lower().split("?", 1)[0]
    if name.endswith(".ics"):
        return "ics"
    if name.endswith((".rss", ".xml")):
        return "rss"
    if name.endswith(".atom"):
        return "atom"
    return "html"


def _load(location: str, settings: Settings) -> tuple[bytes, str | None, str]:
    """The bytes of a file or of a URL fetched once with the watcher's own safeguards."""
    from pathlib import Path

    if location.startswith(("http://", "https://")):
        import asyncio

        from feeds.fetch import AddressPolicy, Fetcher, FetchError, http_client

        async def fetch() -> tuple[bytes, str | None, str]:
            async with http_client() as client:
                fetcher = Fetcher(
                    client,
                    user_agent=settings.watcher_user_agent,
                    policy=AddressPolicy(allow_private=settings.watcher_allow_private),
                )
                result = await fetcher.fetch(location)
                return result.body, result.content_type, result.url

        try:
            return asyncio.run(fetch())
        except FetchError as exc:
            _fail(f"cannot fetch {location}: {exc}", code=1)
    if "://" in location:
        _fail(f"{location!r}: only http:// and https:// addresses, or a file path, can be read")
    path = Path(location)
    try:
        return path.read_bytes(), None, path.resolve().as_uri()
    except OSError as exc:
        _fail(f"cannot read {location}: {exc.strerror}; give a saved page or an http(s) URL")


def _read(
    kind: str,
    body: bytes,
    content_type: str | None,
    selector: str | None,
    source: Source | None,
    url: str,
    now: dt.datetime,
) -> tuple[list[Finding], tuple[str, ...], bool | None]:
    from feeds.extract import extract_findings
    from feeds.formats import UnreadableDocument, read_document
    from schedulers.timeline import MECHANISM_ZONE

    try:
        document = read_document(
            kind,  # type: ignore[arg-type]
            body,
            content_type,
            selector=selector,
            ignore=source.ignore if source else (),
        )
    except UnreadableDocument as exc:
        _fail(f"{exc}; check --kind (html, rss, atom or ics)", code=1)
    reference = now.astimezone(MECHANISM_ZONE).date()
    findings = list(document.findings)
    if document.has_prose:
        findings += extract_findings(document.lines, reference, url=url)
    return findings, document.lines, document.selector_matched


def _verdict(draft: Any) -> str:
    if draft is None:
        return "already known"
    if draft.target_id:
        return f"{draft.kind} of {draft.target_id}: {draft.summary.split(': ', 1)[-1]}"
    return f"new {draft.kind} ({draft.event.id})"


def _finding_row(finding: Finding) -> dict[str, object]:
    closing = finding.closing
    return {
        "kind": finding.kind,
        "title": finding.title,
        "themes": list(finding.themes),
        "start": finding.start.isoformat() if finding.start else None,
        "end": finding.end.isoformat() if finding.end else None,
        "start_time": finding.start_time.strftime("%H:%M") if finding.start_time else None,
        "end_time": finding.end_time.strftime("%H:%M") if finding.end_time else None,
        "zone": finding.zone,
        "deadline": (
            {
                "date": closing.day.isoformat(),
                "time": closing.time_text,
                "zone": closing.zone,
                "instant": closing.instant.isoformat().replace("+00:00", "Z"),
            }
            if closing
            else None
        ),
        "cancelled": finding.cancelled,
        "certainty": finding.certainty,
        "notes": list(finding.notes),
        "excerpt": finding.excerpt,
    }


def _print_findings(
    findings: list[Finding],
    verdicts: list[str],
    lines: tuple[str, ...],
    matched: bool | None,
    selector: str | None,
    *,
    show_text: bool,
) -> None:
    from rich.table import Table

    from bot.text.console import make_console

    console = make_console()
    if matched is False:
        console.print(f"[yellow]The selector {selector!r} matches nothing on this page.[/yellow]")
    else:
        part = f"the part {selector!r} selects" if selector else "the main content"
        console.print(f"Read {len(lines)} lines of text from {part}.")
    if show_text:
        for line in lines:
            console.print(f"  {line}", markup=False, highlight=False)
    table = Table(title=f"{len(findings)} findings", title_justify="left")
    for column in ("what", "when", "deadline (UTC)", "sure", "would propose", "from"):
        table.add_column(column, overflow="fold")
    for finding, verdict in zip(findings, verdicts, strict=True):
        when = "-"
        if finding.start is not None:
            when = finding.start.isoformat() + (f" to {finding.end}" if finding.end else "")
            if finding.start_time:
                when += f" {finding.start_time:%H:%M}" + (
                    f"-{finding.end_time:%H:%M}" if finding.end_time else ""
                )
                when += f" {finding.zone}"
        deadline = "-"
        if finding.closing is not None:
            deadline = (
                f"{finding.closing.day} {finding.closing.time_text} {finding.closing.zone} = "
                f"{finding.closing.instant:%Y-%m-%d %H:%M}"
            )
        what = finding.title + (" (cancelled)" if finding.cancelled else "")
        sure = f"{finding.certainty:.0%}" + ("*" if finding.notes else "")
        table.add_row(what, when, deadline, sure, verdict, finding.excerpt)
    console.print(table)
    if any(f.notes for f in findings):
        console.print("* an assumption was made:")
        for finding in findings:
            for note in finding.notes:
                console.print(f"  {finding.title}: {note}", markup=False)


@proposals_app.command("list")
def proposals_list(
    state: Annotated[
        ProposalState, typer.Option(help="pending, approved, rejected or all.")
    ] = ProposalState.pending,
    output: FormatOption = Format.table,
) -> None:
    """Proposals made by the watcher, newest first."""
    import asyncio

    settings, _ = _context()

    async def read() -> list[Proposal]:
        store = await _ready_store(settings.database_url)
        try:
            return await store.proposals(None if state is ProposalState.all else state.value)
        finally:
            await store.close()

    found = asyncio.run(read())
    if output is Format.json:
        _dump([_proposal_row(p) for p in found])
        return
    from rich.table import Table

    from bot.text.console import make_console

    table = Table(title=f"Proposals ({state.value})", title_justify="left")
    for column in ("id", "kind", "state", "sure", "what", "page"):
        table.add_column(column, overflow="fold", no_wrap=column in {"id", "kind", "state"})
    for proposal in found:
        sure = f"{proposal.certainty}%" if proposal.certainty is not None else "-"
        table.add_row(
            str(proposal.id),
            proposal.kind,
            proposal.state,
            sure,
            f"{proposal.summary or ''}\n[dim]{proposal.excerpt or ''}[/dim]",
            proposal.url or "-",
        )
    if not found:
        table.caption = "nothing to decide" if state is ProposalState.pending else "none"
    make_console().print(table)
    if found and state is ProposalState.pending:
        typer.echo("Decide with `untoc-watch proposals approve ID` or `... reject ID`.")


def _proposal_row(proposal: Proposal) -> dict[str, object]:
    return {
        "id": proposal.id,
        "kind": proposal.kind,
        "state": proposal.state,
        "target_id": proposal.target_id,
        "summary": proposal.summary,
        "certainty": proposal.certainty,
        "confidence": proposal.confidence,
        "excerpt": proposal.excerpt,
        "url": proposal.url,
        "source_id": proposal.source_id,
        "event": proposal.payload,
        "created_at": proposal.created_at.isoformat(),
        "decided_at": _iso(proposal.decided_at),
        "decided_by": proposal.decided_by,
    }


async def _ready_store(url: str) -> Store:
    store, note = await _open_store(url)
    if store is None:
        _fail(str(note), code=1)
    return store


def _decide(proposal_id: int, by: str | None, *, approve: bool) -> None:
    import asyncio

    from bot.db.watch import ProposalError

    settings, _ = _context()

    async def decide() -> str:
        store = await _ready_store(settings.database_url)
        now = dt.datetime.now(dt.UTC)
        try:
            if approve:
                event = await store.approve_proposal(proposal_id, decided_by=by, now=now)
                return (
                    f"Approved proposal {proposal_id}: {event.title} ({event.id}) is now in the "
                    f"timeline, sourced to {event.source}."
                )
            await store.reject_proposal(proposal_id, decided_by=by, now=now)
            return f"Rejected proposal {proposal_id}; the same finding will not be proposed again."
        finally:
            await store.close()

    try:
        typer.echo(asyncio.run(decide()))
    except ProposalError as exc:
        _fail(str(exc))


@proposals_app.command("approve")
def proposals_approve(
    proposal_id: ProposalId,
    by: ByOption = None,
) -> None:
    """Approve a proposal: its event enters the timeline, with the page as its source."""
    _decide(proposal_id, by, approve=True)


@proposals_app.command("reject")
def proposals_reject(
    proposal_id: ProposalId,
    by: ByOption = None,
) -> None:
    """Reject a proposal; the same finding is not proposed again."""
    _decide(proposal_id, by, approve=False)
