"""Terminal output: rich tables of deadlines for the CLI and the console channel."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.text.render import STATUS_LABELS, when_text
from schedulers.review import PlannedPhase, WhatIsKnown
from schedulers.timeline import Deadline, reader_title

STATUS_STYLES = {
    "done": "green",
    "overdue": "bold red",
    "no_news": "magenta",
    "expected": "cyan",
    "due_soon": "yellow",
    "upcoming": "cyan",
    "cancelled": "dim strike",
}


def make_console() -> Console:
    """A console that still prints a readable table when output is piped."""
    return Console(width=None if Console().is_terminal else 160)


def deadline_table(deadlines: list[Deadline], title: str) -> Table:
    """A table with one row per deadline: when, what, who, status and confidence."""
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("when", no_wrap=True)
    table.add_column("what")
    table.add_column("country", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("confidence", no_wrap=True)
    table.add_column("id", style="dim")
    for deadline in deadlines:
        where = deadline.country or "all"
        if deadline.cluster is not None:
            where += f" c{deadline.cluster}"
        style = STATUS_STYLES[deadline.status]
        table.add_row(
            when_text(deadline),
            reader_title(deadline),
            where,
            f"[{style}]{STATUS_LABELS[deadline.status]}[/{style}]",
            deadline.confidence,
            deadline.id,
        )
    if not deadlines:
        table.caption = "nothing matches"
    return table


def planned_table(phases: Sequence[PlannedPhase], title: str) -> Table:
    """The later clusters as the procedures plan them: planned, never dates to act on."""
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("cluster", no_wrap=True)
    table.add_column("planned", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("basis")
    for phase in phases:
        status = "planned, [bold red]behind schedule[/bold red]" if phase.behind else "planned"
        table.add_row(
            f"{phase.cluster}. {phase.title}",
            f"{phase.start:%Y-%m} to {phase.end:%Y-%m}",
            status,
            escape(phase.basis),
        )
    table.caption = "a plan, not a schedule: no start of these clusters is recorded"
    return table


def known_lines(known: WhatIsKnown, name: str) -> list[str]:
    """What is known of any review, for a State whose group is not known (rich markup)."""
    lines = [
        f"[bold]{escape(name)}: which group it was drawn into is not known to us.[/bold]",
        escape(known.summary),
        "",
        "[bold]The three groups[/bold]",
    ]
    for group in known.groups:
        reviews = f", {group.reviews} reviews" if group.reviews is not None else ""
        lines.append(
            f"  group {group.number}: started {group.start:%B %Y}{reviews} "
            f"({group.confidence}; {escape(group.source)})"
        )
    lines += ["", "[bold]How far the reviews have got[/bold]"]
    for figure in known.progress:
        lines.append(
            f'  {figure.date.isoformat()}: "{escape(figure.quote)}" '
            f"({figure.confidence}; {escape(figure.source)})"
        )
    lines += ["", "[bold]The steps every review goes through[/bold]"]
    lines += [f"  {escape(step.title)}: {escape(step.rule)}" for step in known.steps]
    lines += ["", "[bold]What you can do now[/bold]"]
    for action in known.actions:
        lines.append(f"  {escape(action.title)}" + (f" {action.url}" if action.url else ""))
    if known.plan:
        lines += ["", escape(known.plan)]
    return lines
