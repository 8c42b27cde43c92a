"""A real SMTP relay on loopback (aiosmtpd) for the email channel: STARTTLS, login, scripts.

It keeps every message it accepted (as bytes, for Python's email parser), refuses the
recipients a test scripts (`refuse("gone@example.org", 550)`, or only the first times:
`refuse("busy@example.org", 451, times=1)`), answers slowly where told (`delay`), can go
away and come back (`stop`, `start`), and requires STARTTLS and a login, as a provider's
relay does. The certificate comes from a throw-away test CA
(trustme); `client_context` trusts it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "untoc", "relay-password"


@dataclass
class _State:
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    # How many more times a scripted refusal is given (absent: every time).
    refusals_left: dict[str, int] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)


class _Handler:
    def __init__(self, relay: SmtpRelay) -> None:
        self.relay = relay

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.relay.lock:
            state = self.relay.state
            code = state.refusals.get(address)
            if code is not None and address in state.refusals_left:
                if state.refusals_left[address] <= 0:
                    code = None
                else:
                    state.refusals_left[address] -= 1
            delay = state.delays.get(address, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if code is not None:
            return f"{code} {'No such user' if code >= 500 else 'Try again later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.relay.lock:
            self.relay.state.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpRelay:
    """Start with `with SmtpRelay() as relay:`; `relay.url` is an SMTP_URL for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state = _State()
        self.ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(server_context)
        self.client_context = ssl.create_default_context()
        self.ca.configure_trust(self.client_context)
        self.port = _free_port()
        self._running = False
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=server_context,
            require_starttls=True,
            authenticator=_authenticate,
            auth_required=True,
            enable_SMTPUTF8=True,  # as providers do: internationalised addresses
        )

    @property
    def url(self) -> str:
        return f"smtp://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpRelay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with self.lock:
            if self._running:
                return
            self._running = True
        self._controller.start()

    def stop(self) -> None:
        """Go away: connections are refused until `start` (the same port, the same state)."""
        with self.lock:
            if not self._running:
                return
            self._running = False
        self._controller.stop()

    def reset(self) -> None:
        with self.lock:
            self.state = _State()

    def refuse(self, address: str, code: int, *, times: int | None = None) -> None:
        with self.lock:
            self.state.refusals[address] = code
            if times is not None:
                self.state.refusals_left[address] = times

    def delay(self, address: str, seconds: float) -> None:
        """Answer the recipient `address` only after `seconds`."""
        with self.lock:
            self.state.delays[address] = seconds

    def write_ca(self, path: str) -> str:
        """The test CA's certificate as a PEM file, for a process's SSL_CERT_FILE."""
        self.ca.cert_pem.write_to_path(path)
        return path

    @property
    def messages(self) -> list[tuple[str, list[str], bytes]]:
        with self.lock:
            return list(self.state.messages)
