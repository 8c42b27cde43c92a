"""The watcher's proposals: `proposals list|approve|reject`, an operator's decisions.

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
    help="Dates the watcher read on pages, waiting for an operator's decision.",
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
    """Proposals made by the watcher, newest first."""
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

    settings, _ = read_context()

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
