"""Setting up a channel's alerts: a network's public channel where the bot is an admin.

Used by `/addchannel` in a private chat and by `untoc-watch telegram add-channel`. The
channel is looked up with getChat; the bot must be one of its administrators with the
right to post. The channel becomes a `Subscriber` like any chat, with its filters.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from telegram import Bot, ChatFullInfo, ChatMemberAdministrator, ChatMemberOwner
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden

from bot.db.engine import Session
from bot.db.models import Subscriber
from bot.db.subscribers import ensure_subscriber, follow, set_preferences
from bot.filters.vocabulary import Topics

Problem = Literal["not_found", "not_a_channel", "bot_not_admin", "cannot_post", "not_your_channel"]


class ChannelSetupError(Exception):
    """The channel cannot take alerts yet; `problem` says why, for each caller to word."""

    def __init__(self, problem: Problem, name: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.problem = problem
        self.name = name


async def check_channel(bot: Bot, name: str, user_id: int | None = None) -> ChatFullInfo:
    """The channel `name` (@name or id) if the bot may post there (and `user_id` is an admin)."""
    digits = name.lstrip("-")
    chat_id: int | str = int(name) if digits.isascii() and digits.isdigit() else name
    try:
        chat = await bot.get_chat(chat_id)
    except (BadRequest, Forbidden):
        raise ChannelSetupError("not_found", name) from None
    if chat.type != ChatType.CHANNEL:
        raise ChannelSetupError("not_a_channel", name)
    try:
        member = await bot.get_chat_member(chat.id, bot.id)
    except (BadRequest, Forbidden):
        raise ChannelSetupError("bot_not_admin", name) from None
    if not isinstance(member, ChatMemberAdministrator | ChatMemberOwner):
        raise ChannelSetupError("bot_not_admin", name)
    if isinstance(member, ChatMemberAdministrator) and not member.can_post_messages:
        raise ChannelSetupError("cannot_post", name)
    if user_id is not None:
        try:
            asker = await bot.get_chat_member(chat.id, user_id)
        except (BadRequest, Forbidden):
            raise ChannelSetupError("not_your_channel", name) from None
        if not isinstance(asker, ChatMemberAdministrator | ChatMemberOwner):
            raise ChannelSetupError("not_your_channel", name)
    return chat


async def register_channel(
    session: Session,
    chat: ChatFullInfo,
    topics: Topics,
    language: str,
    now: dt.datetime,
) -> Subscriber:
    """Make the channel a subscriber (alerts on) following `topics`."""
    name = f"@{chat.username}" if chat.username else (chat.title or str(chat.id))
    subscriber = await ensure_subscriber(
        session,
        channel="telegram",
        address=str(chat.id),
        now=now,
        display_name=name[:200],
        language=language,
    )
    await set_preferences(session, subscriber, now, language=language)
    await follow(session, subscriber, topics.filters(), now)
    return subscriber
