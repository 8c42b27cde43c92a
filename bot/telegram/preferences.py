"""/settings: lead times, digest, quiet hours, time zone and language, by words or buttons.

`/settings timezone Africa/Lagos`, `/settings lead 30 7 1`, `/settings digest weekly`,
`/settings quiet 22-7` (or `off`), `/settings language fr`, and the same in the reader's
own words ("/settings fuseau Abidjan", "/settings язык русский"), read by the one settings
reader (`bot/filters/settings.py`); `/settings` alone shows the current values with a
keyboard. Values are checked again by `set_preferences`; the reader is told, in their
language, what was not understood and the closest valid value.
"""

from __future__ import annotations

from typing import cast

from bot.db.models import Subscriber
from bot.db.subscribers import InvalidPreference, set_preferences
from bot.filters.settings import (
    MAX_SETTING_LENGTH,
    Key,
    NotUnderstood,
    read_setting,
    read_value,
)
from bot.filters.settings import Change as SettingChange
from bot.telegram import keyboards, layout
from bot.telegram.callbacks import Press, StaleButton
from bot.telegram.channel import bold, escape
from bot.telegram.chats import Turn, command_text, handler, refuse_unless_allowed
from bot.text.i18n import Texts
from config.zones import country_zones

MAX_SETTINGS_LENGTH = MAX_SETTING_LENGTH
Change = SettingChange


def _refusal(key: str, texts: Texts) -> str:
    """What to say when `set_preferences` refused a value that parsed."""
    return {
        "lead": texts("Reminders: 1 to 10 whole days from 0 to 365, e.g. 30 7 1."),
        "quiet": texts("Quiet hours: two different hours from 0 to 23, e.g. 22-7."),
        "tz": texts("That is not a time zone I know. Write it as Area/City, e.g. Africa/Lagos."),
    }.get(key, texts("/help lists every command."))


def overview(turn: Turn, texts: Texts, summary: str) -> str:
    return "\n".join(
        [
            bold(texts("Settings of this chat")),
            summary,
            "",
            escape(texts("Tap what to change, or write e.g. /settings timezone Africa/Lagos.")),
        ]
    )


@handler
async def settings_command(turn: Turn) -> None:
    """/settings [what value...]."""
    texts = turn.texts
    words = command_text(turn).split()
    if not words:
        async with turn.services.transaction() as session:
            subscriber = await turn.registered(session)
            summary = layout.settings_summary(subscriber, texts)
        if await turn.may_change():
            await turn.reply(overview(turn, texts, summary), keyboards.settings_menu(texts))
            return
        # read-only for those who may not change them: no buttons refused at the last tap
        names = await turn.administrators()
        who = texts("Only administrators of this chat can change its alerts and settings.")
        if names:
            who += " " + texts("Ask {names}.").format(names=", ".join(names))
        await turn.reply(
            "\n".join([bold(texts("Settings of this chat")), summary, "", escape(who)])
        )
        return
    await apply_typed(turn, command_text(turn))


async def apply_typed(turn: Turn, text: str) -> None:
    """A setting as typed ("fuseau Abidjan"), after /settings or on its own."""
    texts = turn.texts
    try:
        setting = read_setting(text, texts, turn.services.vocabulary)
    except NotUnderstood as error:
        await turn.reply(
            escape(str(error)) + "\n" + layout.usage(texts, "/settings timezone Africa/Lagos")
        )
        return
    await _apply(turn, setting.key, setting.change, from_button=False)


async def _apply(turn: Turn, key: str, values: Change, *, from_button: bool) -> None:
    if not await refuse_unless_allowed(turn):
        return
    try:
        async with turn.services.transaction() as session:
            subscriber = await turn.registered(session)
            await set_preferences(session, subscriber, turn.services.clock(), **values)
            language = subscriber.language
            summary_texts = Texts(language)
            summary = layout.settings_summary(subscriber, summary_texts)
            current = _current(subscriber, key)
            followed = followed_zones(subscriber)
    except InvalidPreference:
        if from_button:
            raise StaleButton(key) from None
        await turn.reply(escape(_refusal(key, turn.texts)))
        return
    texts = Texts(language)
    changed = Turn(turn.update, turn.context, turn.services, turn.place, texts)
    if from_button:
        await changed.answer(texts("Saved."))
        await changed.show(
            overview(changed, texts, summary),
            keyboards.settings_choices(texts, key, current, followed),
        )
    else:
        await changed.reply(escape(texts("Saved.")) + "\n\n" + summary)


def followed_zones(subscriber: Subscriber, limit: int = 6) -> list[str]:
    """The time zones of the countries a chat follows, the most populous of each first."""
    codes = sorted({f.value for f in subscriber.filters if f.dimension == "country"})
    zones = [zone for code in codes for zone in country_zones(code)[:2]]
    return list(dict.fromkeys(zones))[:limit]


def _current(subscriber: Subscriber, key: str) -> object:
    """The value of one preference, as the keyboards mark it."""
    if key == "lead":
        return list(subscriber.lead_days)
    if key == "digest":
        return subscriber.digest
    if key == "quiet":
        start, end = subscriber.quiet_start, subscriber.quiet_end
        return None if start is None or end is None else (start, end)
    if key == "tz":
        return subscriber.timezone
    return subscriber.language


async def on_settings_button(turn: Turn, press: Press) -> None:
    """A button of the /settings keyboards."""
    texts = turn.texts
    key = press.arg(0)
    if key == "menu" or (key in keyboards.SETTINGS_KEYS and len(press.args) == 1):
        async with turn.services.transaction() as session:
            subscriber = await turn.registered(session)
            summary = layout.settings_summary(subscriber, texts)
            current = _current(subscriber, key)
            followed = followed_zones(subscriber)
        await turn.answer()
        keyboard = (
            keyboards.settings_menu(texts)
            if key == "menu"
            else keyboards.settings_choices(texts, key, current, followed)
        )
        await turn.show(overview(turn, texts, summary), keyboard)
        return
    if key not in keyboards.SETTINGS_KEYS:
        raise StaleButton(key)
    raw = press.arg(1)
    words = raw.split(".") if key == "lead" else [raw]
    try:
        values = read_value(cast(Key, key), " ".join(words), texts)
    except NotUnderstood:
        raise StaleButton(raw) from None
    await _apply(turn, key, values, from_button=True)
