"""Operator commands for alerts: preview a set-up, broadcast, inspect the outbox, and
move subscribers between instances. Registered on the main `untoc-watch` app.

Module-level imports stay light: the CLI's start-up time is measured.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from config.vocabulary import ZONE  # a light module: the CLI starts without pydantic

if TYPE_CHECKING:
    from bot.db.models import Subscriber
    from bot.db.store import Store
    from config.dataset import Dataset
    from config.settings import Settings

subscribers_app = typer.Typer(help="Back up and restore subscribers (JSON).", no_args_is_help=True)
PREVIEW_STEP = dt.timedelta(days=1)
EXPORT_VERSION = 1


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


async def _open_store(settings: Settings) -> Store:
    from bot.db.store import Store, StoreNotReady

    try:
        return await Store.open(settings.database_url)
    except StoreNotReady as exc:
        raise _fail(str(exc), 1) from None


def preview(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    country: Annotated[list[str] | None, typer.Option("--country", "-c")] = None,
    theme: Annotated[list[str] | None, typer.Option()] = None,
    kind: Annotated[list[str] | None, typer.Option()] = None,
    lead_days: Annotated[str, typer.Option(help="Comma-separated days before.")] = "30,14,7,1,0",
    timezone: Annotated[str, typer.Option("--tz", help="The reader's IANA zone.")] = ZONE,
    morning_hour: Annotated[int, typer.Option(min=0, max=23)] = 9,
    output: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Every alert a subscriber with these filters would get between two days, and when."""
    import asyncio
    from zoneinfo import ZoneInfo

    from bot.cli._common import country_code, read_dataset, read_settings
    from bot.db.store import read_recorded_facts
    from config.dataset import THEMES
    from schedulers.reminders import Preferences, plan
    from schedulers.timeline import KINDS, Selection, compute_deadlines, reader_title

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise _fail("--from and --to are dates: YYYY-MM-DD") from None
    if last < first or (last - first).days > 3 * 366:
        raise _fail("--to must be after --from, and the window at most three years")
    try:
        zone = ZoneInfo(timezone)
        leads = tuple(int(part) for part in lead_days.split(","))
    except (ValueError, KeyError, OSError):  # a zone name that is a folder is an OSError
        raise _fail("--tz is an IANA zone (Europe/Vienna); --lead-days like 30,7,1") from None
    for value in theme or []:
        if value not in THEMES:
            raise _fail(f"--theme {value!r} is unknown; use one of: {', '.join(THEMES)}")
    for value in kind or []:
        if value not in KINDS:
            raise _fail(f"--kind {value!r} is unknown; use one of: {', '.join(KINDS)}")
    settings = read_settings()
    dataset = read_dataset(settings)
    selection = Selection(
        countries={country_code(c, dataset) for c in country or []},
        themes=set(theme or []),
        kinds=set(kind or []),
    )
    prefs = Preferences(
        subscriber_id=0,
        selection=selection,
        timezone=timezone,
        lead_days=leads,
        morning_hour=morning_hour,
    )
    facts, note = asyncio.run(read_recorded_facts(settings.database_url))
    if note:
        typer.echo(f"note: {note}", err=True)
    data = facts.apply(dataset)
    now = dt.datetime.combine(first, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    found: dict[str, Any] = {}
    deadlines = {}
    while now < stop:
        current = compute_deadlines(data, now)
        deadlines.update({d.id: d for d in current})
        horizon = min(PREVIEW_STEP, stop - now)
        for item in plan(current, [prefs], now, horizon=horizon, grace=dt.timedelta(0)):
            found.setdefault(item.key.split("|", 1)[1], item)
        now += PREVIEW_STEP
    rows = [
        {
            "at": item.at.astimezone(zone).isoformat(),
            "kind": item.kind,
            "deadline": item.deadline_id,
            "title": reader_title(deadlines[item.deadline_id]) if item.deadline_id else None,
            "lead_days": item.lead_days,
        }
        for item in sorted(found.values(), key=lambda p: (p.at, p.key))
    ]
    if output == "json":
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    from rich.table import Table

    from bot.text.console import make_console

    table = Table(title=f"Alerts from {first} to {last} ({timezone})", title_justify="left")
    for column in ("when", "kind", "lead", "deadline"):
        table.add_column(column)
    for row in rows:
        lead = "" if row["lead_days"] is None else f"{row['lead_days']} d"
        table.add_row(row["at"][:16].replace("T", " "), row["kind"], lead, row["title"] or "")
    if not rows:
        table.caption = "no alert in this window"
    make_console().print(table)


def broadcast(
    text: Annotated[str, typer.Argument(help="The message.")],
    country: Annotated[list[str] | None, typer.Option("--country", "-c")] = None,
) -> None:
    """Send a message to every active subscriber (following these countries, if given)."""
    import asyncio
    import uuid

    from bot.cli._common import country_code, read_dataset, read_settings

    if not text.strip() or len(text) > 3500:
        raise _fail("the message must have 1 to 3500 characters")
    settings = read_settings()
    dataset = read_dataset(settings)
    countries = {country_code(c, dataset) for c in country or []}
    count = asyncio.run(_broadcast(settings, text.strip(), countries, uuid.uuid4().hex[:12]))
    typer.echo(f"Queued for {count} subscriber(s); the worker delivers them.")


async def _broadcast(settings: Settings, text: str, countries: set[str], broadcast_id: str) -> int:
    from bot.delivery.broadcasts import enqueue_broadcast

    store = await _open_store(settings)
    try:
        return await enqueue_broadcast(
            store, text, countries, broadcast_id, dt.datetime.now(dt.UTC)
        )
    finally:
        await store.close()


def deliveries() -> None:
    """The outbox: counts by state, the oldest waiting alert, the last errors."""
    import asyncio

    from bot.cli._common import read_settings
    from bot.text.console import make_console

    settings = read_settings()

    async def read() -> Any:
        from bot.db import outbox

        store = await _open_store(settings)
        try:
            async with store.sessions() as session:
                return await outbox.status(session)
        finally:
            await store.close()

    status = asyncio.run(read())
    console = make_console()
    counts = ", ".join(f"{state}: {n}" for state, n in sorted(status.counts.items())) or "empty"
    console.print(f"[bold]Outbox[/bold] {counts}")
    console.print(f"oldest waiting: {status.oldest_pending or '-'}")
    for key, state, error in status.last_errors:
        console.print(f"  {state:7} {key}: {error}")


@subscribers_app.command("export")
def export_subscribers(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON.")],
) -> None:
    """Write every subscriber, with filters and acknowledgements, to a JSON file."""
    import asyncio

    from bot.cli._common import read_settings

    settings = read_settings()
    data = asyncio.run(_export(settings))
    # addresses, webhook URLs and calendar tokens: for the operator's eyes only
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(data, indent=2, ensure_ascii=False))
    typer.echo(f"Exported {len(data['subscribers'])} subscriber(s) to {file}.")


