"""/settings: lead times, digest, quiet hours, time zone and language, by words or buttons.

`/settings timezone Africa/Lagos`, `/settings lead 30 7 1`, `/settings digest weekly`,
`/settings quiet 22-7` (or `off`), `/settings language fr`; `/settings` alone shows the
current values with a keyboard. Values are checked by `set_preferences`; the reader is
told, in their language, what would be accepted.
"""

from __future__ import annotations

import re
from typing import TypedDict

from bot.db.models import Subscriber
from bot.db.subscribers import InvalidPreference, set_preferences
from bot.telegram import keyboards, layout
from bot.telegram.callbacks import Press, StaleButton
from bot.telegram.channel import bold, escape
from bot.telegram.chats import Turn, command_text, handler, refuse_unless_allowed
from bot.text.i18n import LANGUAGES, Texts

MAX_SETTINGS_LENGTH = 200
KEYS = {
    "lead": "lead",
    "leads": "lead",
    "reminders": "lead",
    "digest": "digest",
    "quiet": "quiet",
    "timezone": "tz",
    "zone": "tz",
    "tz": "tz",
    "language": "lang",
    "lang": "lang",
}
_QUIET = re.compile(r"^([0-9]{1,2})(?::00)?-([0-9]{1,2})(?::00)?$")


class Change(TypedDict, total=False):
    """Keyword arguments for `set_preferences`, one preference at a time."""

    lead_days: list[int]
    digest: str
    quiet_hours: tuple[int, int] | None
    timezone: str
    language: str


class BadValue(ValueError):
    """A value for a preference we cannot use; the message is for the reader."""


def parse_value(key: str, words: list[str], texts: Texts) -> Change:
    """The `set_preferences` arguments for one preference; raises `BadValue`."""
    if key == "lead":
        if not words or not all(w.isascii() and w.isdigit() and len(w) <= 3 for w in words):
            raise BadValue(texts("Write the days before a deadline, e.g. /settings lead 30 7 1."))
        return {"lead_days": [int(w) for w in words]}
    if key == "digest":
        if len(words) != 1 or words[0].lower() not in layout.DIGEST_LABELS:
            raise BadValue(texts("Write /settings digest daily, weekly or off."))
        return {"digest": words[0].lower()}
    if key == "quiet":
        if len(words) == 1 and words[0].lower() == "off":
            return {"quiet_hours": None}
        match = _QUIET.match(words[0]) if len(words) == 1 else None
        if match is None:
            raise BadValue(texts("Write quiet hours as /settings quiet 22-7, or off."))
        return {"quiet_hours": (int(match.group(1)), int(match.group(2)))}
    if key == "tz":
        if len(words) != 1:
            raise BadValue(texts("Write a time zone as Area/City, e.g. Africa/Lagos."))
        return {"timezone": words[0]}
    if len(words) != 1 or words[0].lower() not in LANGUAGES:
        raise BadValue(texts("Write a language code: {codes}.").format(codes=", ".join(LANGUAGES)))
    return {"language": words[0].lower()}


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
        await turn.reply(overview(turn, texts, summary), keyboards.settings_menu(texts))
        return
    key = KEYS.get(words[0].lower())
    if key is None or len(command_text(turn)) > MAX_SETTINGS_LENGTH:
        await turn.reply(layout.usage(texts, "/settings timezone Africa/Lagos"))
        return
    try:
        values = parse_value(key, words[1:], texts)
    except BadValue as error:
        await turn.reply(escape(str(error)))
        return
    await _apply(turn, key, values, from_button=False)


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
            overview(changed, texts, summary), keyboards.settings_choices(texts, key, current)
        )
    else:
        await changed.reply(escape(texts("Saved.")) + "\n\n" + summary)


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
        await turn.answer()
        keyboard = (
            keyboards.settings_menu(texts)
            if key == "menu"
            else keyboards.settings_choices(texts, key, current)
        )
        await turn.show(overview(turn, texts, summary), keyboard)
        return
    if key not in keyboards.SETTINGS_KEYS:
        raise StaleButton(key)
    raw = press.arg(1)
    words = raw.split(".") if key == "lead" else [raw]
    try:
        values = parse_value(key, words, texts)
    except BadValue:
        raise StaleButton(raw) from None
    await _apply(turn, key, values, from_button=True)
