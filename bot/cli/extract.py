"""`untoc-watch extract`: what the watcher would read on one page, without storing it.

Only typer and `_common` (itself light) are imported at module level: `bot/cli/app.py`
registers this command, and every `untoc-watch` invocation would otherwise pay for
httpx, Beautiful Soup and the extraction grammar. The command imports what it uses.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli._common import Format, FormatOption, dump, fail, known_source, read_context

if TYPE_CHECKING:
    from config.dataset import Source
    from config.settings import Settings
    from feeds.extract import Finding


class DocumentKind(StrEnum):
    html = "html"
    rss = "rss"
    atom = "atom"
    ics = "ics"


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

    settings, dataset = read_context()
    source = known_source(dataset, source_id) if source_id else None
    chosen_kind = kind.value if kind else source.kind if source else _kind_of(location)
    chosen_selector = selector or (source.selector if source else None)
    if chosen_selector:
        import soupsieve

        try:
            soupsieve.compile(chosen_selector)
        except soupsieve.SelectorSyntaxError as exc:
            fail(
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
        dump(
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
            fail(f"cannot fetch {location}: {exc}", code=1)
    if "://" in location:
        fail(f"{location!r}: only http:// and https:// addresses, or a file path, can be read")
    path = Path(location)
    try:
        return path.read_bytes(), None, path.resolve().as_uri()
    except OSError as exc:
        fail(f"cannot read {location}: {exc.strerror}; give a saved page or an http(s) URL")


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
        fail(f"{exc}; check --kind (html, rss, atom or ics)", code=1)
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
