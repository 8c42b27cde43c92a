"""A local fake Slack: Web API, incoming webhooks, response URLs and Socket Mode.

Real HTTP on 127.0.0.1 and a free port, for the real slack-sdk and slack-bolt clients:
point `AsyncWebClient(base_url=fake.api_url)` at it, use `fake.webhook_url(...)` as a
webhook target and `fake.response_url(...)` in a signed payload. It answers
`auth.test`, `chat.postMessage`, `chat.postEphemeral`, `views.open` and
`apps.connections.open`,
checks what Slack checks (the token, Block Kit limits, the message size) and answers
in Slack's own shapes: `{"ok": false, "error": "channel_not_found"}` with HTTP 200 for
the Web API, a status and a short text body for webhooks (404 `no_service`, 410
`channel_is_archived`), HTTP 429 with `Retry-After` for rate limits. Failures can be
scripted per channel or webhook (also as a broken proxy's plain-text page in place of
Slack's answer), one message per second per channel can be enforced,
and every call is recorded.

Socket Mode: `apps.connections.open` gives a WebSocket on the same server that says
hello; `socket_send` queues an envelope for the connected client and `socket_acks`
holds what it answered.

The server (Starlette under uvicorn) runs on a thread of its own with its own loop, so
tests on any loop, or none, can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

BOT_TOKEN = "xoxb-1234-5678-fake"
APP_TOKEN = "xapp-1-A111-222-fake"
TEAM_ID = "T0FAKE"
BOT_USER_ID = "U0BOT"
MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
# The Web API methods the fake answers about one channel (scripted failures apply).
CHANNEL_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "conversations.info"})


def signed_headers(
    body: str | bytes, secret: str, *, age: int = 0, content_type: str | None = None
) -> dict[str, str]:
    """The headers Slack sends with a request to an app: `body` signed with the app's
    signing secret `age` seconds ago: HMAC-SHA256 over `v0:timestamp:body`, body as the
    bytes sent (hostile bodies need not be UTF-8)."""
    timestamp = str(int(time.time()) - age)
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": content_type or "application/x-www-form-urlencoded",
    }


def command_body(text: str, *, channel: str, user: str, **fields: str) -> str:
    """A `/untoc` slash command's form body, as Slack posts it to the app."""
    values = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "coalition",
        "channel_id": channel,
        "channel_name": "coalition-alerts",
        "user_id": user,
        "user_name": "ada",
        "command": "/untoc",
        "text": text,
        "api_app_id": "A111",
        "response_url": "https://hooks.slack.com/commands/T0FAKE/1/abc",
        "trigger_id": "1.2.3",
    }
    values.update(fields)
    return urllib.parse.urlencode(values)


def press_payload(
    action_id: str, value: object, *, channel: str, user: str, response_url: str
) -> dict[str, Any]:
    """A `block_actions` payload, as Slack posts it for a button under an alert."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "coalition"},
        "user": {"id": user, "username": "ada", "team_id": TEAM_ID},
        "api_app_id": "A111",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1650000001.000100", "channel_id": channel},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "coalition-alerts"},
        "message": {"type": "message", "ts": "1650000001.000100", "text": "alert"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": "1650000002.000100",
            }
        ],
    }


@dataclass
class Call:
    """One request the fake received."""

    method: str  # "chat.postMessage", "webhook", "response", ...
    body: dict[str, Any]
    token: str | None
    status: int
    error: str | None
    at: float  # time.monotonic()
    key: str | None = None  # the channel id, the webhook path or the response id

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


@dataclass
class Failure:
    """A scripted answer: an error in Slack's shape, optionally a 429's `Retry-After`."""

    error: str
    status: int = 200
    retry_after: int | None = None
    times: int = 1
    # Answer this text instead of Slack's JSON (a proxy's page, a cut-off body).
    body: str | None = None


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    last_post: dict[str, float] = field(default_factory=dict)
    hooks: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=lambda: {BOT_TOKEN})
    app_tokens: set[str] = field(default_factory=lambda: {APP_TOKEN})
    revoked: set[str] = field(default_factory=set)
    enforce_rate: bool = False
    outbox: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    sockets: int = 0
    views: list[dict[str, Any]] = field(default_factory=list)
    # A trigger_id opens one view, once (Slack's also expire after 3 seconds).
    used_triggers: set[str] = field(default_factory=set)
    # Channels a test declared: id -> (private, the app is a member). Any other channel
    # is a public one the app is in.
    channels: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    # Seconds the fake waits before answering a call about a channel.
    delays: dict[str, float] = field(default_factory=dict)


def block_problem(blocks: Any) -> str | None:
    """Why Slack would refuse these blocks (`invalid_blocks`), or None."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "too many blocks"
    for block in blocks:
        kind = block.get("type")
        text = block.get("text") or {}
        if kind == "header" and (text.get("type") != "plain_text" or len(text["text"]) > 150):
            return "header"
        if kind == "section" and not 0 < len(text.get("text", "")) <= MAX_SECTION:
            return "section"
        if kind == "context":
            for element in block.get("elements", []):
                if not 0 < len(element.get("text", "")) <= MAX_SECTION:
                    return "context"
        if kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                return "actions"
            ids = [e.get("action_id") for e in elements]
            if len(set(ids)) != len(ids):
                return "duplicate action_id"
            for element in elements:
                if len(element["text"]["text"]) > MAX_BUTTON_TEXT:
                    return "button text"
                if len(element.get("value", "")) > MAX_BUTTON_VALUE:
                    return "button value"
                if "url" in element and not str(element["url"]).startswith("http"):
                    return "button url"
    return None


