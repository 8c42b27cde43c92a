"""Slack targets as the service stores them: webhook addresses and calendar links.

A webhook target is a `Subscriber` whose address is the webhook URL; that URL is a
secret, so every message here names it masked. `SLACK_WEBHOOK_URL` registers one default
webhook target at worker start; a new URL there retires the one it replaces.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.parse

from bot.db.models import Subscriber
from bot.db.store import Store
from bot.db.subscribers import deactivate, ensure_subscriber, find_subscriber, others_named
from bot.slack.channel import WEBHOOK_TARGET, mask_webhook_url

log = logging.getLogger("untoc_watch.slack")

WEBHOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
WEBHOOK_EXAMPLE = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"
DEFAULT_WEBHOOK_NAME = "SLACK_WEBHOOK_URL"
MAX_WEBHOOK_URL = 500
_WEBHOOK_PATH = re.compile(r"^/services/[A-Z0-9]{1,40}/[A-Z0-9]{1,40}/[A-Za-z0-9]{1,100}$")


class InvalidWebhookUrl(ValueError):
    """Not a Slack incoming-webhook address; the message shows the expected form."""


def check_webhook_url(url: str, allowed_base: str | None = None) -> str:
    """`url` stripped, if it is a Slack incoming webhook (or lies under `allowed_base`)."""
    url = url.strip()
    shown = mask_webhook_url(url)
    if len(url) > MAX_WEBHOOK_URL or not url.isascii() or not url.isprintable() or " " in url:
        raise InvalidWebhookUrl(f"{shown} is not a webhook address; expected {WEBHOOK_EXAMPLE}")
    if allowed_base and url.startswith(allowed_base.rstrip("/") + "/"):
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        raise InvalidWebhookUrl(f"{shown}: a webhook address starts with https://")
    if parts.hostname not in WEBHOOK_HOSTS or parts.port or parts.username or parts.password:
        raise InvalidWebhookUrl(
            f"{shown} is not on {' or '.join(sorted(WEBHOOK_HOSTS))}; copy the webhook URL "
            "from the Slack app's Incoming Webhooks page"
        )
    if not _WEBHOOK_PATH.match(parts.path) or parts.query or parts.fragment:
        raise InvalidWebhookUrl(f"{shown} is not a webhook address; expected {WEBHOOK_EXAMPLE}")
    return url


async def ensure_default_webhook(store: Store, url: str, now: dt.datetime) -> Subscriber:
    """Register `SLACK_WEBHOOK_URL` as a target following everything (once).

    A default webhook that was deactivated (Slack said it is gone) stays off: it would
    only fail again. An earlier default with another URL is retired.
    """
    async with store.sessions() as session, session.begin():
        existing = await find_subscriber(session, WEBHOOK_TARGET, url)
        if existing is not None and not existing.active:
            log.warning(
                "slack: the webhook in %s (%s) was stopped: %s; set a new one",
                DEFAULT_WEBHOOK_NAME,
                mask_webhook_url(url),
                existing.deactivated_reason,
            )
            return existing
        subscriber = await ensure_subscriber(
            session,
            channel=WEBHOOK_TARGET,
            address=url,
            now=now,
            display_name=DEFAULT_WEBHOOK_NAME,
        )
        replaced = await others_named(session, WEBHOOK_TARGET, DEFAULT_WEBHOOK_NAME, subscriber.id)
        for old in replaced:
            await deactivate(session, old.id, f"replaced by a new {DEFAULT_WEBHOOK_NAME}", now)
        return subscriber
