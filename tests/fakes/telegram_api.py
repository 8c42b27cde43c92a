"""A local fake Telegram Bot API: real HTTP on 127.0.0.1, for the real PTB to talk to.

It answers the methods the service uses (getMe, getUpdates, sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, setMyCommands, deleteWebhook, setWebhook,
getChat, getChatMember, ...) at `http://127.0.0.1:PORT/bot<TOKEN>/<method>`, the form of
PTB's `base_url`, and checks what Telegram checks: the token, HTML that Telegram could
parse, the 4,096-character limit, callback data of at most 64 bytes.

A test drives a conversation by queuing updates (`say`, `press`, `post`), which the
bot fetches with getUpdates (long polling, answered as soon as one is queued). It can
script failures per chat in Telegram's own error shapes (403 blocked, 400 chat not found,
429 with `retry_after`, 500, a group migrated to a supergroup, slow answers), or as a broken
proxy in front of it would (an HTML page or a cut-off body, a connection closed), and make the
server enforce Telegram's rate limits. Every call is recorded, with counters cheap
enough for fan-outs to thousands of chats.

The server (a small HTTP/1.1 server on asyncio streams, which answers in one write so
that loopback round trips stay well under a millisecond) runs on its own thread and loop, so tests on any loop (or none, as a
command line run through `asyncio.run`) can use it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import html.parser
import http
import itertools
import json
import math
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN = "123456789:TEST-token_for-the-fake-api"
BOT_ID = 123456789
BOT_USERNAME = "untoc_watch_test_bot"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
# Telegram answers an empty long poll after `timeout`; tests need a quick answer on stop.
LONG_POLL_CAP = 0.5
ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_BARE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);)")
_BARE_LESS_THAN = re.compile(r"<(?![a-zA-Z/])")
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "link_preview_options",
        "reply_parameters",
    }
)
_INT_FIELDS = frozenset(
    {
        "message_id",
        "message_thread_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "max_connections",
    }
)
_BOOL_FIELDS = frozenset(
    {"show_alert", "disable_notification", "drop_pending_updates", "protect_content"}
)
SENDING_METHODS = frozenset({"sendmessage"})


@dataclass(frozen=True)
class Outcome:
    """What the server answers instead of the normal result (or before it, when slow)."""

    status: int = 200
    description: str = ""
    parameters: Mapping[str, Any] | None = None
    delay: float = 0.0
    # Answer these bytes instead of the Bot API's JSON (a proxy's page, a cut-off body);
    # the message is not delivered.
    raw: bytes | None = None
    # Close the connection without answering; the message is not delivered.
    hang_up: bool = False

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


BLOCKED = Outcome(403, "Forbidden: bot was blocked by the user")
KICKED = Outcome(403, "Forbidden: bot was kicked from the supergroup chat")
CHAT_NOT_FOUND = Outcome(400, "Bad Request: chat not found")
THREAD_NOT_FOUND = Outcome(400, "Bad Request: message thread not found")
SERVER_ERROR = Outcome(500, "Internal Server Error")
UNAUTHORIZED = Outcome(401, "Unauthorized")


def retry_after(seconds: int) -> Outcome:
    """A 429 flood-control answer, as Telegram sends it."""
    return Outcome(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


def migrated(new_chat_id: int) -> Outcome:
    """The answer for a group that became a supergroup with a new id."""
    return Outcome(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": new_chat_id},
    )


def slow(seconds: float) -> Outcome:
    """A normal answer, after `seconds`."""
    return Outcome(200, delay=seconds)


def garbage(status: int = 200, body: bytes = b"<html><body>Bad Gateway</body></html>") -> Outcome:
    """An answer that is not the Bot API's JSON, as a broken proxy in front of it gives."""
    return Outcome(status, "garbage", raw=body)


HANG_UP = Outcome(0, "connection closed without an answer", hang_up=True)