async def _export(settings: Settings) -> dict[str, Any]:
    from bot.db import subscribers as subs

    store = await _open_store(settings)
    try:
        async with store.sessions() as session:
            people, done = await subs.everyone(session)
    finally:
        await store.close()
    return {
        "version": EXPORT_VERSION,
        "subscribers": [
            {
                "channel": s.channel,
                "address": s.address,
                "thread_id": s.thread_id,
                "display_name": s.display_name,
                "language": s.language,
                "timezone": s.timezone,
                "lead_days": list(s.lead_days),
                "morning_hour": s.morning_hour,
                "quiet_start": s.quiet_start,
                "quiet_end": s.quiet_end,
                "digest": s.digest,
                "digest_hour": s.digest_hour,
                "digest_weekday": s.digest_weekday,
                # The nonce alone opens nothing: the link needs the calendar key too.
                "calendar_nonce": s.calendar_nonce,
                "calendar_legacy_hash": s.calendar_legacy_hash,
                "active": s.active,
                "filters": sorted([f.dimension, f.value] for f in s.filters),
                "done": sorted(done.get(s.id, [])),
            }
            for s in people
        ],
    }


@subscribers_app.command("import")
def import_subscribers(file: Annotated[Path, typer.Argument(help="A file from `export`.")]) -> None:
    """Add or update subscribers from an export; all or nothing."""
    import asyncio

    from bot.cli._common import read_dataset, read_settings
    from config.nesting import json_too_deep, too_deep

    try:
        text = file.read_text(encoding="utf-8")
        if (line := json_too_deep(text)) is not None:
            raise ValueError(f"line {line}: {too_deep()}")
        data = json.loads(text)
    except (OSError, ValueError, RecursionError) as exc:
        raise _fail(f"cannot read {file}: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != EXPORT_VERSION:
        raise _fail(f"{file} is not an export of this version (version {EXPORT_VERSION})")
    settings = read_settings()
    dataset = read_dataset(settings)
    try:
        count = asyncio.run(_import(settings, dataset, data.get("subscribers")))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Imported {count} subscriber(s).")


def _check_filters(grouped: dict[str, list[str]], dataset: Dataset) -> None:
    """Raise ValueError for a filter value this instance does not know (none is stored)."""
    from bot.db.subscribers import MUTED
    from config.dataset import THEMES
    from schedulers.timeline import KINDS

    known: dict[str, set[str]] = {
        "country": set(dataset.states) | {MUTED + code for code in dataset.states},
        "cluster": {str(number) for number in dataset.clusters},
        "theme": set(THEMES),
        "kind": set(KINDS),
    }
    for dimension, values in grouped.items():
        unknown = [v for v in values if v not in known.get(dimension, set())]
        if dimension not in known or unknown:
            shown = unknown[0][:40] if unknown else ""
            raise ValueError(f"unknown filter {dimension[:20]!r} {shown!r}")


def _place(entry: Any) -> tuple[str, str, str, str | None]:
    """Channel, address, thread and name of an imported subscriber, as the database takes them."""
    from bot.db.models import Subscriber

    name = entry.get("display_name")
    place = (
        str(entry["channel"]),
        str(entry["address"]),
        str(entry.get("thread_id", "")),
        name if name is None else str(name),
    )
    for field, value in zip(
        ("channel", "address", "thread_id", "display_name"), place, strict=True
    ):
        limit: int = getattr(Subscriber.__table__.c[field].type, "length")  # noqa: B009
        if value is not None and (len(value) > limit or "\x00" in value):
            raise ValueError(f"{field} must have at most {limit} characters, and no NUL")
    if place[0] == "email":  # the web and `email add` keep addresses in their normal form
        from bot.delivery.email_signup import InvalidAddress, check_address

        try:
            return (place[0], check_address(place[1]), place[2], place[3])
        except InvalidAddress as exc:
            raise ValueError(f"email address: {exc}") from None
    return place


async def _import(settings: Settings, dataset: Dataset, entries: Any) -> int:
    from bot.db import subscribers as subs
    from bot.db.engine import DuplicateKey

    if not isinstance(entries, list):
        raise ValueError("'subscribers' must be a list")
    store = await _open_store(settings)
    now = dt.datetime.now(dt.UTC)
    try:
        async with store.sessions() as session, session.begin():
            for index, entry in enumerate(entries):
                try:
                    channel, address, thread_id, display_name = _place(entry)
                    subscriber = await subs.ensure_subscriber(
                        session,
                        channel=channel,
                        address=address,
                        thread_id=thread_id,
                        display_name=display_name,
                        now=now,
                    )
                    quiet = entry.get("quiet_start"), entry.get("quiet_end")
                    await subs.set_preferences(
                        session,
                        subscriber,
                        now,
                        language=entry.get("language"),
                        timezone=entry.get("timezone"),
                        lead_days=entry.get("lead_days"),
                        morning_hour=entry.get("morning_hour"),
                        quiet_hours=quiet if None not in quiet else None,
                        digest=entry.get("digest"),
                        digest_hour=entry.get("digest_hour"),
                        digest_weekday=entry.get("digest_weekday"),
                    )
                    _take_calendar(subscriber, entry)
                    subscriber.active = bool(entry.get("active", True))
                    await subs.unfollow(session, subscriber, None, now)
                    grouped: dict[str, list[str]] = {}
                    for dimension, value in entry.get("filters", []):
                        grouped.setdefault(str(dimension), []).append(str(value))
                    _check_filters(grouped, dataset)
                    await subs.follow(session, subscriber, grouped, now)
                    for deadline_id in entry.get("done", []):
                        await subs.acknowledge(session, subscriber.id, str(deadline_id), now)
                    await session.flush()
                except (KeyError, TypeError, ValueError) as exc:
                    raise ValueError(
                        f"subscriber #{index + 1}: {exc}; nothing was imported"
                    ) from None
                except DuplicateKey:  # the unique keys left are the calendar's
                    raise ValueError(
                        f"subscriber #{index + 1}: its calendar nonce or token belongs to "
                        "another subscriber; nothing was imported"
                    ) from None
        return len(entries)
    finally:
        await store.close()


_NONCE = re.compile(r"^[A-Za-z0-9_-]{22}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


def _take_calendar(subscriber: Subscriber, entry: dict[str, Any]) -> None:
    """The exported calendar of `entry` on `subscriber`, so its links keep working.

    An export holds a nonce (its links work where CALENDAR_SECRET is the same) and the
    hash of a token made before nonces; an export from before nonces holds that token.
    """
    from bot.db.subscribers import CALENDAR_TOKEN
    from config.keys import legacy_hash

    if entry.get("calendar_nonce") is not None:
        nonce = str(entry["calendar_nonce"])
        if not _NONCE.match(nonce):
            raise ValueError("calendar_nonce must be 22 characters from A-Z, a-z, 0-9, _ and -")
        subscriber.calendar_nonce = nonce
    if entry.get("calendar_legacy_hash") is not None:
        hashed = str(entry["calendar_legacy_hash"])
        if not _HASH.match(hashed):
            raise ValueError("calendar_legacy_hash must be 64 hexadecimal digits (a SHA-256)")
        subscriber.calendar_legacy_hash = hashed
    if entry.get("calendar_token"):  # an export made before nonces
        token = str(entry["calendar_token"])
        if not CALENDAR_TOKEN.match(token):
            raise ValueError("calendar_token is not one this service makes")
        subscriber.calendar_legacy_hash = legacy_hash(token)


def register(app: typer.Typer) -> None:
    """Add these commands to the main command line."""
    app.command()(preview)
    app.command()(broadcast)
    app.command()(deliveries)
    app.add_typer(subscribers_app, name="subscribers")
