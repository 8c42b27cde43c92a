"""The buttons under an alert: "Done / registered" and "Mute this country".

A press is checked against what still exists (the deadline, the State) before anything
is stored; the pressed button then leaves the alert, so it is not pressed twice.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import TelegramError

from bot.db.subscribers import acknowledge, mute_country
from bot.telegram import callbacks
from bot.telegram.callbacks import Press, StaleButton
from bot.telegram.chats import Turn, pressed_message, refuse_unless_allowed

log = logging.getLogger(__name__)


async def on_alert_button(turn: Turn, press: Press) -> None:
    """ "Done / registered" and "Mute this country" under an alert."""
    texts = turn.texts
    value = press.arg(0)
    if press.verb == callbacks.ACK:
        known = {d.id for d in await turn.services.publisher.deadlines()}
        if value not in known:
            raise StaleButton(value)
    elif value not in turn.services.dataset.states:
        raise StaleButton(value)
    if not await refuse_unless_allowed(turn):
        return
    notice = texts("This chat does not receive alerts any more.")
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        now = turn.services.clock()
        if subscriber is None:
            pass
        elif press.verb == callbacks.ACK:
            new = await acknowledge(session, subscriber.id, value, now)
            notice = (
                texts("Marked as done: no more reminders of this deadline here.")
                if new
                else texts("Already marked as done.")
            )
        else:
            await mute_country(session, subscriber, value, now)
            notice = texts("Muted: no more alerts about {country} here.").format(
                country=texts.country(value)
            )
    await turn.answer(notice, alert=subscriber is None or press.verb == callbacks.MUTE)
    if subscriber is not None:
        await _drop_button(turn, press)


async def _drop_button(turn: Turn, press: Press) -> None:
    """Take the pressed button off the alert, so it is not pressed twice."""
    message = pressed_message(turn.update)
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    data = callbacks.encode(press.verb, *press.args)
    rows = [
        [button for button in row if button.callback_data != data]
        for row in message.reply_markup.inline_keyboard
    ]
    kept: list[list[InlineKeyboardButton]] = [list(row) for row in rows if row]
    try:
        await message.edit_reply_markup(InlineKeyboardMarkup(kept) if kept else None)
    except TelegramError as error:  # the alert may be too old to edit; the choice is saved
        log.info("telegram: could not update the buttons of an alert: %s", error)
