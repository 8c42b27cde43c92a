"""The bot's place in chats: removed, migrated, set up in a channel; and failed updates.

- Removed from a group or channel (or blocked in a private chat): that chat's
  subscriptions are deactivated, so the delivery loop stops sending there.
- A group that became a supergroup gets a new id: its subscriptions follow it.
- `/addchannel @name [topics]` in a private chat sets up a channel's alerts.
- Buttons with data we did not write, or wrote long ago, get a polite answer; an error
  in a handler is logged and answered, and never stops the bot.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import ChatMember, Message, Update
from telegram.error import ChatMigrated, Forbidden, TelegramError

from bot.db.subscribers import deactivate, move_address, subscribers_at
from bot.filters.vocabulary import NotUnderstood, TooLong, Topics
from bot.telegram import admin, alert_buttons, callbacks, preferences, reports, subscriptions
from bot.telegram.callbacks import StaleButton
from bot.telegram.channel import escape
from bot.telegram.chats import CHANNEL, Context, Turn, command_text, handler, turn_of
from bot.telegram.services import services_of
from bot.telegram.setup import ChannelSetupError, check_channel, register_channel

log = logging.getLogger(__name__)

REMOVED = "the bot was removed from the chat"
GONE_STATUSES = frozenset({ChatMember.LEFT, ChatMember.BANNED})


async def member_changed(update: Update, context: Context) -> None:
    """The bot's own status in a chat changed: stop alerts where it was removed."""
    change = update.my_chat_member
    if change is None or change.new_chat_member.status not in GONE_STATUSES:
        return
    services = services_of(context)
    async with services.transaction() as session:
        for subscriber_id in await subscribers_at(session, CHANNEL, str(change.chat.id)):
            await deactivate(session, subscriber_id, REMOVED, services.clock())
    log.info("telegram: removed from chat %s; its alerts are off", change.chat.id)


async def migrated(update: Update, context: Context) -> None:
    """A group became a supergroup: move its subscriptions to the new chat id."""
    message = update.effective_message
    if not isinstance(message, Message) or not message.migrate_to_chat_id:
        return
    old, new = str(message.chat.id), str(message.migrate_to_chat_id)
    services = services_of(context)
    async with services.transaction() as session:
        if await subscribers_at(session, CHANNEL, new):
            log.warning("telegram: chat %s already has subscribers; not moving %s", new, old)
            return
        for subscriber_id in await subscribers_at(session, CHANNEL, old):
            await move_address(session, subscriber_id, new, services.clock())
    log.info("telegram: chat %s migrated to %s; subscriptions moved", old, new)


@handler
async def add_channel(turn: Turn) -> None:
    """/addchannel @name [countries or topics...], in a private chat."""
    texts = turn.texts
    if not turn.place.private:
        await turn.reply(escape(texts("Send /addchannel in a private chat with me.")))
        return
    words = command_text(turn).split(maxsplit=1)
    if not words or not (words[0].startswith("@") or words[0].lstrip("-").isdigit()):
        await turn.reply(
            escape(texts("Usage: {example}").format(example="/addchannel @channel AT tip"))
        )
        return
    try:
        topics = turn.services.vocabulary.parse(words[1], texts) if len(words) > 1 else Topics()
    except (TooLong, NotUnderstood) as error:
        await turn.reply(subscriptions.problem(turn, error, "/addchannel @channel AT tip"))
        return
    name = words[0][:64]
    try:
        chat = await check_channel(turn.context.bot, name, turn.user_id)
    except ChannelSetupError as error:
        reasons = {
            "not_found": texts("I cannot find {name}. Check the name, and add me to it first."),
            "not_a_channel": texts("{name} is not a channel. In a group, send /subscribe there."),
            "bot_not_admin": texts("Make me an administrator of {name}, then try again."),
            "cannot_post": texts("Give me the right to post messages in {name}, then try again."),
            "not_your_channel": texts("Only administrators of {name} can set up its alerts."),
        }
        await turn.reply(escape(reasons[error.problem].format(name=name)))
        return
    async with turn.services.transaction() as session:
        await register_channel(session, chat, topics, texts.language, turn.services.clock())
    await turn.reply(
        escape(
            texts("Alerts will be posted in {name}. Send /mysubs there to check them.").format(
                name=name
            )
        )
    )


async def button(update: Update, context: Context) -> None:
    """Every button press: parse the data, then hand it to the handler of its verb."""
    turn = await turn_of(update, context)
    query = update.callback_query
    if query is None:
        return
    if turn is None:
        await _answer_quietly(update)
        return
    try:
        press = callbacks.decode(query.data)
        routes = {
            callbacks.ACK: alert_buttons.on_alert_button,
            callbacks.MUTE: alert_buttons.on_alert_button,
            callbacks.START_LANGUAGE: subscriptions.choose_language,
            callbacks.SUBSCRIBE: subscriptions.on_subscribe_button,
            callbacks.UNSUBSCRIBE: subscriptions.on_unsubscribe_button,
            callbacks.SETTINGS: preferences.on_settings_button,
            callbacks.PROPOSAL: admin.on_proposal_button,
            callbacks.BROADCAST: admin.on_broadcast_button,
            callbacks.REPORT: reports.on_report_button,
            callbacks.QUESTION: reports.on_question_button,
        }
        await routes[press.verb](turn, press)
    except StaleButton as stale:
        log.info("telegram: stale or unknown button data (%s)", stale)
        await turn.answer(
            turn.texts("This button is out of date. Send the command again for fresh buttons."),
            alert=True,
        )


async def _answer_quietly(update: Update) -> None:
    query = update.callback_query
    if query is not None:
        with contextlib.suppress(TelegramError):
            await query.answer()


async def failed(update: object, context: Context) -> None:
    """Log an error from a handler and tell the chat, without stopping the bot.

    A chat that blocked or removed the bot gets no more alerts; a group that migrated
    is followed to its new id, as the delivery loop does for alerts.
    """
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None and isinstance(error, Forbidden | ChatMigrated):
        services = services_of(context)
        async with services.transaction() as session:
            for subscriber_id in await subscribers_at(session, CHANNEL, str(chat.id)):
                if isinstance(error, ChatMigrated):
                    await move_address(
                        session, subscriber_id, str(error.new_chat_id), services.clock()
                    )
                else:
                    await deactivate(session, subscriber_id, error.message, services.clock())
        log.info("telegram: chat %s: %s", chat.id, error.message)
        return
    log.error("telegram: error while handling an update", exc_info=error)
    if not isinstance(update, Update):
        return
    try:
        turn = await turn_of(update, context)
        if turn is not None:
            await turn.answer(
                turn.texts("Sorry, something went wrong. Please try again later."), alert=True
            )
    except Exception:  # the error handler must never raise
        log.exception("telegram: could not tell the chat about an error")
