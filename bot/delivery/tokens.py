"""Signed tokens for the links and forms of email subscriptions: pure, keyed, expiring.

A token is `<body>.<signature>`: the body is the payload and the moment it was issued
as URL-safe base64 JSON, the signature an HMAC-SHA256 of the body under the server's
secret and the token's purpose, so a token made for one purpose (a CSRF token) is
worthless for another (a confirmation). Nothing is stored: the signature is the proof.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

MAX_TOKEN_LENGTH = 2048  # longer is not one of ours: refused before any decoding
PURPOSES = frozenset({"confirm", "manage", "csrf"})


class BadToken(ValueError):
    """A token that is not ours, or was altered: the message says so plainly."""


class ExpiredToken(BadToken):
    """A token of ours whose time is up."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, purpose: str, body: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    mac = hmac.new(secret, f"{purpose}.{body}".encode("ascii"), hashlib.sha256)
    return _b64(mac.digest())


def sign(secret: bytes, purpose: str, payload: Any, issued: dt.datetime | None) -> str:
    """A token carrying `payload` (JSON-able); `issued` None makes one that never expires
    and is the same every time (the manage link of a subscriber)."""
    stamp = int(issued.timestamp()) if issued is not None else 0
    body = _b64(json.dumps([payload, stamp], separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_signature(secret, purpose, body)}"


def verify(
    secret: bytes,
    purpose: str,
    token: str,
    now: dt.datetime,
    max_age: dt.timedelta | None,
) -> Any:
    """The payload of a valid token; raises `BadToken` (or `ExpiredToken`) otherwise."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise BadToken("this link is not one of ours")
    body, dot, signature = token.partition(".")
    if not dot or not body.isascii() or not signature.isascii():
        raise BadToken("this link is not one of ours")
    if not hmac.compare_digest(signature, _signature(secret, purpose, body)):
        raise BadToken("this link is not one of ours, or it was cut short")
    try:
        payload, stamp = json.loads(_unb64(body))
    except (ValueError, TypeError, binascii.Error):  # signed by us: cannot happen, but say so
        raise BadToken("this link is not one of ours") from None
    if max_age is not None:
        issued = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
        if issued > now + dt.timedelta(minutes=5) or now - issued > max_age:
            raise ExpiredToken("this link has expired")
    return payload
