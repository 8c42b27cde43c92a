"""Subscribing by email: double opt-in, the links in every message, the limits on sign-ups.

A sign-up stores nothing about the person: it is counted (as keyed hashes, for its
limits) and a confirmation is queued in the outbox for the email channel. Its link
carries the choice itself (address, filters, language, digest), signed and expiring
(`tokens.py`); opening it and pressing the button creates the subscriber, or updates
the one that exists. The answer to a sign-up is the same whether or not the address is
known. Every later message carries a manage link and a one-click unsubscribe link,
both a signed token of the subscriber that does not expire.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

from bot.db import email as signups
from bot.db import outbox
from bot.db import subscribers as subs
from bot.db.models import Digest, Subscriber
from bot.db.store import Store
from bot.delivery import tokens
from bot.text.i18n import LANGUAGES

EMAIL = "email"  # the channel's name, as subscribers and the dispatcher know it
CONFIRM_FOR = dt.timedelta(days=3)  # how long a confirmation link works
CSRF_FOR = dt.timedelta(hours=12)  # how long a form may stay open before it is sent
MAX_ADDRESS = 254  # RFC 5321's limit for a path, checked before parsing
DEFAULT_DIGEST: Digest = "weekly"
KEY_NAME = "email-links"
DIGESTS: tuple[Digest, ...] = ("weekly", "daily", "off")


@dataclass(frozen=True)
class Limit:
    """At most `count` sign-ups within `window`."""

    count: int
    window: dt.timedelta


@dataclass(frozen=True)
class SignupLimits:
    """How often one address, and one client address, may ask for a confirmation."""

    per_address: Limit = Limit(3, dt.timedelta(hours=24))
    per_client: Limit = Limit(20, dt.timedelta(hours=1))

    @property
    def longest(self) -> dt.timedelta:
        return max(self.per_address.window, self.per_client.window)


SIGNUP_LIMITS = SignupLimits()


class InvalidAddress(ValueError):
    """An address we cannot send to; the message says why in plain words."""


@dataclass(frozen=True)
class Choice:
    """What a reader chose: States and themes (none means all), language, digest."""

    countries: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    language: str = "en"
    digest: Digest = DEFAULT_DIGEST

    def as_payload(self) -> dict[str, Any]:
        return {
            "c": list(self.countries),
            "t": list(self.themes),
            "l": self.language,
            "d": self.digest,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Choice:
        if not isinstance(payload, dict):
            raise tokens.BadToken("this link is not one of ours")
        digest = payload.get("d")
        language = payload.get("l")
        if digest not in DIGESTS or language not in LANGUAGES:
            raise tokens.BadToken("this link is not one of ours")
        return cls(
            countries=tuple(str(c) for c in payload.get("c", ())),
            themes=tuple(str(t) for t in payload.get("t", ())),
            language=str(language),
            digest=digest,
        )


@dataclass(frozen=True)
class Signup:
    """A confirmed choice for one address, as a confirmation link carries it."""

    address: str
    choice: Choice = field(default_factory=Choice)


def check_address(text: str) -> str:
    """The address in its normal, lower-case form (internationalised ones too); raises
    `InvalidAddress`."""
    text = text.strip()
    if not text:
        raise InvalidAddress("give an email address")
    if len(text) > MAX_ADDRESS:
        raise InvalidAddress(f"an email address has at most {MAX_ADDRESS} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidAddress("an email address has no control characters")
    try:
        found = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    # Stored lower-case: the same inbox must not become two subscribers; providers read
    # the part before the @ without regard to case, whatever RFC 5321 permits.
    return str(found.normalized).lower()


class EmailKeys:
    """The secret behind every token and hash: `EMAIL_SECRET`, else one made and kept
    in the database, so that every web and worker process signs alike."""

    def __init__(self, store: Store | None, configured: str | None = None) -> None:
        self.store = store
        self._secret = configured.encode("utf-8") if configured else None

    async def secret(self, now: dt.datetime) -> bytes:
        if self._secret is None:
            if self.store is None:
                raise RuntimeError("email links need a database or EMAIL_SECRET")
            async with self.store.sessions() as session, session.begin():
                value = await signups.service_key(
                    session, KEY_NAME, lambda: secrets.token_urlsafe(32), now
                )
            self._secret = value.encode("utf-8")
        return self._secret

    async def digest(self, kind: str, value: str, now: dt.datetime) -> str:
        """A keyed hash of `value`: counts can be kept without keeping the value."""
        mac = hmac.new(await self.secret(now), f"{kind}|{value}".encode(), hashlib.sha256)
        return mac.hexdigest()


def _address_tag(address: str) -> str:
    """Binds a manage token to the address it was made for (ids can be reused)."""
    return hashlib.sha256(address.casefold().encode("utf-8")).hexdigest()[:12]


def manage_token(secret: bytes, subscriber_id: int, address: str) -> str:
    """The token of a subscriber's manage and unsubscribe links (the same every time)."""
    return tokens.sign(secret, "manage", [subscriber_id, _address_tag(address)], None)


def manage_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/email/manage/{token}"


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/email/unsubscribe/{token}"


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/email/confirm/{token}"


def csrf_token(secret: bytes, form: str, now: dt.datetime) -> str:
    """The token a form carries: which form, and when it was served."""
    return tokens.sign(secret, "csrf", form, now)


def check_csrf(secret: bytes, form: str, token: str, now: dt.datetime) -> None:
    """Raises `BadToken` unless `token` was made for `form` within `CSRF_FOR`."""
    made_for = tokens.verify(secret, "csrf", token, now, CSRF_FOR)
    if not isinstance(made_for, str) or not hmac.compare_digest(made_for, form):
        raise tokens.BadToken("this form is not one of ours")


async def request_signup(
    store: Store,
    keys: EmailKeys,
    signup: Signup,
    client: str,
    now: dt.datetime,
    base_url: str,
    limits: SignupLimits = SIGNUP_LIMITS,
) -> bool:
    """Queue a confirmation for `signup`; False (and nothing stored) when over a limit."""
    secret = await keys.secret(now)
    address_hash = await keys.digest("address", signup.address.casefold(), now)
    client_hash = await keys.digest("client", client, now)
    token = tokens.sign(secret, "confirm", {"a": signup.address, **signup.choice.as_payload()}, now)
    async with store.sessions() as session, session.begin():
        by_address, by_client = await signups.signups_since(
            session,
            address_hash=address_hash,
            client_hash=client_hash,
            since=now - limits.longest,
        )
        if by_address >= limits.per_address.count or by_client >= limits.per_client.count:
            # counted over the longest window: stricter than each limit alone, never looser
            return False
        await signups.forget_signups(session, now - limits.longest)
        signup_id = await signups.record_signup(
            session, address_hash=address_hash, client_hash=client_hash, now=now
        )
        payload = {
            "address": signup.address,
            "language": signup.choice.language,
            "link": confirm_url(base_url, token),
        }
        row = outbox.new_row(f"confirm|{signup_id}", "confirm", payload, now, now)
        await outbox.insert_rows(session, [row])
    return True


def read_confirmation(secret: bytes, token: str, now: dt.datetime) -> Signup:
    """The sign-up a confirmation link carries; raises `BadToken` or `ExpiredToken`."""
    payload = tokens.verify(secret, "confirm", token, now, CONFIRM_FOR)
    if not isinstance(payload, dict) or not isinstance(payload.get("a"), str):
        raise tokens.BadToken("this link is not one of ours")
    return Signup(payload["a"], Choice.from_payload(payload))


async def subscribe(store: Store, signup: Signup, now: dt.datetime) -> Subscriber:
    """Create the email subscriber (or update it) with the choice, active at once."""
    async with store.sessions() as session, session.begin():
        subscriber = await subs.ensure_subscriber(
            session,
            channel=EMAIL,
            address=signup.address,
            now=now,
            language=signup.choice.language,
        )
        await _apply(session, subscriber, signup.choice, now)
        return subscriber


async def confirm(store: Store, keys: EmailKeys, token: str, now: dt.datetime) -> Subscriber:
    """Apply a confirmation link; raises `BadToken` when it is not valid (nothing stored)."""
    signup = read_confirmation(await keys.secret(now), token, now)
    return await subscribe(store, signup, now)


async def _apply(session: Any, subscriber: Subscriber, choice: Choice, now: dt.datetime) -> None:
    await subs.unfollow(session, subscriber, None, now)
    await subs.follow(
        session,
        subscriber,
        {"country": sorted(set(choice.countries)), "theme": sorted(set(choice.themes))},
        now,
    )
    await subs.set_preferences(
        session, subscriber, now, language=choice.language, digest=choice.digest
    )


async def subscriber_of(
    store: Store, keys: EmailKeys, token: str, now: dt.datetime
) -> Subscriber | None:
    """The active email subscriber a manage token names; raises `BadToken` when forged,
    None when it is valid but the subscriber left."""
    payload = tokens.verify(await keys.secret(now), "manage", token, now, None)
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        raise tokens.BadToken("this link is not one of ours")
    subscriber_id, tag = payload
    async with store.sessions() as session:
        found = (await subs.subscribers_by_id(session, [subscriber_id])).get(subscriber_id)
    if (
        found is None
        or found.channel != EMAIL
        or not found.active
        or not hmac.compare_digest(_address_tag(found.address), str(tag))
    ):
        return None
    return found


def choice_of(subscriber: Subscriber) -> Choice:
    """What an email subscriber follows now, as the manage form shows it."""
    selection = subs.selection_of(subscriber)
    digest = subscriber.digest if subscriber.digest in DIGESTS else DEFAULT_DIGEST
    return Choice(
        countries=tuple(sorted(selection.countries)),
        themes=tuple(sorted(selection.themes)),
        language=subscriber.language,
        digest=digest,
    )


async def change(store: Store, subscriber_id: int, choice: Choice, now: dt.datetime) -> None:
    """Replace an email subscriber's filters, language and digest."""
    async with store.sessions() as session, session.begin():
        subscriber = (await subs.subscribers_by_id(session, [subscriber_id])).get(subscriber_id)
        if subscriber is not None:
            await _apply(session, subscriber, choice, now)


async def leave(store: Store, subscriber_id: int) -> bool:
    """Delete an email subscriber with its filters and pending mail; False if already gone."""
    async with store.sessions() as session, session.begin():
        subscriber = (await subs.subscribers_by_id(session, [subscriber_id])).get(subscriber_id)
        if subscriber is None or subscriber.channel != EMAIL:
            return False
        await subs.forget(session, subscriber)
        return True


async def email_subscribers(store: Store) -> Sequence[Subscriber]:
    """Every email subscriber, for `untoc-watch email list`."""
    async with store.sessions() as session:
        people, _ = await subs.everyone(session)
    return [s for s in people if s.channel == EMAIL]


async def remove(store: Store, address: str) -> bool:
    """Delete the email subscriber of `address`; False when there is none."""
    async with store.sessions() as session, session.begin():
        found = await subs.find_subscriber(session, EMAIL, address)
        if found is None:
            return False
        await subs.forget(session, found)
        return True


async def bounced(store: Store, address: str, reason: str, now: dt.datetime) -> bool:
    """A bounce reported back for `address`: its subscriber stops, the operators are told.

    As a 5xx at sending does: the address is deactivated (kept, so a re-subscription or
    an operator can see why), and one notice per subscriber goes to the operators. False
    when no email subscriber has this address.
    """
    why = f"bounced: {reason}"[:500] if reason else "bounced"
    async with store.sessions() as session, session.begin():
        found = await subs.find_subscriber(session, EMAIL, address)
        if found is None:
            return False
        await subs.deactivate(session, found.id, why, now)
        text = f"email target {found.display_name or found.address} stopped: {why}"
        await outbox.insert_rows(
            session,
            [
                outbox.new_row(
                    f"operator.target_gone|{found.id}", "operator", {"text": text}, now, now
                )
            ],
        )
        return True
