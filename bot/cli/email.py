"""The email commands: `email add` (confirmed at once), `email list`, `email remove`.

An operator adding an address speaks for its owner (a coalition's list, a colleague who
asked by phone), so it is subscribed without a confirmation mail; people signing up on
the page confirm theirs. Like every command module, only typer is imported up here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bot.cli._common import CountryOption, LanguageOption, ThemeOption

if TYPE_CHECKING:
    from bot.db.store import Store
    from config.settings import Settings

email_app = typer.Typer(help="Email subscribers: add, list, remove.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    from bot.cli._common import fail

    fail(message, code)


async def _open(settings: Settings) -> Store:
    from bot.db.store import MIGRATE_HINT, Store, StoreNotReady, sqlite_path

    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        _fail(f"no database yet at {path}; {MIGRATE_HINT}", code=1)
    try:
        return await Store.open(settings.database_url)
    except StoreNotReady as exc:
        _fail(str(exc), code=1)


@email_app.command("add")
def add(
    address: Annotated[str, typer.Argument(help="The address, e.g. list@example.org.")],
    country: CountryOption = None,
    theme: ThemeOption = None,
    lang: LanguageOption = "en",
    digest: Annotated[
        str, typer.Option("--digest", help="weekly (the default for email), daily or off.")
    ] = "weekly",
) -> None:
    """Subscribe an address at once (no confirmation mail). Again for the same address
    replaces its filters."""
    import asyncio

    from bot.cli._common import country_code, read_dataset, read_settings
    from bot.delivery import email_signup as signup
    from bot.text.i18n import LANGUAGES
    from config.dataset import THEMES

    try:
        normal = signup.check_address(address)
    except signup.InvalidAddress as exc:
        _fail(f"{address[:80]!r} cannot be used: {exc}")
    settings = read_settings()
    dataset = read_dataset(settings)
    countries = tuple(sorted({country_code(text, dataset) for text in country or []}))
    for value in theme or []:
        if value not in THEMES:
            _fail(f"--theme {value!r} is unknown; use one of: {', '.join(THEMES)}")
    if lang not in LANGUAGES:
        _fail(f"--lang {lang!r} is unknown; use one of: {', '.join(LANGUAGES)}")
    if digest not in signup.DIGESTS:
        _fail(f"--digest {digest!r}: use weekly, daily or off")
    choice = signup.Choice(
        countries=countries,
        themes=tuple(sorted(set(theme or []))),
        language=lang,
        digest=digest,
    )

    async def run() -> int:
        store = await _open(settings)
        try:
            found = await signup.subscribe(store, signup.Signup(normal, choice), _now())
            return found.id
        finally:
            await store.close()

    subscriber_id = asyncio.run(run())
    follows = ", ".join([*choice.countries, *choice.themes]) or "every deadline"
    typer.echo(
        f"{normal} subscribed (subscriber {subscriber_id}): follows {follows}; "
        f"alerts in {lang}, digest {digest}."
    )


@email_app.command("list")
def list_() -> None:
    """Every email subscriber with what it follows."""
    import asyncio

    from bot.cli._common import read_settings
    from bot.db.subscribers import selection_of
    from bot.delivery import email_signup as signup

    settings = read_settings()

    async def run() -> list[str]:
        store = await _open(settings)
        try:
            lines = []
            for s in await signup.email_subscribers(store):
                chosen = selection_of(s)
                follows = ", ".join([*sorted(chosen.countries), *sorted(chosen.themes)])
                state = "active" if s.active else f"stopped ({s.deactivated_reason or '-'})"
                lines.append(
                    f"{s.id:>6}  {s.address}  {follows or 'everything'}  "
                    f"{s.language}  digest {s.digest}  {state}"
                )
            return lines
        finally:
            await store.close()

    lines = asyncio.run(run())
    for line in lines:
        typer.echo(line)
    typer.echo(f"{len(lines)} email subscriber(s).")


@email_app.command("remove")
def remove(address: Annotated[str, typer.Argument(help="The address to unsubscribe.")]) -> None:
    """Unsubscribe an address and delete it, with anything still queued for it."""
    import asyncio

    from bot.cli._common import read_settings
    from bot.delivery import email_signup as signup

    try:
        normal = signup.check_address(address)
    except signup.InvalidAddress as exc:
        _fail(f"{address[:80]!r} cannot be used: {exc}")
    settings = read_settings()

    async def run() -> bool:
        store = await _open(settings)
        try:
            return await signup.remove(store, normal)
        finally:
            await store.close()

    if not asyncio.run(run()):
        _fail(f"{normal} is not subscribed", code=1)
    typer.echo(f"{normal} unsubscribed and deleted.")


@email_app.command("bounced")
def bounced(
    addresses: Annotated[
        list[str], typer.Argument(help="Addresses that bounced; '-' reads them from stdin.")
    ],
    reason: Annotated[str, typer.Option(help="What the bounce said, kept with the address.")] = "",
) -> None:
    """Stop the addresses a bounce was reported back for, and tell the operators.

    For a relay that refuses later instead of at once: feed this the addresses of its
    delivery status notifications (one per line on stdin with '-').
    """
    import asyncio
    import sys

    from bot.cli._common import read_settings
    from bot.delivery import email_signup as signup

    given = [line.strip() for line in sys.stdin] if addresses == ["-"] else addresses
    checked = []
    for address in (a for a in given if a):
        try:
            checked.append(signup.check_address(address))
        except signup.InvalidAddress as exc:
            _fail(f"{address[:80]!r} cannot be used: {exc}")
    settings = read_settings()

    async def run() -> list[tuple[str, bool]]:
        store = await _open(settings)
        try:
            return [
                (address, await signup.bounced(store, address, reason[:200], _now()))
                for address in checked
            ]
        finally:
            await store.close()

    results = asyncio.run(run())
    for address, stopped in results:
        typer.echo(
            f"{address}: " + ("stopped; the operators are told" if stopped else "not subscribed")
        )
    if not any(stopped for _, stopped in results):
        raise typer.Exit(1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