@dataclass(frozen=True)
class RateLimits:
    """Limits the server enforces with a 429 (sends per window); None leaves one open.

    At most `per_second` sends in any second overall, `per_chat_per_second` to one chat,
    and `per_group_per_minute` to one group or channel in any minute.
    """

    per_second: float | None = 30
    per_chat_per_second: float | None = 1
    per_group_per_minute: float | None = 20


@dataclass(frozen=True)
class Call:
    """One request the server received."""

    method: str
    params: Mapping[str, Any]
    status: int
    at: float
    # The server answered garbage or nothing (`garbage`, `HANG_UP`): nothing was delivered.
    garbled: bool = False

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


class TelegramError(Exception):
    """Raised inside a method to answer with an error."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.description)
        self.outcome = outcome


@dataclass
class _Script:
    outcomes: collections.deque[Outcome] = field(default_factory=collections.deque)
    always: Outcome | None = None


class _HTMLCheck(html.parser.HTMLParser):
    """Telegram's HTML parse mode: a few tags, four named entities, balanced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unmatched end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def parse_html(text: str) -> str:
    """The plain text Telegram would show for `text` in HTML mode; raises on bad HTML."""
    for pattern, problem in (
        (_BARE_AMPERSAND, "Can't parse entities: unsupported entity"),
        (_BARE_LESS_THAN, "Can't parse entities: unexpected <"),
    ):
        if pattern.search(text):
            raise TelegramError(Outcome(400, f"Bad Request: {problem}"))
    check = _HTMLCheck()
    check.feed(text)
    check.close()
    if check.error is None and check.stack:
        check.error = f'Can\'t find end tag corresponding to start tag "{check.stack[-1]}"'
    if check.error:
        raise TelegramError(Outcome(400, f"Bad Request: can't parse entities: {check.error}"))
    return "".join(check.parts)


