"""The HTTP server of the web process: uvicorn, with limits on what one client may ask.

uvicorn reads a request head for as long as the client keeps sending it, a line every
few seconds holds a connection for ever, and an oversized head is a 400 that does not
say why. `GuardedProtocol` (uvicorn's h11 protocol) gives each request head
`WEB_HEADER_TIMEOUT` seconds from the connection or the previous answer and its body
`WEB_BODY_TIMEOUT` seconds from the head (then a 408, and the connection is closed), and
answers a head over `WEB_MAX_HEADER_BYTES` with a 431. `server_config` sets uvicorn's
own limits (connections at once, keep-alive, graceful shutdown) from the settings. The
answers written without the app (a malformed request's 400, the 408, the 431, the 503
beyond the connection limit) get the security headers here, as the app's middleware
gives them to the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import h11
from starlette.types import ASGIApp
from uvicorn import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.web.security import security_headers
from config.settings import Settings

_TOO_LARGE = 431


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines on each request's head and body, a 431 for a
    big head, and the security headers on every answer it writes."""

    head_timeout: float = 10.0
    body_timeout: float = 30.0
    # `security_headers()`, for the answers uvicorn writes itself
    own_headers: tuple[tuple[bytes, bytes], ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_deadline: asyncio.TimerHandle | None = None
        self.body_deadline: asyncio.TimerHandle | None = None
        self.head_too_large = False
        receive = self.conn.next_event
        write = self.conn.send

        def send(event: Any) -> Any:
            if isinstance(event, h11.Response):
                event = _with_headers(event, self.own_headers)
            return write(event)

        self.conn.send = send  # type: ignore[method-assign]

        def next_event() -> Any:
            try:
                return receive()
            except h11.RemoteProtocolError as exc:
                self.head_too_large = exc.error_status_hint == _TOO_LARGE
                raise

        self.conn.next_event = next_event  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_arrived()
        self.body_arrived()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self.head_arrived()
        if self.conn.their_state is h11.SEND_BODY:
            self.await_body()
        else:
            self.body_arrived()

    def body_arrived(self) -> None:
        if self.body_deadline is not None:
            self.body_deadline.cancel()
            self.body_deadline = None

    def body_late(self) -> None:
        """The body did not come in time: a 408 if nothing was answered yet, then close."""
        self.body_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self.write_plain(408, b"Request Timeout", b"The request body came too slowly\n")
        if cycle is not None:
            # The app hears that its client left, and nothing it sends is written after this.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def on_response_complete(self) -> None:
        self.body_arrived()
        self.await_head()  # before a pipelined head is parsed, should it be waiting already
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is not cycle or self.transport.is_closing():
            self.head_arrived()
        self.await_body()  # a pipelined request may be waiting for its body already

    def await_body(self) -> None:
        if self.conn.their_state is h11.SEND_BODY and self.body_deadline is None:
            self.body_deadline = self.loop.call_later(self.body_timeout, self.body_late)

    def await_head(self) -> None:
        self.head_arrived()
        self.head_deadline = self.loop.call_later(self.head_timeout, self.head_late)

    def head_arrived(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def head_late(self) -> None:
        """The head did not come in time: a slow or idle client loses its connection."""
        self.head_deadline = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if not self.head_too_large:
            super().send_400_response(msg)
            return
        self.write_plain(_TOO_LARGE, b"Too Large", b"Request header fields too large\n")
        self.transport.close()

    def write_plain(self, status: int, reason: bytes, body: bytes) -> None:
        """A plain-text answer written here, without the app; the connection closes after."""
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        event = h11.Response(status_code=status, headers=headers, reason=reason)
        self.transport.write(self.conn.send(event) or b"")
        self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")


def _with_headers(event: h11.Response, extra: Sequence[tuple[bytes, bytes]]) -> h11.Response:
    """`event` with each of `extra` it does not carry yet."""
    present = {name.lower() for name, _ in event.headers}
    missing = [(name, value) for name, value in extra if name.lower() not in present]
    if not missing:
        return event
    return h11.Response(
        status_code=event.status_code,
        headers=[*event.headers, *missing],
        reason=event.reason,
        http_version=event.http_version,
    )


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> Config:
    """uvicorn's configuration with the settings' limits on clients."""
    headers = tuple(
        (name.lower().encode("ascii"), value.encode("ascii"))
        for name, value in security_headers(settings.public_base_url, ())
    )
    protocol = type(
        "Protocol",
        (GuardedProtocol,),
        {
            "head_timeout": settings.web_header_timeout,
            "body_timeout": settings.web_body_timeout,
            "own_headers": headers,
        },
    )
    return Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level="info",
        lifespan="on",
        limit_concurrency=settings.web_max_connections,
        timeout_keep_alive=int(max(settings.web_keep_alive, 1)),
        timeout_graceful_shutdown=int(settings.web_shutdown_timeout),
        h11_max_incomplete_event_size=settings.web_max_header_bytes,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )
