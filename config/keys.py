"""Personal calendar tokens, and the key they are made with, kept outside the database.

A subscriber's row holds a random nonce; its calendar token is the nonce followed by an
HMAC of it under the calendar key. The web finds the row by the nonce and trusts it only
when the HMAC checks, in constant time. So the database never holds a token: a copy of it
cannot open anybody's calendar, and every process that has the key can show the link again
(in each alert's "Add to calendar" button, `/calendar` on the bots, the command line).

Tokens made before this scheme are kept as SHA-256 hashes and go on working. The
database keeps the key's fingerprint, so that a process started with another key (a
second machine without the same `CALENDAR_SECRET`, a lost key file) refuses to start
instead of giving out links that do not open.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from config.settings import Settings

NONCE_LENGTH = 22  # 16 random bytes, URL-safe base64
MAC_LENGTH = 22  # 128 bits of HMAC-SHA256
TOKEN_LENGTH = NONCE_LENGTH + MAC_LENGTH
_MIN_KEY_LENGTH = 32


FINGERPRINT_NAME = "calendar-key-fingerprint"
# What a process says when its key is not the one the others use.
DIFFERENT_KEY = (
    "this process's calendar key is not the one the service's other processes use (or "
    "used before), so the calendar links it shows would not open: give every process the "
    "same CALENDAR_SECRET, or bring back the CALENDAR_KEY_FILE that was in use; to start "
    "again with this key (the links given out so far stop working), run "
    "`untoc-watch db forget-calendar-key`"
)


class KeyFileError(RuntimeError):
    """The key file cannot be used; the message names the file and the fix."""


def new_nonce() -> str:
    """A fresh random nonce for a subscriber's calendar (128 bits)."""
    return secrets.token_urlsafe(16)


def calendar_token(key: bytes, nonce: str) -> str:
    """The personal calendar token of the subscriber whose nonce is `nonce`."""
    return nonce + _mac(key, nonce)


def nonce_of(key: bytes, token: str) -> str | None:
    """The nonce inside `token` when its HMAC is right under `key`; None otherwise."""
    if len(token) != TOKEN_LENGTH or not token.isascii():
        return None
    nonce, mac = token[:NONCE_LENGTH], token[NONCE_LENGTH:]
    return nonce if hmac.compare_digest(_mac(key, nonce), mac) else None


def key_fingerprint(key: bytes) -> str:
    """What the database keeps to tell whether two processes share one key: an HMAC of a
    fixed text under the key, which opens nothing and gives the key away to nobody."""
    return hmac.new(key, b"calendar-key-fingerprint", hashlib.sha256).hexdigest()


def legacy_hash(token: str) -> str:
    """How a token made before nonces is kept: its SHA-256, in hexadecimal."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _mac(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, f"calendar.{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:MAC_LENGTH]


def calendar_key(settings: Settings) -> bytes:
    """`CALENDAR_SECRET`, or the key in `CALENDAR_KEY_FILE`, made there the first time."""
    if settings.calendar_secret is not None:
        return settings.calendar_secret.get_secret_value().encode("ascii")
    return key_from_file(settings.calendar_key_file)


def key_from_file(path: Path) -> bytes:
    """The key kept in `path`, made (readable by its owner only) if there is none yet.

    Two processes starting at once both write a file of their own and link it into
    place; the first link wins and both read the winner's key.
    """
    if not path.exists():
        try:
            _make_key_file(path)
        except OSError as exc:
            raise KeyFileError(
                f"cannot make the calendar key file {path} ({exc.strerror}); set "
                "CALENDAR_KEY_FILE to a place this user may write, or set CALENDAR_SECRET"
            ) from None
    return _read_key(path)


def _make_key_file(path: Path) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())  # never an empty key after a crash
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:  # a file system without hard links
            with contextlib.suppress(FileExistsError):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                    handle.write(partial.read_text(encoding="ascii"))
                    handle.flush()
                    os.fsync(handle.fileno())
    finally:
        partial.unlink(missing_ok=True)


def _read_key(path: Path) -> bytes:
    """The key in `path`, read through one descriptor that is checked before it is read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise KeyFileError(
            f"cannot read the calendar key file {path} ({exc.strerror}); it must be a plain "
            "file, no link, readable by this user; or set CALENDAR_SECRET"
        ) from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise KeyFileError(
                f"{path} belongs to another user; remove it (a new key is made) or set "
                "CALENDAR_SECRET"
            )
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"{path} can be read or changed by other users; run `chmod 600 {path}`"
            )
        key = handle.read(1024).decode("ascii", errors="replace").strip()
    if len(key) < _MIN_KEY_LENGTH or not key.isascii() or "\ufffd" in key:
        raise KeyFileError(
            f"{path} does not hold a key of {_MIN_KEY_LENGTH} or more characters; remove it "
            "(a new key is made, and the personal calendar links shown so far stop working)"
        )
    return key.encode("ascii")