class FakeSlack:
    """The fake server; `start()` it (or use it as a context manager), `stop()` it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        # Bumped by `reset`: a slow request that arrived before a reset belongs to the test
        # that has ended, and must not be recorded in the next test's calls.
        self._generation = 0
        self._ts = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # Addresses.

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        """The `base_url` for slack-sdk's `AsyncWebClient`."""
        return self.base_url + "api/"

    @property
    def webhook_base(self) -> str:
        return self.base_url + "services/"

    def webhook_url(self, path: str = "T0FAKE/B0FAKE/s3cr3tHookPart") -> str:
        """A webhook the fake accepts (one it does not know answers 404 `no_service`)."""
        with self._lock:
            self._state.hooks.add(path)
        return self.webhook_base + path

    def response_url(self, name: str = "1") -> str:
        return f"{self.base_url}response/{name}"

    # Control.

    def start(self) -> FakeSlack:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Slack server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget calls, scripts and hooks; tokens valid again; no rate enforcement."""
        with self._lock:
            self._state = _State()
            self._generation += 1

    def fail(
        self,
        key: str,
        error: str,
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        body: str | None = None,
    ) -> None:
        """Answer the next `times` posts to `key` (a channel id or webhook path) with an error,
        or with `body` as plain text in place of Slack's answer."""
        with self._lock:
            self._state.failures.setdefault(key, []).append(
                Failure(error, status, retry_after, times, body)
            )

    def revoke(self, token: str = BOT_TOKEN) -> None:
        with self._lock:
            self._state.revoked.add(token)

    def add_channel(self, channel: str, *, private: bool = False, member: bool = True) -> None:
        """Declare a channel: private or public, with the app in it or not. Slack hides a
        private channel from an app that is not in it, and refuses posts there; the app
        posts in any public channel (its `chat:write.public` scope)."""
        with self._lock:
            self._state.channels[channel] = (private, member)

    def slow(self, channel: str, seconds: float) -> None:
        """Answer calls about `channel` only after `seconds`."""
        with self._lock:
            self._state.delays[channel] = seconds

    def reaches(self, channel: str) -> bool:
        """Whether the app may post in `channel`."""
        with self._lock:
            private, member = self._state.channels.get(channel, (False, True))
        return member or not private

    def enforce_rate_limit(self, on: bool = True) -> None:
        """Answer 429 to a second post to one channel within a second."""
        with self._lock:
            self._state.enforce_rate = on

    # What happened.

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def posts(self) -> list[Call]:
        """Accepted messages: chat.postMessage and webhook posts that succeeded."""
        return [c for c in self.calls if c.method in ("chat.postMessage", "webhook") and c.ok]

    # Socket Mode.

    def socket_send(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            self._state.outbox.append(envelope)

    @property
    def socket_acks(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.acks)

    @property
    def socket_connections(self) -> int:
        with self._lock:
            return self._state.sockets

    # The server.

    def _record(self, call: Call) -> None:
        with self._lock:
            self._state.calls.append(call)

    def _scripted(self, key: str) -> Failure | None:
        with self._lock:
            queue = self._state.failures.get(key)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _rate_limited(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._state.last_post.get(key)
            if self._state.enforce_rate and last is not None and now - last < 1.0:
                return True
            self._state.last_post[key] = now
            return False

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST", "GET"]),
                Route("/services/{hook:path}", self._webhook, methods=["POST"]),
                Route("/response/{name}", self._response, methods=["POST"]),
                WebSocketRoute("/socket", self._socket),
            ]
        )

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        body = await _body(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
        token = token or body.get("token")
        channel = str(body.get("channel", "")) or None

        def answer(payload: dict[str, Any], status: int = 200, **headers: str) -> Response:
            error = None if payload.get("ok") else str(payload.get("error"))
            self._record(Call(method, body, token, status, error, time.monotonic(), channel))
            return JSONResponse(payload, status_code=status, headers=headers)

        with self._lock:
            known = self._state.app_tokens if method == "apps.connections.open" else None
            known = known if known is not None else self._state.tokens
            revoked = token in self._state.revoked
        if token is None:
            return answer({"ok": False, "error": "not_authed"})
        if revoked:
            return answer({"ok": False, "error": "token_revoked"})
        if token not in known:
            return answer({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return answer(
                {
                    "ok": True,
                    "url": "https://fake.slack.test/",
                    "team": "Coalition",
                    "user": "untoc",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": "B0BOT",
                }
            )
        if method == "apps.connections.open":
            url = f"ws://127.0.0.1:{self.port}/socket"
            return answer({"ok": True, "url": url})
        if method == "views.open":
            return answer(self._open_view(body))
        if method not in CHANNEL_METHODS:
            return answer({"ok": False, "error": "unknown_method"})
        if channel is None:
            return answer({"ok": False, "error": "channel_not_found"})
        with self._lock:
            delay = self._state.delays.get(channel, 0.0)
            generation = self._generation
        if delay:
            await asyncio.sleep(delay)
            with self._lock:
                stale = self._generation != generation  # its test ended while it waited
            if stale:
                return JSONResponse({"ok": False, "error": "request_timeout"}, status_code=504)
        failure = self._scripted(channel)
        if failure is not None:
            if failure.body is not None:
                now = time.monotonic()
                self._record(Call(method, body, token, failure.status, failure.error, now, channel))
                return PlainTextResponse(failure.body, status_code=failure.status)
            if failure.status == 429:
                retry = str(failure.retry_after or 1)
                return answer({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": retry})
            if failure.status >= 500:
                now = time.monotonic()
                self._record(Call(method, body, token, failure.status, failure.error, now, channel))
                return PlainTextResponse("upstream trouble", status_code=failure.status)
            return answer({"ok": False, "error": failure.error}, failure.status)
        if method == "conversations.info":
            return answer(self._conversation(channel))
        if not self.reaches(channel):  # hidden from the app, as Slack hides it
            return answer({"ok": False, "error": "channel_not_found"})
        if method == "chat.postMessage" and self._rate_limited(channel):
            return answer({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": "1"})
        problem = _message_problem(body)
        if problem is not None:
            return answer({"ok": False, "error": problem})
        ts = f"{1650000000 + next(self._ts)}.000100"
        if method == "chat.postEphemeral":
            return answer({"ok": True, "message_ts": ts})
        message = {"type": "message", "text": body.get("text", ""), "ts": ts}
        return answer({"ok": True, "channel": channel, "ts": ts, "message": message})

    def _open_view(self, body: dict[str, Any]) -> dict[str, Any]:
        """views.open: a modal, checked as Slack checks it, for a trigger seen once."""
        trigger = body.get("trigger_id")
        view = body.get("view")
        if isinstance(view, str):
            with contextlib.suppress(ValueError):
                view = json.loads(view)
        if not isinstance(trigger, str) or not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            if trigger in self._state.used_triggers:
                return {"ok": False, "error": "expired_trigger_id"}
            self._state.used_triggers.add(trigger)
        problem = view_problem(view)
        if problem is not None:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": [problem]},
            }
        assert isinstance(view, dict)  # view_problem refused anything else
        with self._lock:
            self._state.views.append(view)
            count = len(self._state.views)
        return {"ok": True, "view": {"id": f"V{count:07d}", **view}}

    @property
    def views(self) -> list[dict[str, Any]]:
        """The modals the app opened, in order."""
        with self._lock:
            return list(self._state.views)

    def _conversation(self, channel: str | None) -> dict[str, Any]:
        """conversations.info: what Slack shows this app of a channel."""
        with self._lock:
            private, member = self._state.channels.get(channel or "", (False, True))
        if channel is None or (private and not member):
            return {"ok": False, "error": "channel_not_found"}
        found = {"id": channel, "is_channel": not private, "is_private": private}
        return {"ok": True, "channel": {**found, "is_member": member}}

    async def _webhook(self, request: Request) -> Response:
        hook = request.path_params["hook"]
        body = await _body(request)

        def answer(text: str, status: int = 200, **headers: str) -> Response:
            error = None if status == 200 else text
            self._record(Call("webhook", body, None, status, error, time.monotonic(), hook))
            return PlainTextResponse(text, status_code=status, headers=headers)

        with self._lock:
            known = hook in self._state.hooks
        if not known:
            return answer("no_service", 404)
        failure = self._scripted(hook)
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            if failure.body is not None:
                now = time.monotonic()
                self._record(Call("webhook", body, None, failure.status, failure.error, now, hook))
                return PlainTextResponse(failure.body, status_code=failure.status, headers=headers)
            return answer(failure.error, failure.status, **headers)
        if self._rate_limited(hook):
            return answer("rate_limited", 429, **{"Retry-After": "1"})
        problem = _message_problem(body)
        if problem is not None:
            return answer("invalid_blocks" if problem == "invalid_blocks" else problem, 400)
        return answer("ok")

    async def _response(self, request: Request) -> Response:
        body = await _body(request)
        name = request.path_params["name"]
        self._record(Call("response", body, None, 200, None, time.monotonic(), name))
        return PlainTextResponse("ok")

    async def _socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        with self._lock:
            self._state.sockets += 1
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}}
        await websocket.send_text(json.dumps(hello))
        receiving = asyncio.create_task(self._socket_receive(websocket))
        try:
            while not receiving.done():
                with self._lock:
                    pending, self._state.outbox = self._state.outbox, []
                for envelope in pending:
                    await websocket.send_text(json.dumps(envelope))
                await asyncio.sleep(0.02)
        finally:
            receiving.cancel()
            with self._lock:
                self._state.sockets -= 1

    async def _socket_receive(self, websocket: WebSocket) -> None:
        try:
            while True:
                message = await websocket.receive_text()
                data = json.loads(message)
                if isinstance(data, dict) and "envelope_id" in data:
                    with self._lock:
                        self._state.acks.append(data)
        except (WebSocketDisconnect, RuntimeError):
            return


async def _body(request: Request) -> dict[str, Any]:
    """The arguments of a call, from its body and, as Slack also takes them, its query."""
    raw = await request.body()
    query = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            return {"_invalid": raw.decode("utf-8", "replace")}
        return {**query, **parsed} if isinstance(parsed, dict) else {"_invalid": parsed}
    form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    form = {**query, **form}
    for name in ("blocks", "payload"):
        if name in form:
            with contextlib.suppress(ValueError):
                form[name] = json.loads(form[name])
    return form


MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE = 24
MAX_LABEL = 2000
MAX_METADATA = 3000


def view_problem(view: Any) -> str | None:
    """What Slack would refuse in a modal: its type, title, blocks, labels and metadata."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return "view must be a modal"
    title = view.get("title")
    if not isinstance(title, dict) or title.get("type") != "plain_text":
        return "title must be plain_text"
    if not 0 < len(str(title.get("text", ""))) <= MAX_VIEW_TITLE:
        return f"title must be 1 to {MAX_VIEW_TITLE} characters"
    for button in ("submit", "close"):
        if button in view and len(str(view[button].get("text", ""))) > MAX_VIEW_TITLE:
            return f"{button} must be at most {MAX_VIEW_TITLE} characters"
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_VIEW_BLOCKS:
        return "blocks must be a list of 1 to 100 blocks"
    ids = set()
    for block in blocks:
        if not isinstance(block, dict):
            return "a block must be an object"
        if block.get("type") == "input":
            label = block.get("label") or {}
            if not isinstance(block.get("element"), dict) or not label.get("text"):
                return "an input needs a label and an element"
            if len(str(label.get("text"))) > MAX_LABEL:
                return "a label is too long"
        block_id = block.get("block_id")
        if block_id is not None and block_id in ids:
            return f"duplicate block_id {block_id}"
        ids.add(block_id)
    if len(str(view.get("private_metadata", ""))) > MAX_METADATA:
        return "private_metadata must be at most 3000 characters"
    return None


def _message_problem(body: dict[str, Any]) -> str | None:
    text = body.get("text")
    blocks = body.get("blocks")
    if not text and not blocks:
        return "no_text"
    if text is not None and len(str(text)) > MAX_TEXT:
        return "msg_too_long"
    if blocks is not None and block_problem(blocks) is not None:
        return "invalid_blocks"
    return None
