"""The Telegram channel: an alert as an HTML message with buttons, through the Bot API.

It wraps a `telegram.Bot` that the composition root built, lays out the channel-agnostic
`Wording` of an alert as Telegram HTML (every piece of text escaped: titles and notes can
come from operators' files and watched pages), isolates its left-to-right stretches for
a right-to-left reader (`bot.text.bidi`), splits it under Telegram's 4,096 characters, posts
it in the forum topic the chat subscribed from, and adds the buttons "Add to calendar",
"Done / registered" and "Mute this country". PTB's errors become the delivery loop's:
flood control and network trouble are `RetryLater`, a blocked bot or a deleted chat is
`TargetGone`, a migrated group is `TargetMoved`, a revoked token is
`ChannelMisconfigured`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import re
import warnings
from typing import ClassVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import (
    Alert,
    CalendarLink,
    ChannelLimits,
    ChannelMisconfigured,
    DeliveryError,
    RetryLater,
    Target,
    TargetGone,
    TargetMoved,
)
from bot.telegram import callbacks
from bot.text.bidi import isolate
from bot.text.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts
from bot.text.wording import Wording, word
from schedulers.dates import Clock

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
# Telegram takes about one message a second in one chat; the parts of a long alert keep to it.
PART_SPACING = 1.0
# Long alerts waiting to go on from a part, remembered at most (the oldest is forgotten).
MAX_PENDING_PARTS = 1_000
# Bad requests that mean the chat or topic will not take messages from us any more.
GONE_PHRASES = (
    "chat not found",
    "bot was kicked",
    "message thread not found",
    "topic_deleted",
    "not enough rights",
    "have no rights",
    "need administrator rights",
    "chat_write_forbidden",
    "peer_id_invalid",
    "group chat was deactivated",
)
ALERTS_WITH_CALENDAR = frozenset(
    {"reminder", "last_call", "overdue", "change", "announced", "heads_up", "digest"}
)
_TOKEN = re.compile(r"<[^>]*>|&#?[A-Za-z0-9]+;|[^<&]")
_TAG_NAME = re.compile(r"^</?\s*([A-Za-z][A-Za-z0-9-]*)")


def escape(text: str) -> str:
    """Text made safe for Telegram's HTML parse mode."""
    return html.escape(text, quote=True)


def bold(text: str) -> str:
    """Escaped text in bold."""
    return f"<b>{escape(text)}</b>"


def html_length(text: str) -> int:
    """A length never below Telegram's count: UTF-16 units of the text, tags included."""
    return len(text.encode("utf-16-le")) // 2


def layout(wording: Wording, texts: Texts) -> str:
    """The HTML of an alert: headline, when, status and confidence, what to do, source."""
    lines = [bold(wording.headline)]
    if wording.when:
        lines.append(escape(wording.when))
    if wording.when_announced:
        lines.append(escape(wording.when_announced))
    if wording.status:
        status = escape(wording.status)
        lines.append(f"{status} · {escape(wording.confidence)}" if wording.confidence else status)
    if wording.note:
        lines.append(escape(wording.note))
    if wording.hint:
        lines.append(escape(texts("What you can do now: {hint}").format(hint=wording.hint)))
    if wording.source:
        source = texts("Source: {source}").format(source=wording.source)
        lines.append(f"<i>{escape(source)}</i>")
    if wording.url:
        lines.append(link(wording.url))
    return "\n".join(lines)


def link(url: str, label: str | None = None) -> str:
    """A link where the address is a web address, the escaped text otherwise."""
    shown = escape(label if label is not None else url)
    if url.startswith(("https://", "http://")):
        return f'<a href="{escape(url)}">{shown}</a>'
    return shown


