"""The HTTP server of the web process: uvicorn, with limits on what one client may ask.

uvicorn reads a request head for as long as the client keeps sending it, a line every
few seconds holds a connection for ever, and an oversized head is a 400 that does not
say why. `GuardedProtocol` (uvicorn's h11 protocol) gives each request head
`WEB_HEADER_TIMEOUT` seconds from the connection or the previous answer, and answers a
head over `WEB_MAX_HEADER_BYTES` with a 431; `server_config` sets uvicorn's own limits
(connections at once, keep-alive, graceful shutdown) from the settings.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from starlette.types import ASGIApp
from uvicorn import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from config.settings import Settings

_TOO_LARGE = 431


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head and a 431 for a big one."""

    head_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_too_large = False
        receive = self.conn.next_event

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
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self.head_arrived()

    def on_response_complete(self) -> None:
        self.await_head()  # before a pipelined head is parsed, should it be waiting already
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is not cycle or self.transport.is_closing():
            self.head_arrived()

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
        body = b"Request header fields too large\n"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        event = h11.Response(status_code=_TOO_LARGE, headers=headers, reason=b"Too Large")
        self.transport.write(self.conn.send(event) or b"")
        self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        self.transport.close()


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> Config:
    """uvicorn's configuration with the settings' limits on clients."""
    protocol = type("Protocol", (GuardedProtocol,), {"head_timeout": settings.web_header_timeout})
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
