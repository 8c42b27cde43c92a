"""Terminal output: rich tables of deadlines for the CLI and the console channel."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bot.text.render import STATUS_LABELS, when_text
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