def split_html(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Split HTML into messages under `limit`, at line breaks where possible.

    Tags open at a cut are closed at the end of one part and reopened at the start of
    the next, so each part is valid HTML on its own; entities are never cut.
    """
    if html_length(text) <= limit:
        return [text]
    tokens = _TOKEN.findall(text)
    stacks: list[tuple[tuple[str, str], ...]] = []
    stack: list[tuple[str, str]] = []
    for token in tokens:
        name = _tag(token)
        if name is not None:
            if token.startswith("</"):
                if stack and stack[-1][0] == name:
                    stack.pop()
            elif not token.endswith("/>"):
                stack.append((name, token))
        stacks.append(tuple(stack))
    parts: list[str] = []
    start = 0
    while start < len(tokens):
        while start < len(tokens) and tokens[start] == "\n":
            start += 1
        if start >= len(tokens):
            break
        before = stacks[start - 1] if start else ()
        reopen = "".join(opening for _, opening in before)
        if html_length(reopen) > limit // 2:
            reopen = ""
        budget = limit - html_length(reopen)
        size = 0
        end = start
        while end < len(tokens):
            closing = _closers(stacks[end])
            if size + html_length(tokens[end]) + html_length(closing) > budget and end > start:
                break
            size += html_length(tokens[end])
            end += 1
        cut = end
        if end < len(tokens):
            cut = _best_cut(tokens, start, end)
        body = "".join(tokens[start:cut]).rstrip("\n")
        parts.append(reopen + body + _closers(stacks[cut - 1]))
        start = cut
    return parts


def _tag(token: str) -> str | None:
    if not token.startswith("<"):
        return None
    match = _TAG_NAME.match(token)
    return match.group(1).lower() if match else None


def _closers(stack: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _best_cut(tokens: list[str], start: int, end: int) -> int:
    """Where to end a part: after a blank line, a line, a space, or anywhere."""
    for wanted in ("\n\n", "\n", " "):
        for index in range(end - 1, start, -1):
            if wanted == "\n\n":
                if tokens[index] == "\n" and tokens[index - 1] == "\n":
                    return index + 1
            elif tokens[index] == wanted:
                return index + 1
    return end


def question_keyboard(texts: Texts, deadline_id: str) -> InlineKeyboardMarkup | None:
    """It happened / Not yet / I don't know, under a question about a step."""
    answers = (
        (callbacks.ANSWER_HAPPENED, texts("It happened")),
        (callbacks.ANSWER_NOT_YET, texts("Not yet")),
        (callbacks.ANSWER_UNKNOWN, texts("I don't know")),
    )
    buttons = []
    for answer, label in answers:
        data = callbacks.encode(callbacks.QUESTION, answer, deadline_id)
        if data is None:
            return None
        buttons.append(InlineKeyboardButton(label, callback_data=data))
    return InlineKeyboardMarkup([buttons[:1], buttons[1:]])


def retry_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds, whatever form this PTB version gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def delivery_error(error: TelegramError) -> DeliveryError:
    """The delivery loop's reading of a PTB error."""
    message = error.message
    if isinstance(error, RetryAfter):
        return RetryLater(f"flood control: {message}", retry_seconds(error))
    if isinstance(error, ChatMigrated):
        return TargetMoved(message, str(error.new_chat_id))
    if isinstance(error, Forbidden):
        return TargetGone(message)
    if isinstance(error, InvalidToken):
        # PTB's message quotes the token, and this one is stored and shown to operators.
        return ChannelMisconfigured("Telegram refused the bot token; check TELEGRAM_BOT_TOKEN")
    if isinstance(error, BadRequest):
        lowered = message.lower()
        if any(phrase in lowered for phrase in GONE_PHRASES):
            return TargetGone(message)
        return DeliveryError(f"Telegram refused the message: {message}")
    if isinstance(error, TimedOut | NetworkError):
        return RetryLater(f"network: {message}")
    return DeliveryError(message)


def chat_id_of(address: str) -> int | str:
    """A stored address as the Bot API wants it: a number, or an @channel name."""
    try:
        return int(address)
    except ValueError:
        return address


class TelegramChannel:
    """Sends alerts to Telegram chats, topics and channels."""

    name: ClassVar[str] = "telegram"
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=30,
        per_target_per_second=1,
        per_group_per_minute=20,
        max_text_length=MAX_TEXT_LENGTH,
    )

    def __init__(
        self,
        bot: Bot,
        clock: Clock,
        calendar_link: CalendarLink | None = None,
        *,
        part_spacing: float = PART_SPACING,
    ) -> None:
        self.bot = bot
        self.clock = clock
        self.calendar_link = calendar_link
        self.part_spacing = part_spacing
        self._ready = False
        self._starting = asyncio.Lock()
        # The parts of a long alert a chat has not had yet, as first laid out, while they
        # wait for a retry: a retry sends these instead of the whole alert again.
        self._pending_parts: dict[tuple[str, str, str], list[str]] = {}

    async def send(self, target: Target, alert: Alert) -> None:
        """Send `alert` as one message (more if it is long), buttons on the last one.

        The parts of a long alert go a chat's one-per-second apart. When one of them fails
        with a wait (flood control, an outage), this channel keeps the parts not sent yet,
        and the retry sends those: the first parts do not come twice. (A worker that
        restarts in between has forgotten them and sends the alert whole.)
        """
        texts = Texts(target.language if target.language in LANGUAGES else DEFAULT_LANGUAGE)
        progress = (target.address, target.thread_id, alert.key)
        parts = self._pending_parts.pop(progress, None)
        resumed = parts is not None
        if parts is None:
            wording = word(alert, texts, target.timezone, self.clock())
            text = isolate(layout(wording, texts), "html", texts.direction)
            parts = split_html(text, MAX_TEXT_LENGTH)
        keyboard = await self._keyboard(target, alert, texts)
        thread = int(target.thread_id) if target.thread_id.isdigit() else None
        index = 0
        try:
            await self._open()
            for index, part in enumerate(parts):
                if index:
                    await asyncio.sleep(self.part_spacing)
                await self.bot.send_message(
                    chat_id=chat_id_of(target.address),
                    text=part,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread,
                    reply_markup=keyboard if index == len(parts) - 1 else None,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except TelegramError as error:
            failure = delivery_error(error)
            if isinstance(failure, RetryLater) and (index > 0 or resumed):
                self._keep_for_retry(progress, parts[index:])
            raise failure from error

    def _keep_for_retry(self, progress: tuple[str, str, str], parts: list[str]) -> None:
        if len(self._pending_parts) >= MAX_PENDING_PARTS:
            self._pending_parts.pop(next(iter(self._pending_parts)))
        self._pending_parts[progress] = parts

    async def close(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False

    async def _open(self) -> None:
        if self._ready:
            return
        async with self._starting:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True

    async def _keyboard(
        self, target: Target, alert: Alert, texts: Texts
    ) -> InlineKeyboardMarkup | None:
        rows: list[list[InlineKeyboardButton]] = []
        if self.calendar_link is not None and alert.kind in ALERTS_WITH_CALENDAR:
            url = self.calendar_link(target)
            # Telegram accepts only public web addresses in buttons.
            if url is not None and url.startswith("https://"):
                rows.append([InlineKeyboardButton(texts("Add to calendar"), url=url)])
        deadline = alert.deadline
        actions = []
        if deadline is not None and alert.kind == "question":
            return question_keyboard(texts, deadline.id)
        if deadline is not None and alert.kind not in ("digest", "report"):
            data = callbacks.encode(callbacks.ACK, deadline.id)
            if data is not None:
                actions.append(InlineKeyboardButton(texts("Done / registered"), callback_data=data))
            if deadline.country:
                data = callbacks.encode(callbacks.MUTE, deadline.country)
                if data is not None:
                    actions.append(
                        InlineKeyboardButton(texts("Mute this country"), callback_data=data)
                    )
        if actions:
            rows.append(actions)
        return InlineKeyboardMarkup(rows) if rows else None
