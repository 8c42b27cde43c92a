"""`untoc-watch telegram ...`: setting up Telegram from the command line.

`add-channel @name --country AT --theme tip --lang fr` makes a channel where the bot is
an administrator (a network's public alert channel) a subscriber with those filters.
Only typer is imported at module level: every `untoc-watch` command pays for this
module's import, and Telegram's libraries load only when this command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bot.cli._common import LanguageOption

if TYPE_CHECKING:
    from bot.filters.vocabulary import Topics
    from config.settings import Settings

telegram_app = typer.Typer(help="Telegram: channels and setup.", no_args_is_help=True)

SETUP_PROBLEMS = {
    "not_found": "Telegram does not know {name}, or the bot is not in it; add the bot first",
    "not_a_channel": "{name} is not a channel; in a group, send /subscribe there instead",
    "bot_not_admin": "the bot is not an administrator of {name}; make it one, then try again",
    "cannot_post": "the bot may not post in {name}; give it the right to post messages",
    "not_your_channel": "{name}: not an administrator",
}


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@telegram_app.command("add-channel")
def add_channel(
    name: Annotated[str, typer.Argument(help="The channel: @name or its numeric id.")],
    country: Annotated[
        list[str] | None, typer.Option("--country", "-c", help="ISO code or name; repeatable.")
    ] = None,
    cluster: Annotated[list[int] | None, typer.Option(help="Cluster number; repeatable.")] = None,
    theme: Annotated[list[str] | None, typer.Option(help="tip, som, firearms, ...")] = None,
    kind: Annotated[
        list[str] | None, typer.Option(help="milestone, registration or event; repeatable.")
    ] = None,
    lang: LanguageOption = "en",
) -> None:
    """Post alerts in a channel where the bot is an administrator."""
    import asyncio

    from bot.text.i18n import LANGUAGES
    from config.countries import UnknownCountry, resolve_country
    from config.dataset import THEMES
    from config.dataset_loader import DatasetError, load_dataset
    from config.settings import SettingsError, load_settings
    from schedulers.timeline import KINDS

    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    if settings.telegram_bot_token is None:
        _fail("TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and set it")
    if not (name.startswith("@") or name.lstrip("-").isdigit()):
        _fail(f"{name!r} is not a channel; write @name or the channel's numeric id")
    if lang not in LANGUAGES:
        _fail(f"--lang {lang!r} is unknown; use one of: {', '.join(LANGUAGES)}")
    try:
        dataset = load_dataset(settings.data_dir, cache_dir=settings.cache_dir)
    except DatasetError as exc:
        _fail(str(exc))
    codes = set()
    for text in country or []:
        try:
            codes.add(resolve_country(text, dataset.states, dataset.aliases))
        except UnknownCountry as exc:
            _fail(f"{exc}. Countries are ISO codes (AT) or English names (Austria).")
    for value in theme or []:
        if value not in THEMES:
            _fail(f"--theme {value!r} is unknown; use one of: {', '.join(THEMES)}")
    for value in kind or []:
        if value not in KINDS:
            _fail(f"--kind {value!r} is unknown; use one of: {', '.join(KINDS)}")
    for number in cluster or []:
        if number not in dataset.clusters:
            _fail(f"--cluster {number} is unknown; clusters are {sorted(dataset.clusters)}")
    from bot.filters.vocabulary import Topics

    topics = Topics(
        countries=frozenset(codes),
        clusters=frozenset(cluster or []),
        themes=frozenset(theme or []),
        kinds=frozenset(kind or []),
    )
    title = asyncio.run(_add_channel(settings, name, topics, lang))
    followed = ", ".join(sorted(codes | set(theme or []) | set(kind or []))) or "every deadline"
    typer.echo(f"Alerts for {followed} will be posted in {title}.")


async def _add_channel(settings: Settings, name: str, topics: Topics, language: str) -> str:
    import datetime as dt

    from telegram.error import InvalidToken, NetworkError

    from bot.db.store import Store, StoreNotReady
    from bot.telegram.app import build_bot
    from bot.telegram.setup import ChannelSetupError, check_channel, register_channel

    bot = build_bot(settings)
    try:
        async with bot:
            chat = await check_channel(bot, name)
    except ChannelSetupError as error:
        _fail(SETUP_PROBLEMS[error.problem].format(name=name), code=1)
    except InvalidToken:
        _fail("Telegram refused TELEGRAM_BOT_TOKEN; check it with @BotFather", code=1)
    except NetworkError as error:
        _fail(f"cannot reach Telegram: {error.message}", code=1)
    try:
        store = await Store.open(settings.database_url)
    except StoreNotReady as exc:
        _fail(str(exc), code=1)
    try:
        async with store.sessions() as session, session.begin():
            await register_channel(session, chat, topics, language, dt.datetime.now(dt.UTC))
    finally:
        await store.close()
    return f"@{chat.username}" if chat.username else (chat.title or str(chat.id))
