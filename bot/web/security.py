"""What every answer of the web process carries, whatever route or error produced it.

`SecureSite` is the Starlette app with one middleware outside all of Starlette's own, so
that its 500 page, a 404, a 413 from the body limit and a plain-text 400 carry the same
headers as a page: a Content-Security-Policy that allows no script at all and only the
page's own inline style (by its hash), `nosniff`, no framing, no referrer, and HSTS when
the public address is https. A redirect is written with the public address the operator
configured, never with the Host header a client sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A year, as browsers' preload lists ask; sent only when the public address is https.
HSTS_SECONDS = 31_536_000
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def style_hashes(template_dir: Path) -> list[str]:
    """The CSP sources of the inline `<style>` blocks in the templates, by content hash."""
    found: set[str] = set()
    for template in sorted(template_dir.glob("*.html")):
        for css in _STYLE.findall(template.read_text(encoding="utf-8")):
            digest = hashlib.sha256(css.encode("utf-8")).digest()
            found.add(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return sorted(found)


def content_security_policy(styles: Iterable[str]) -> str:
    """The pages use no script, no frame, no plug-in; styles only the hashed inline ones."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'none'",
            "object-src 'none'",
            "style-src " + (" ".join(styles) or "'none'"),
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(public_base_url: str, styles: Iterable[str]) -> list[tuple[str, str]]:
    """The headers every response carries."""
    headers = [
        ("Content-Security-Policy", content_security_policy(styles)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # Personal calendar addresses hold a token: no page passes its address on.
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if public_base_url.startswith("https://"):
        headers.append(("Strict-Transport-Security", f"max-age={HSTS_SECONDS}"))
    return headers


class SecurityHeaders:
    """ASGI middleware: adds the headers to every response start and pins redirects."""

    def __init__(self, app: ASGIApp, public_base_url: str, styles: Sequence[str]) -> None:
        self.app = app
        self.headers = security_headers(public_base_url, styles)
        base = urllib.parse.urlsplit(public_base_url)
        self.base = (base.scheme, base.netloc, base.path.rstrip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers[name] = value
                location = headers.get("location")
                if location is not None and 300 <= message["status"] < 400:
                    headers["location"] = self.pinned(location)
            await send(message)

        # A client that left mid-request (or was cut for a slow body) has nobody to answer.
        with contextlib.suppress(ClientDisconnect):
            await self.app(scope, receive, send_secured)

    def pinned(self, location: str) -> str:
        """`location` on the public address: Starlette builds it from the Host header."""
        parts = urllib.parse.urlsplit(location)
        scheme, netloc, prefix = self.base
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        return urllib.parse.urlunsplit((scheme, netloc, prefix + path, parts.query, ""))


class SecureSite(Starlette):
    """Starlette with `SecurityHeaders` outside its error middleware, so 500s carry them."""

    def __init__(self, *, public_base_url: str, styles: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.public_base_url = public_base_url
        self.styles = list(styles)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.public_base_url, self.styles)
