"""Where an update comes from, who may change things there, and how we answer.

A `Place` is a private chat, a group, a supergroup, a forum topic or a channel; it is
the subscriber's address (`channel="telegram"`, chat id, topic id). In private chats the
reader decides; in groups, supergroups and channels only the chat's administrators do
(anonymous admins posting as the group, and channel posts, count as admins).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from babel.lists import format_list
from telegram import (
    ChatMember,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.db.engine import Session
from bot.db.models import NO_THREAD, Subscriber
from bot.db.subscribers import ensure_subscriber, find_subscriber
from bot.telegram.channel import split_html
from bot.telegram.services import Services, services_of
from bot.text.bidi import isolate
from bot.text.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts

log = logging.getLogger(__name__)

CHANNEL = "telegram"
KNOWN_CHAT_TYPES = frozenset(
    {ChatType.PRIVATE, ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL}
)
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
# Why a chat that talked to the bot receives no alerts (Subscriber.deactivated_reason).
NOT_SUBSCRIBED = "not subscribed yet"
UNSUBSCRIBED = "unsubscribed in Telegram"
Context = ContextTypes.DEFAULT_TYPE
# The most a button-press notice may say (Telegram's limit for answerCallbackQuery).
NOTICE_MAX = 200
MAX_NAMED_ADMINS = 5


@dataclass(frozen=True)
class Place:
    """A chat, or a topic of a forum supergroup."""

    chat_id: int
    chat_type: str
    thread_id: str = NO_THREAD
    title: str | None = None

    @property
    def address(self) -> str:
        return str(self.chat_id)

    @property
    def private(self) -> bool:
        return self.chat_type == ChatType.PRIVATE

    @property
    def topic(self) -> int | None:
        return int(self.thread_id) if self.thread_id else None


def place_of(update: Update) -> Place | None:
    """The place an update comes from, or None for a chat type we do not serve."""
    chat = update.effective_chat
    if chat is None or chat.type not in KNOWN_CHAT_TYPES:
        return None
    message = update.effective_message
    thread = NO_THREAD
    if isinstance(message, Message) and message.is_topic_message and message.message_thread_id:
        thread = str(message.message_thread_id)
    title = chat.title or (f"@{chat.username}" if chat.username else None) or chat.first_name
    return Place(chat_id=chat.id, chat_type=chat.type, thread_id=thread, title=title)


@dataclass(frozen=True)
class Turn:
    """One update being answered: where, in which language, with which services."""

    update: Update
    context: Context
    services: Services
    place: Place
    texts: Texts

    @property
    def user_id(self) -> int | None:
        user = self.update.effective_user
        return user.id if user is not None else None

    @property
    def is_operator(self) -> bool:
        """An operator of the service (TELEGRAM_ADMIN_IDS), not a chat admin."""
        return self.user_id is not None and self.user_id in self.services.admin_ids

    async def subscriber(self, session: Session) -> Subscriber | None:
        """This place's subscriber, active or not, if it has one."""
        return await find_subscriber(session, CHANNEL, self.place.address, self.place.thread_id)

    async def registered(self, session: Session) -> Subscriber:
        """This place's subscriber, created without alerts if it has none yet.

        A chat that only chose a language or asked for its calendar link should not
        start receiving every alert: subscribing is what turns alerts on.
        """
        existing = await self.subscriber(session)
        if existing is not None:
            return existing
        subscriber = await ensure_subscriber(
            session,
            channel=CHANNEL,
            address=self.place.address,
            thread_id=self.place.thread_id,
            now=self.services.clock(),
            display_name=(self.place.title or "")[:200] or None,
            language=self.texts.language,
        )
        subscriber.active = False
        subscriber.deactivated_reason = NOT_SUBSCRIBED
        return subscriber

    async def subscribed(self, session: Session) -> Subscriber:
        """This place's subscriber, created or reactivated: alerts on."""
        return await ensure_subscriber(
            session,
            channel=CHANNEL,
            address=self.place.address,
            thread_id=self.place.thread_id,
            now=self.services.clock(),
            display_name=(self.place.title or "")[:200] or None,
            language=self.texts.language,
        )

    async def may_change(self) -> bool:
        """Whether the sender may change this place's subscription and settings."""
        if self.place.private or self.update.channel_post is not None:
            return True
        message = self.update.message
        if (
            message is not None
            and message.sender_chat is not None
            and message.sender_chat.id == self.place.chat_id
        ):
            return True  # an anonymous administrator, posting as the group
        if self.user_id is None:
            return False
        try:
            member = await self.context.bot.get_chat_member(self.place.chat_id, self.user_id)
        except TelegramError as error:
            log.info("telegram: cannot check admin rights in %s: %s", self.place.chat_id, error)
            return False
        return member.status in ADMIN_STATUSES

    async def administrators(self, most: int = MAX_NAMED_ADMINS) -> list[str]:
        """The names of this group's human administrators, to say who can act."""
        if self.place.private:
            return []
        try:
            members = await self.context.bot.get_chat_administrators(self.place.chat_id)
        except TelegramError as error:
            log.info("telegram: cannot list the admins of %s: %s", self.place.chat_id, error)
            return []
        names = []
        for member in members:
            user = member.user
            if user.is_bot:
                continue
            names.append(f"@{user.username}" if user.username else user.full_name)
        return names[:most]

    async def reply(self, text: str, keyboard: InlineKeyboardMarkup | None = None) -> Message:
        """Send HTML to this place (split if long), the keyboard under the last part."""
        return await self._send(self._readable(text), keyboard)

    async def show(self, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Replace the message whose button was pressed (or reply, if it cannot be edited)."""
        text = self._readable(text)
        query = self.update.callback_query
        message = query.message if query is not None else None
        if query is None or not isinstance(message, Message) or len(split_html(text)) > 1:
            await self._send(text, keyboard)
            return
        try:
            await query.edit_message_text(
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return
            # Too old to edit, or deleted: say it in a new message instead.
            log.info("telegram: could not edit a message (%s); replying instead", error.message)
            await self._send(text, keyboard)

    def _readable(self, text: str) -> str:
        """The HTML with its left-to-right stretches isolated, for a right-to-left reader."""
        return isolate(text, "html", self.texts.direction)

    async def _send(self, text: str, keyboard: InlineKeyboardMarkup | None) -> Message:
        parts = split_html(text)
        sent: Message | None = None
        asked = self.update.message
        # In a group, the answer quotes the message it answers: many people talk there.
        quoted = (
            ReplyParameters(message_id=asked.message_id, allow_sending_without_reply=True)
            if asked is not None and not self.place.private and self.update.callback_query is None
            else None
        )
        for index, part in enumerate(parts):
            sent = await self.context.bot.send_message(
                chat_id=self.place.chat_id,
                text=part,
                parse_mode=ParseMode.HTML,
                message_thread_id=self.place.topic,
                reply_markup=keyboard if index == len(parts) - 1 else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_parameters=quoted if index == 0 else None,
            )
        assert sent is not None
        return sent

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the button press (the small notice over the chat); never fails the turn."""
        query = self.update.callback_query
        if query is None:
            if text:
                await self.reply(text)
            return
        notice = text[:NOTICE_MAX] if text else None
        if notice:
            readable = isolate(notice, "plain", self.texts.direction)
            notice = readable if len(readable) <= NOTICE_MAX else notice
        try:
            await query.answer(notice, show_alert=alert)
        except TelegramError as error:
            log.info("telegram: could not answer a button press: %s", error)


def pressed_message(update: Update) -> MaybeInaccessibleMessage | None:
    """The message carrying the pressed button."""
    query = update.callback_query
    return query.message if query is not None else None


async def turn_of(update: Update, context: Context) -> Turn | None:
    """The `Turn` for an update, or None when it comes from a chat we do not serve."""
    place = place_of(update)
    if place is None:
        chat = update.effective_chat
        log.info("telegram: ignored an update from a %s chat", chat.type if chat else "missing")
        return None
    services = services_of(context)
    async with services.store.sessions() as session:
        subscriber = await find_subscriber(session, CHANNEL, place.address, place.thread_id)
    if subscriber is not None and subscriber.language in LANGUAGES:
        language = subscriber.language
    else:
        user = update.effective_user
        code = (user.language_code or "")[:2].lower() if user is not None else ""
        language = code if code in LANGUAGES else DEFAULT_LANGUAGE
    return Turn(update, context, services, place, Texts(language))


TurnHandler = Callable[[Turn], Awaitable[None]]
UpdateHandler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def handler(function: TurnHandler) -> UpdateHandler:
    """A PTB callback that answers `function(turn)`, and ignores chats we do not serve."""

    @functools.wraps(function)
    async def run(update: Update, context: Context) -> None:
        turn = await turn_of(update, context)
        if turn is not None:
            await function(turn)

    return run


async def refuse_unless_allowed(turn: Turn) -> bool:
    """True if the sender may change this chat; otherwise says so, naming who can, and
    returns False."""
    if await turn.may_change():
        return True
    refusal = turn.texts("Only administrators of this chat can change its alerts and settings.")
    names = await turn.administrators()
    if names:
        refusal += " " + turn.texts("Ask {names}.").format(
            names=format_list(names, locale=turn.texts.locale)
        )
    await turn.answer(refusal, alert=True)
    return False


def command_text(turn: Turn) -> str:
    """What follows the command, as typed (commas kept)."""
    message = turn.update.effective_message
    text = message.text if isinstance(message, Message) and message.text else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
