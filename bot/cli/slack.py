"""The Slack commands: `slack add-webhook` registers a channel, `slack manifest` the app.

Only typer is imported at module level: `bot/cli/app.py` registers these commands, and
every `untoc-watch` invocation would otherwise pay for SQLAlchemy and slack-sdk. Each
command imports what it uses. A webhook URL is a secret: it is only ever printed masked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from bot.cli._common import CountryOption, LanguageOption, ThemeOption

if TYPE_CHECKING:
    from bot.db.models import Subscriber

slack_app = typer.Typer(help="Slack: webhook targets and the app manifest.", no_args_is_help=True)

# The manifest ships in the repository, next to the packages.
MANIFEST = Path(__file__).parents[2] / "slack" / "manifest.yaml"
BASE_URL_PLACEHOLDER = "${PUBLIC_BASE_URL}"


def _fail(message: str, code: int = 2) -> NoReturn:
    from bot.cli._common import fail

    fail(message, code)


@slack_app.command("add-webhook")
def add_webhook(
    url: Annotated[str, typer.Argument(help="The incoming-webhook URL Slack gave you.")],
    country: CountryOption = None,
    theme: ThemeOption = None,
    lang: LanguageOption = "en",
    name: Annotated[
        str | None, typer.Option("--name", help="How operators see it, e.g. #coalition.")
    ] = None,
    webhook_base: Annotated[
        str | None,
        typer.Option(
            "--webhook-base",
            help="Accept webhook URLs under this address (a test server) besides Slack's.",
        ),
    ] = None,
) -> None:
    """Send alerts to a Slack channel through an incoming webhook (no app needed).

    Without --country or --theme the channel gets every deadline. Running it again for
    the same URL replaces its filters.
    """
    import asyncio

    from bot.cli._common import country_code, read_calendar_key, read_dataset, read_settings
    from bot.slack.targets import InvalidWebhookUrl, check_webhook_url
    from bot.text.i18n import LANGUAGES
    from config.dataset import THEMES

    try:
        address = check_webhook_url(url, webhook_base)
    except InvalidWebhookUrl as exc:
        _fail(str(exc))
    settings = read_settings()
    key = read_calendar_key(settings)  # before anything is registered
    dataset = read_dataset(settings)
    countries = sorted({country_code(text, dataset) for text in country or []})
    for value in theme or []:
        if value not in THEMES:
            _fail(f"--theme {value!r} is unknown; use one of: {', '.join(THEMES)}")
    if lang not in LANGUAGES:
        _fail(f"--lang {lang!r} is unknown; use one of: {', '.join(LANGUAGES)}")
    if name is not None and not 0 < len(name.strip()) <= 200:
        _fail("--name must have 1 to 200 characters")
    subscriber = asyncio.run(
        _register(
            settings.database_url,
            key,
            address,
            {"country": countries, "theme": sorted(set(theme or []))},
            lang,
            name.strip() if name else None,
        )
    )
    from bot.channels.base import personal_calendar_url
    from bot.slack.channel import mask_webhook_url

    follows = ", ".join([*countries, *sorted(set(theme or []))]) or "every deadline"
    typer.echo(
        f"Slack webhook {mask_webhook_url(address)} registered (subscriber {subscriber.id}): "
        f"follows {follows}; alerts in {lang}."
    )
    calendar = personal_calendar_url(settings.public_base_url, key, subscriber.calendar_nonce)
    typer.echo(f"Its calendar: {calendar}")


async def _register(
    database_url: str,
    key: bytes,
    url: str,
    values: dict[str, list[str]],
    language: str,
    name: str | None,
) -> Subscriber:
    from bot.db import subscribers as subs
    from bot.db.store import MIGRATE_HINT, Store, StoreNotReady, sqlite_path
    from bot.slack.channel import WEBHOOK_TARGET, mask_webhook_url
    from config.keys import DIFFERENT_KEY, key_fingerprint

    path = sqlite_path(database_url)
    if path is not None and not path.exists():
        _fail(f"no database yet at {path}; {MIGRATE_HINT}", code=1)
    try:
        store = await Store.open(database_url)
    except StoreNotReady as exc:
        _fail(str(exc), code=1)
    now = dt.datetime.now(dt.UTC)
    try:
        # A command compares its key; only the service's processes record theirs.
        if not await store.calendar_key_agrees(key_fingerprint(key), now, record=False):
            _fail(DIFFERENT_KEY)
        async with store.sessions() as session, session.begin():
            subscriber = await subs.ensure_subscriber(
                session,
                channel=WEBHOOK_TARGET,
                address=url,
                now=now,
                display_name=name or mask_webhook_url(url),
                language=language,
            )
            await subs.unfollow(session, subscriber, None, now)
            await subs.follow(session, subscriber, values, now)
            await subs.set_preferences(session, subscriber, now, language=language)
            if name:
                subscriber.display_name = name
        return subscriber
    finally:
        await store.close()


@slack_app.command("manifest")
def manifest() -> None:
    """Print the Slack app manifest with this service's PUBLIC_BASE_URL filled in."""
    from bot.cli._common import read_settings

    settings = read_settings()
    try:
        text = MANIFEST.read_text(encoding="utf-8")
    except OSError:
        _fail(f"the manifest is missing ({MANIFEST}); it ships in the repository", code=1)
    if not settings.public_base_url.startswith("https://"):
        typer.echo(
            "note: Slack only calls https:// addresses; set PUBLIC_BASE_URL to the public "
            "address of the web process, or turn on Socket Mode (SLACK_APP_TOKEN)",
            err=True,
        )
    typer.echo(text.replace(BASE_URL_PLACEHOLDER, settings.public_base_url), nl=False)
