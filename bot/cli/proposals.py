"""The moderation queue: `proposals list|approve|reject|block`, an operator's decisions.

The queue holds the watcher's proposals and the subscribers' reports side by side, each
marked by its origin (watcher, telegram, slack, web, question); a reporter is shown
masked. Deciding a report tells its reporter, in their language, through the outbox.

Only typer and `_common` (itself light) are imported at module level: `bot/cli/app.py`
registers these commands, and every `untoc-watch` invocation would otherwise pay for
SQLAlchemy. Each command imports what it uses.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._common import Format, FormatOption, dump, fail, iso, read_context, try_open_store

if TYPE_CHECKING:
    from bot.db.models import Proposal
    from bot.db.store import Store

proposals_app = typer.Typer(
    help="Dates the watcher read on pages and subscribers reported, waiting for a decision.",
    no_args_is_help=True,
)


class ProposalState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    all = "all"


# Ids are 64-bit in the database; a larger number is a usage error, not a crash.
ProposalId = Annotated[
    int, typer.Argument(help="The id `proposals list` shows.", min=1, max=2**63 - 1)
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who decides (kept with it).")]


@proposals_app.command("list")
def proposals_list(
    state: Annotated[
        ProposalState, typer.Option(help="pending, approved, rejected or all.")
    ] = ProposalState.pending,
    output: FormatOption = Format.table,
) -> None:
    """Proposals of the watcher and reports of subscribers, newest first."""
    import asyncio

    settings, _ = read_context()

    async def read() -> list[Proposal]:
        store = await _ready_store(settings.database_url)
        try:
            return await store.proposals(None if state is ProposalState.all else state.value)
        finally:
            await store.close()

    found = asyncio.run(read())
    if output is Format.json:
        dump([_proposal_row(p) for p in found])
        return
    from rich.table import Table

    from bot.text.console import make_console

    table = Table(title=f"Proposals ({state.value})", title_justify="left")
    from rich.markup import escape

    from feeds.reports import mask

    for column in ("id", "from", "kind", "state", "sure", "what", "link"):
        table.add_column(column, overflow="fold", no_wrap=column in {"id", "kind", "state"})
    for proposal in found:
        sure = f"{proposal.certainty}%" if proposal.certainty is not None else "-"
        origin = [proposal.origin or "watcher", f"{proposal.created_at:%Y-%m-%d %H:%M}"]
        if proposal.reporter is not None:
            origin.insert(1, mask(proposal.reporter))
        table.add_row(
            str(proposal.id),
            "\n".join(origin),
            proposal.kind,
            proposal.state,
            sure,
            f"{escape(proposal.summary or '')}\n[dim]{escape(proposal.excerpt or '')}[/dim]",
            escape(proposal.url or "-"),
        )
    if not found:
        table.caption = "nothing to decide" if state is ProposalState.pending else "none"
    make_console().print(table)
    if found and state is ProposalState.pending:
        typer.echo("Decide with `untoc-watch proposals approve ID` or `... reject ID`.")


def _proposal_row(proposal: Proposal) -> dict[str, object]:
    from feeds.reports import mask

    return {
        "id": proposal.id,
        "origin": proposal.origin or "watcher",
        "reporter": mask(proposal.reporter) if proposal.reporter else None,
        "kind": proposal.kind,
        "state": proposal.state,
        "target_id": proposal.target_id,
        "summary": proposal.summary,
        "certainty": proposal.certainty,
        "confidence": proposal.confidence,
        "excerpt": proposal.excerpt,
        "url": proposal.url,
        "source_id": proposal.source_id,
        "snapshot_id": proposal.snapshot_id,
        "event" if proposal.kind != "milestone" else "step": proposal.payload,
        "created_at": proposal.created_at.isoformat(),
        "decided_at": iso(proposal.decided_at),
        "decided_by": proposal.decided_by,
    }


async def _ready_store(url: str) -> Store:
    store, note = await try_open_store(url)
    if store is None:
        fail(str(note), code=1)
    return store


def _decide(proposal_id: int, by: str | None, *, approve: bool) -> None:
    import asyncio

    from bot.db.watch import ProposalError
    from config.dataset import Event

    settings, _ = read_context()

    async def decide() -> str:
        store = await _ready_store(settings.database_url)
        now = dt.datetime.now(dt.UTC)
        try:
            decided = await store.decide_proposal(
                proposal_id, approve=approve, decided_by=by, now=now
            )
        finally:
            await store.close()
        told = " The reporter will be told." if decided.told_reporter else ""
        fact = decided.fact
        if fact is None:
            return (
                f"Rejected proposal {proposal_id}; the same finding will not be proposed "
                f"again.{told}"
            )
        if isinstance(fact, Event):
            what = f"{fact.title} ({fact.id})"
        else:
            what = f"{fact.country} cluster {fact.cluster} {fact.milestone} on {fact.date}"
        return (
            f"Approved proposal {proposal_id}: {what} is now in the timeline "
            f"({fact.confidence}), sourced to {fact.source}.{told}"
        )

    try:
        typer.echo(asyncio.run(decide()))
    except ProposalError as exc:
        fail(str(exc))


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


@proposals_app.command("block")
def proposals_block(
    proposal_id: ProposalId,
    by: ByOption = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the block).")] = None,
) -> None:
    """Block the reporter of a report: their reports are refused from now on."""
    import asyncio

    from bot.db.watch import ProposalError

    settings, _ = read_context()

    async def block() -> str | None:
        store = await _ready_store(settings.database_url)
        try:
            return await store.block_reporter_of(
                proposal_id, by=by, reason=reason, now=dt.datetime.now(dt.UTC)
            )
        finally:
            await store.close()

    try:
        blocked = asyncio.run(block())
    except ProposalError as exc:
        fail(str(exc))
    if blocked is None:
        fail(f"proposal {proposal_id} comes from the watcher, not from a reporter")
    typer.echo(f"Blocked {blocked}: their reports are refused from now on.")
