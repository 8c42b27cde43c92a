"""The chat services and the mail relay failing: every way they fail.

Telegram and Slack: 429 with retry_after, 500, a proxy's HTML page, a body that is not
JSON, a closed connection, or nothing before the client gives up. The mail relay: away
when the worker starts, 451 for a recipient once, slow to answer, 550 for a recipient
that is gone. Nothing is lost, no target is deactivated for a passing fault (the 550 ones
are, as they must be), and every answer is classified.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import threading
import time
import uuid
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.db import subscribers as subs
from bot.db.models import Subscriber
from bot.db.store import Store
from reliability.deliveries import (
    outbox_rows,
    still_open,
    tally,
    telegram_messages,
    unexpected_errors,
)
from reliability.faults._common import (
    Scale,
    broadcast,
    chats_reached,
    env_for,
    fake_telegram,
    populate,
    stopping,
)
from reliability.report import Section
from reliability.service import database, start_worker, wait_until
from tests.fakes import slack_api
from tests.fakes.slack_api import FakeSlack
from tests.fakes.smtp_relay import SmtpRelay
from tests.fakes.telegram_api import HANG_UP, SERVER_ERROR, Outcome, garbage, retry_after, slow

SIGNING_SECRET = "reliabilitysigningsecret"

# What the fake Bot API answers a chat's first message with, by name.
TELEGRAM_FAULTS: dict[str, Outcome] = {
    "429 with retry_after": retry_after(2),
    "500": SERVER_ERROR,
    "a proxy's 502 page": garbage(502),
    "200 with a body that is not JSON": garbage(200, b'{"ok": true, "resu'),
    "connection closed": HANG_UP,
    "an answer slower than the client waits": slow(6),  # the client gives up after 5 s
}


def channel_faults(scale: Scale, kind: str, directory: Path, section: Section) -> None:
    telegram = fake_telegram()
    slack = FakeSlack().start()
    relay = SmtpRelay()
    faults = TELEGRAM_FAULTS
    per_kind = scale.faulty_per_kind
    with database(kind, directory) as url:
        people = populate(url, scale.fault_chats, dt.datetime.now(dt.UTC))
        chats = [int(address) for address in people.addresses.values()]
        faulty = chats[: per_kind * len(faults)]
        for n, outcome in enumerate(faults.values()):
            for chat in faulty[n * per_kind : (n + 1) * per_kind]:
                telegram.script(chat, outcome)
        timeouts = per_kind  # an answer that never came may still have been delivered
        slack_targets = _slack_targets(url, slack, per_kind)
        mail_targets, gone = _mail_targets(url, relay, per_kind)
        marker = f"Fault drill {uuid.uuid4().hex[:8]}"
        owed = broadcast(url, f"{marker}: the dialogues move online")
        to_gone = {i for i, row in outbox_rows(url, owed).items() if row.subscriber_id in gone}
        owed -= to_gone  # a refused address cannot be owed a message: it is deactivated
        env = env_for(
            url,
            directory,
            telegram,
            500.0,
            SLACK_BOT_TOKEN=slack_api.BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_BASE_URL=slack.api_url,
            SMTP_URL=relay.url,
            MAIL_FROM="alerts@watch.example.org",
            SSL_CERT_FILE=relay.write_ca(str(directory / "relay-ca.pem")),
        )
        started = time.monotonic()
        # The relay is away when the worker starts, and back a few seconds later.
        back = threading.Timer(RELAY_AWAY_SECONDS, relay.start)
        back.start()
        worker = start_worker(env, directory)
        try:
            with stopping(worker):

                def everyone() -> bool:
                    reached = {c.key for c in slack.posts() if marker in _slack_text(c)}
                    mailed = {to for to, _ in _mail_received(relay, marker)}
                    return (
                        chats_reached(telegram, marker) >= len(chats)
                        and len(reached) >= len(slack_targets)
                        and len(mailed) >= len(mail_targets) - len(gone)
                    )

                wait_until(everyone, 120, "every target to get the broadcast", 0.1)
                complete = time.monotonic() - started
                # an answer that never came is retried: wait for the repeat
                wait_until(lambda: still_open(url, owed) == 0, 60, "the outbox to settle", 0.25)
        finally:
            back.cancel()
            telegram.stop()
            slack.stop()
            relay.stop()
        rows = outbox_rows(url, owed)
        inactive = _inactive_ids(url)
        deactivated = len(inactive - gone)
        gone_kept = len(gone - inactive)  # a refused address still active: wrong too
    addresses = {**people.addresses, **slack_targets, **mail_targets}
    received = (
        telegram_messages(telegram, marker)
        + [(str(c.key), _slack_text(c)) for c in slack.posts() if marker in _slack_text(c)]
        + _mail_received(relay, marker)
    )
    result = tally(rows, owed, received, addresses.__getitem__)
    met = sum(
        1 for c in telegram.calls if c.text and marker in c.text and (c.status != 200 or c.garbled)
    )
    met += sum(1 for c in slack.calls if marker in _slack_text(c) and not c.ok)
    logs = unexpected_errors(worker.log_text())
    # A channel that cannot classify an answer raises something the dispatcher's catch-all
    # logs and retries: nothing is lost, but the operator sees a traceback, not a reason.
    unclassified = [line for line in logs if "failed unexpectedly" in line]
    logs = [line for line in logs if line not in unclassified]
    section.figure(
        f"channel faults, each on {per_kind} of {len(chats):,} Telegram chats ("
        + ", ".join(faults)
        + f") and on {len(slack_targets)} Slack targets (429 with Retry-After, 500, a page "
        f"that is not JSON; webhooks 503): {result.line()} (bound: {timeouts} answers that "
        "never came); "
        f"failed answers given {met}, targets deactivated {deactivated}, everyone reached "
        f"{complete:.1f} s after the worker started; answers the channel could not classify "
        f"(retried by the delivery loop's catch-all, logged with a traceback) {len(unclassified)}"
    )
    section.figure(
        f"mail relay faults, on {len(mail_targets)} email subscribers (the relay away for "
        f"{RELAY_AWAY_SECONDS:.0f} s as the worker starts, 451 once, {SLOW_RELAY_SECONDS:.0f} s "
        f"slow, 550 for {len(gone)}): refused addresses deactivated "
        f"{len(gone) - gone_kept} of {len(gone)}"
    )
    if gone_kept:
        section.fail(f"mail relay faults: {gone_kept} addresses refused with 550 still active")
    if result.lost:
        section.fail(f"channel faults: {result.lost} messages lost")
    if result.duplicates > timeouts:
        section.fail(f"channel faults: {result.duplicates} duplicates, more than {timeouts}")
    if deactivated:
        section.fail(f"channel faults: {deactivated} targets deactivated by temporary faults")
    if logs:
        section.fail("channel faults: unexpected errors logged: " + " | ".join(logs[:3]))


def _slack_text(call: slack_api.Call) -> str:
    return str(call.body.get("text", "")) + str(call.body.get("blocks", ""))


def _slack_targets(url: str, slack: FakeSlack, per_kind: int) -> dict[int, str]:
    """Slack channels and webhooks, each answering one fault first; by id, the key the
    fake files their messages under (the channel id, or the webhook's path)."""
    faults: list[tuple[str, dict[str, Any]]] = [
        ("ratelimited", {"status": 429, "retry_after": 1}),
        ("internal_error", {"status": 500}),
        ("garbage", {"status": 200, "body": "<html><body>upstream error</body></html>"}),
    ]
    targets: list[tuple[str, str, str]] = []  # channel, address, key the fake files it under
    for n in range(per_kind):
        for error, options in faults:
            channel_id = f"C{len(targets):08d}"
            slack.fail(channel_id, error, **options)
            targets.append(("slack", channel_id, channel_id))
        path = f"T0FAKE/B{n:07d}/reliability{n}"
        hook = slack.webhook_url(path)
        slack.fail(path, "service_unavailable", status=503)
        targets.append(("slack-webhook", hook, path))

    async def create() -> dict[int, str]:
        store = await Store.open(url)
        now = dt.datetime.now(dt.UTC)
        try:
            async with store.sessions() as session, session.begin():
                created = {}
                for channel, address, key in targets:
                    subscriber = await subs.ensure_subscriber(
                        session, channel=channel, address=address, now=now
                    )
                    created[subscriber.id] = key
                return created
        finally:
            await store.close()

    return asyncio.run(create())


RELAY_AWAY_SECONDS = 3.0
SLOW_RELAY_SECONDS = 3.0


def _mail_targets(url: str, relay: SmtpRelay, per_kind: int) -> tuple[dict[int, str], set[int]]:
    """Email subscribers, some answered 451 once, some slowly, some 550: by id, their
    address; and the ids of those refused for good."""
    faults = ("fine", "busy", "slow", "gone")
    addresses = [f"{fault}-{n}@coalition.example.org" for n in range(per_kind) for fault in faults]
    for address in addresses:
        if address.startswith("busy"):
            relay.refuse(address, 451, times=1)
        elif address.startswith("slow"):
            relay.delay(address, SLOW_RELAY_SECONDS)
        elif address.startswith("gone"):
            relay.refuse(address, 550)

    async def create() -> dict[int, str]:
        store = await Store.open(url)
        now = dt.datetime.now(dt.UTC)
        try:
            async with store.sessions() as session, session.begin():
                created = {}
                for address in addresses:
                    subscriber = await subs.ensure_subscriber(
                        session, channel="email", address=address, now=now
                    )
                    created[subscriber.id] = address
                return created
        finally:
            await store.close()

    targets = asyncio.run(create())
    return targets, {i for i, address in targets.items() if address.startswith("gone")}


def _mail_received(relay: SmtpRelay, marker: str) -> list[tuple[str, str]]:
    """(recipient, text) for every message the relay accepted that carries `marker`."""
    found = []
    for _sender, recipients, raw in relay.messages:
        message = email.message_from_bytes(raw)
        text = " ".join(_plain_parts(message))
        if marker in text:
            found += [(recipient, marker) for recipient in recipients]
    return found


def _plain_parts(message: Message) -> list[str]:
    parts = []
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return parts


def _inactive_ids(url: str) -> set[int]:
    async def found() -> set[int]:
        store = await Store.open(url)
        try:
            async with store.sessions() as session:
                ids = await session.scalars(select(Subscriber.id).where(~Subscriber.active))
                return set(ids)
        finally:
            await store.close()

    return asyncio.run(found())
