"""Which handler answers which update: the whole routing table of the bot in one place.

Commands are answered in private chats, groups, forum topics and channel posts (edited
messages are not re-run); an unknown command gets an answer in a private chat only.
Typing in a private chat (or replying to the bot in a group) searches countries. Button
presses go to `membership.button`, which routes by verb.
"""

from __future__ import annotations

from typing import Any

from telegram import Message
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.telegram import admin, membership, preferences, questions, reports, subscriptions


class _ReplyToBot(filters.MessageFilter):
    """A message that answers one of the bot's own messages."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return (
            replied is not None
            and replied.from_user is not None
            and replied.from_user.id == message.get_bot().id
        )


COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
SEARCH_MESSAGES = (
    filters.UpdateType.MESSAGE
    & filters.TEXT
    & ~filters.COMMAND
    & (filters.ChatType.PRIVATE | _ReplyToBot())
)
# In a private chat every command is for us: one we do not have gets an answer.
UNKNOWN_COMMANDS = filters.UpdateType.MESSAGE & filters.COMMAND & filters.ChatType.PRIVATE
COMMANDS = {
    "start": subscriptions.start,
    "help": questions.help_command,
    "subscribe": subscriptions.subscribe,
    "unsubscribe": subscriptions.unsubscribe,
    "mysubs": subscriptions.my_subscriptions,
    "upcoming": questions.upcoming_command,
    "country": questions.country_command,
    "calendar": questions.calendar_command,
    "settings": preferences.settings_command,
    "stop": subscriptions.stop,
    "addchannel": membership.add_channel,
    "report": reports.report,
    "stats": admin.stats,
    "record": admin.record,
    "approve": admin.approve,
    "reject": admin.reject,
    "broadcast": admin.broadcast,
}


def add_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register every handler of the bot on `application`."""
    for name, callback in COMMANDS.items():
        application.add_handler(CommandHandler(name, callback, filters=COMMAND_UPDATES))
    application.add_handler(MessageHandler(UNKNOWN_COMMANDS, questions.unknown_command))
    application.add_handler(CallbackQueryHandler(membership.button))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.migrated))
    # Typed text answers a guided /report when one is under way, else is read as a
    # name or a question.
    application.add_handler(MessageHandler(SEARCH_MESSAGES, reports.typed_or(questions.message)))
    application.add_handler(
        ChatMemberHandler(membership.member_changed, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_error_handler(membership.failed)