def utf16_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram:
    """The fake server and everything a test can do with it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int = BOT_ID,
        username: str = BOT_USERNAME,
        limits: RateLimits | None = None,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.limits = limits
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.port = 0
        # Update ids only grow, as Telegram's do: a long poll still open from an earlier
        # test confirms (drops) only updates older than its offset.
        self._update_ids = itertools.count(1)
        # Bumped by `reset`: a slow request that arrived before a reset belongs to the test
        # that has ended, and must not be recorded among (or act on) the next test's calls.
        self._generation = 0
        self.reset()

    # Lifecycle

    @property
    def base_url(self) -> str:
        """The `TELEGRAM_API_BASE_URL` (PTB's `base_url`) pointing here."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeTelegram:
        """Listen on a free loopback port, on a thread of its own."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        started = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._wakeup = asyncio.Event()
            self._stopping = asyncio.Event()
            server = await asyncio.start_server(self._connection, sock=sock, backlog=1024)
            started.set()
            await self._stopping.wait()
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        self._thread = threading.Thread(
            target=lambda: asyncio.run(main()), name="fake-telegram", daemon=True
        )
        self._thread.start()
        if not started.wait(5):
            raise RuntimeError("the fake Telegram server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget everything a test did: calls, updates, chats, failures, limits."""
        with self._lock:
            self._generation += 1
            self.calls: list[Call] = []
            self.calls_by_method: collections.Counter[str] = collections.Counter()
            self.messages_received: collections.Counter[int | str] = collections.Counter()
            self.rate_limited = 0
            self.revoked = False
            self.webhook: dict[str, Any] = {"url": ""}
            self.commands: dict[tuple[str, str, int | None], list[dict[str, Any]]] = {}
            self.chats: dict[int, dict[str, Any]] = {}
            self.members: dict[tuple[int, int], str] = {}
            self.messages: dict[tuple[int, int], dict[str, Any]] = {}
            self._updates: list[dict[str, Any]] = []
            self._message_ids: dict[int, Iterator[int]] = {}
            self._callback_ids = itertools.count(1)
            self._scripts: dict[int | str, _Script] = {}
            self._windows: dict[object, collections.deque[float]] = {}

    # What a test sets up

    def add_chat(
        self,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        username: str | None = None,
        forum: bool = False,
        admins: Mapping[int, str] | None = None,
        bot_status: str = "member",
    ) -> dict[str, Any]:
        """Make a chat known to getChat/getChatMember; `admins` maps user ids to statuses."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if title is not None:
            chat["title"] = title
        if username is not None:
            chat["username"] = username
        if chat_type == "private":
            chat["first_name"] = title or "Reader"
            chat.pop("title", None)
        if forum:
            chat["is_forum"] = True
        with self._lock:
            self.chats[chat_id] = chat
            for user_id, status in (admins or {}).items():
                self.members[(chat_id, user_id)] = status
            self.members[(chat_id, self.bot_id)] = bot_status
        return chat

    def script(self, chat_id: int | str, *outcomes: Outcome, always: Outcome | None = None) -> None:
        """Answer the next sends to `chat_id` with `outcomes`, in order (or `always`)."""
        with self._lock:
            script = self._scripts.setdefault(chat_id, _Script())
            script.outcomes.extend(outcomes)
            script.always = always

    def clear_script(self, chat_id: int | str) -> None:
        with self._lock:
            self._scripts.pop(chat_id, None)

    def revoke_token(self) -> None:
        """Answer every request with 401, as Telegram does for a revoked token."""
        self.revoked = True

    # Updates a test queues

    def queue(self, update: dict[str, Any]) -> int:
        """Queue one update for getUpdates; returns its update_id."""
        with self._lock:
            update_id = next(self._update_ids)
            self._updates.append({"update_id": update_id, **update})
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)
        return update_id

    @staticmethod
    def user(
        user_id: int, first_name: str = "Ada", language_code: str | None = "en"
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        return user

    def chat_of(self, chat_id: int | str) -> dict[str, Any]:
        """The chat object for an id: the registered one, or one guessed from the id."""
        if isinstance(chat_id, str):
            for chat in self.chats.values():
                if chat.get("username") and "@" + chat["username"] == chat_id:
                    return chat
            raise TelegramError(CHAT_NOT_FOUND)
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Reader"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": "A group"}

    def message(
        self,
        chat: Mapping[str, Any],
        user: Mapping[str, Any] | None,
        text: str,
        *,
        thread_id: int | None = None,
        message_id: int | None = None,
        sender_chat: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message object as a user (or a chat, in channels) sends it."""
        message: dict[str, Any] = {
            "message_id": message_id or self._next_message_id(int(chat["id"])),
            "date": int(time.time()),
            "chat": dict(chat),
            "text": text,
        }
        if user is not None:
            message["from"] = dict(user)
        if sender_chat is not None:
            message["sender_chat"] = dict(sender_chat)
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command)}
            ]
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return message

    def say(
        self,
        chat: Mapping[str, Any],
        user: Mapping[str, Any] | None,
        text: str,
        *,
        thread_id: int | None = None,
        message_id: int | None = None,
    ) -> int:
        """Queue a text message (a command if it starts with /) from `user` in `chat`."""
        message = self.message(chat, user, text, thread_id=thread_id, message_id=message_id)
        return self.queue({"message": message})

    def post(self, chat: Mapping[str, Any], text: str) -> int:
        """Queue a post in a channel."""
        return self.queue({"channel_post": self.message(chat, None, text, sender_chat=chat)})

    def press(self, message: Mapping[str, Any], user: Mapping[str, Any], data: str) -> int:
        """Queue a press on an inline button of a message the bot sent (any data)."""
        callback = {
            "id": str(next(self._callback_ids)),
            "from": dict(user),
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
            "message": dict(message),
        }
        return self.queue({"callback_query": callback})

    def member_update(
        self, chat: Mapping[str, Any], user: Mapping[str, Any], old: str, new: str
    ) -> int:
        """Queue a my_chat_member update: the bot's status in `chat` changed."""
        bot = {"id": self.bot_id, "is_bot": True, "first_name": "UNTOC Watch"}
        return self.queue(
            {
                "my_chat_member": {
                    "chat": dict(chat),
                    "from": dict(user),
                    "date": int(time.time()),
                    "old_chat_member": _member(old, bot),
                    "new_chat_member": _member(new, bot),
                }
            }
        )

    # What a test reads

    def calls_to(self, method: str, chat_id: int | str | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self.calls
                if call.method.lower() == method.lower()
                and (chat_id is None or call.chat_id == chat_id)
                and call.status == 200
                and not call.garbled
            ]

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """Messages the bot sent (successfully), to one chat or to all."""
        return self.calls_to("sendMessage", chat_id)

    def bot_message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message the bot sent, as it stands now (after edits)."""
        with self._lock:
            return self.messages[(chat_id, message_id)]

    def last_bot_message(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            own = [m for (c, _), m in self.messages.items() if c == chat_id]
        return max(own, key=lambda m: m["message_id"])

    async def wait_for(
        self, condition: Callable[[], bool], within: float = 5.0, interval: float = 0.005
    ) -> None:
        """Wait (without blocking the caller's loop) until `condition()` holds."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the fake Telegram server did not see what was expected")
            await asyncio.sleep(interval)

    # The server

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive HTTP/1.1 connection; each answer goes out in a single write."""
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                _, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                path, _, query = target.partition("?")
                status, payload = await self._answer(path, query, headers, body)
                if payload is None:  # scripted to hang up
                    break
                if isinstance(payload, bytes):
                    data, content_type = payload, "text/html; charset=utf-8"
                else:
                    data, content_type = json.dumps(payload).encode(), "application/json"
                head = (
                    f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
                    f"Content-Type: {content_type}\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                writer.write(head.encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _answer(
        self, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | bytes | None]:
        if not path.startswith("/bot") or path.count("/") != 2:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = path[len("/bot") :].split("/", 1)
        if token != self.token or self.revoked:
            return 401, UNAUTHORIZED.body()
        params = _params(query, headers.get("content-type", ""), body)
        name = method.lower()
        handler = getattr(self, f"_m_{name}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        with self._lock:
            generation = self._generation
        outcome = self._scripted(name, params)
        if outcome is not None and outcome.delay:
            await asyncio.sleep(outcome.delay)
            with self._lock:
                stale = self._generation != generation
            if stale:  # its test ended while it waited; its client gave up long ago
                return 504, {"ok": False, "error_code": 504, "description": "Gateway Timeout"}
        if outcome is not None and (outcome.raw is not None or outcome.hang_up):
            self._record(method, params, outcome.status, garbled=True)
            return outcome.status, outcome.raw
        try:
            if outcome is not None and outcome.status != 200:
                raise TelegramError(outcome)
            if name in SENDING_METHODS:
                self._check_rate(params.get("chat_id"))
            result = await handler(params)
        except TelegramError as error:
            self._record(method, params, error.outcome.status)
            return error.outcome.status, error.outcome.body()
        self._record(method, params, 200)
        return 200, {"ok": True, "result": result}

    def _record(
        self, method: str, params: Mapping[str, Any], status: int, *, garbled: bool = False
    ) -> None:
        with self._lock:
            self.calls.append(Call(method, params, status, time.monotonic(), garbled))
            self.calls_by_method[method] += 1
            if status == 429:
                self.rate_limited += 1
            elif status == 200 and not garbled and method.lower() in SENDING_METHODS:
                self.messages_received[params.get("chat_id")] += 1

    def _scripted(self, method: str, params: Mapping[str, Any]) -> Outcome | None:
        if method not in SENDING_METHODS | {"editmessagetext", "getchat"}:
            return None
        chat_id = params.get("chat_id")
        with self._lock:
            script = self._scripts.get(chat_id) if chat_id is not None else None
            if script is None:
                return None
            if script.outcomes:
                return script.outcomes.popleft()
            return script.always

    def _check_rate(self, chat_id: Any) -> None:
        limits = self.limits
        if limits is None:
            return
        now = time.monotonic()
        windows: list[tuple[object, float | None, float]] = [
            ("all", limits.per_second, 1.0),
            (("chat", chat_id), limits.per_chat_per_second, 1.0),
        ]
        if isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0):
            windows.append((("group", chat_id), limits.per_group_per_minute, 60.0))
        with self._lock:
            for key, rate, period in windows:
                if rate is None:
                    continue
                window = self._windows.setdefault(key, collections.deque())
                while window and window[0] <= now - period:
                    window.popleft()
                if len(window) >= rate:
                    wait = max(1, math.ceil(window[0] + period - now))
                    raise TelegramError(retry_after(wait))
            for key, rate, _ in windows:
                if rate is not None:
                    self._windows[key].append(now)

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1000))
        return next(counter)

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "UNTOC Watch",
            "username": self.username,
        }

    # Methods

    async def _m_getme(self, params: Mapping[str, Any]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, params: Mapping[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), LONG_POLL_CAP)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = self._updates[:limit]
            if ready or time.monotonic() >= deadline:
                return ready
            assert self._wakeup is not None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), deadline - time.monotonic())

    async def _m_deletewebhook(self, params: Mapping[str, Any]) -> Any:
        self.webhook = {"url": ""}
        return True

    async def _m_setwebhook(self, params: Mapping[str, Any]) -> Any:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://"):
            raise TelegramError(
                Outcome(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
            )
        self.webhook = dict(params)
        return True

    async def _m_getwebhookinfo(self, params: Mapping[str, Any]) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    async def _m_setmycommands(self, params: Mapping[str, Any]) -> Any:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise TelegramError(Outcome(400, "Bad Request: BOT_COMMAND_INVALID"))
            if not 1 <= len(command.get("description", "")) <= 256:
                raise TelegramError(Outcome(400, "Bad Request: command description is invalid"))
        scope = params.get("scope") or {"type": "default"}
        key = (scope["type"], str(params.get("language_code") or ""), scope.get("chat_id"))
        if scope.get("chat_id") is not None and scope["chat_id"] not in self.chats:
            raise TelegramError(CHAT_NOT_FOUND)
        with self._lock:
            self.commands[key] = list(commands)
        return True

    async def _m_deletemycommands(self, params: Mapping[str, Any]) -> Any:
        return True

    async def _m_sendmessage(self, params: Mapping[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None:
            raise TelegramError(Outcome(400, "Bad Request: chat_id is empty"))
        chat = self.chat_of(chat_id)
        text = self._checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            message: dict[str, Any] = {
                "message_id": self._next_message_id(chat["id"]),
                "date": int(time.time()),
                "chat": dict(chat),
                "from": self._bot_user(),
                "text": text,
            }
            thread = params.get("message_thread_id")
            if thread is not None:
                message["message_thread_id"] = thread
                message["is_topic_message"] = True
            if markup is not None:
                message["reply_markup"] = markup
            self.messages[(chat["id"], message["message_id"])] = message
        return message

    async def _m_editmessagetext(self, params: Mapping[str, Any]) -> Any:
        message = self._own_message(params)
        text = self._checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            if message["text"] == text and message.get("reply_markup") == markup:
                raise TelegramError(
                    Outcome(
                        400,
                        "Bad Request: message is not modified: specified new message content "
                        "and reply markup are exactly the same as a current content and reply "
                        "markup of the message",
                    )
                )
            message["text"] = text
            if markup is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = markup
        return message

    async def _m_editmessagereplymarkup(self, params: Mapping[str, Any]) -> Any:
        message = self._own_message(params)
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            if markup is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = markup
        return message

    async def _m_answercallbackquery(self, params: Mapping[str, Any]) -> Any:
        if len(str(params.get("text", ""))) > MAX_CALLBACK_ANSWER:
            raise TelegramError(Outcome(400, "Bad Request: MESSAGE_TOO_LONG"))
        return True

    async def _m_getchat(self, params: Mapping[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id not in self.chats:
            raise TelegramError(CHAT_NOT_FOUND)
        chat = self.chat_of(chat_id if chat_id is not None else 0)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    async def _m_getchatmember(self, params: Mapping[str, Any]) -> Any:
        chat = self.chat_of(params.get("chat_id") or 0)
        if chat["id"] not in self.chats:
            raise TelegramError(CHAT_NOT_FOUND)
        user_id = int(params.get("user_id") or 0)
        status = self.members.get((chat["id"], user_id), "member")
        if user_id == self.bot_id:
            user = {"id": self.bot_id, "is_bot": True, "first_name": "UNTOC Watch"}
        else:
            user = self.user(user_id)
        return _member(status, user)

    async def _m_getchatadministrators(self, params: Mapping[str, Any]) -> Any:
        chat = self.chat_of(params.get("chat_id") or 0)
        if chat["id"] not in self.chats:
            raise TelegramError(CHAT_NOT_FOUND)
        if chat["type"] == "private":
            raise TelegramError(
                Outcome(400, "Bad Request: there are no administrators in the private chat")
            )
        found = []
        for (chat_id, user_id), status in sorted(self.members.items()):
            if chat_id == chat["id"] and status in ("creator", "administrator"):
                user = (
                    {"id": self.bot_id, "is_bot": True, "first_name": "UNTOC Watch"}
                    if user_id == self.bot_id
                    else self.user(user_id)
                )
                found.append(_member(status, user))
        return found

    async def _m_leavechat(self, params: Mapping[str, Any]) -> Any:
        return True

    def _own_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        chat = self.chat_of(params.get("chat_id") or 0)
        key = (chat["id"], int(params.get("message_id") or 0))
        if key not in self.messages:
            raise TelegramError(Outcome(400, "Bad Request: message to edit not found"))
        return self.messages[key]

    def _checked_text(self, params: Mapping[str, Any]) -> str:
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            text = parse_html(text)
        if not text.strip():
            raise TelegramError(Outcome(400, "Bad Request: message text is empty"))
        if utf16_length(text) > MAX_TEXT:
            raise TelegramError(Outcome(400, "Bad Request: message is too long"))
        return text


def _member(status: str, user: Mapping[str, Any]) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": dict(user)}
    if status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=True,
            can_edit_stories=True,
            can_delete_stories=True,
            can_post_messages=True,
            can_edit_messages=True,
        )
    elif status == "creator":
        member.update(is_anonymous=False)
    elif status == "kicked":
        member.update(until_date=0)
    elif status == "restricted":
        member.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            until_date=0,
        )
    return member


def _checked_markup(markup: Any) -> dict[str, Any] | None:
    if not markup:
        return None
    rows = markup.get("inline_keyboard")
    if rows is None:
        return dict(markup)
    for row in rows:
        for button in row:
            if not button.get("text"):
                raise TelegramError(Outcome(400, "Bad Request: BUTTON_TEXT_INVALID"))
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise TelegramError(Outcome(400, "Bad Request: BUTTON_DATA_INVALID"))
            url = button.get("url")
            if url is not None and not url.startswith(("http://", "https://", "tg://")):
                raise TelegramError(Outcome(400, "Bad Request: BUTTON_URL_INVALID"))
    return dict(markup)


def _params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    raw: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if body:
        if content_type.startswith("application/json"):
            raw.update(json.loads(body))
        else:
            raw.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            params[key] = value
        elif key in _JSON_FIELDS:
            params[key] = json.loads(value)
        elif (key == "chat_id" and re.fullmatch(r"-?[0-9]+", value)) or (
            key in _INT_FIELDS and re.fullmatch(r"-?[0-9]+", value)
        ):
            params[key] = int(value)
        elif key in _BOOL_FIELDS:
            params[key] = value == "true"
        else:
            params[key] = value
    return params
