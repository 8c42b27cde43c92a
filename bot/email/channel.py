"""The email channel: alerts through an SMTP relay, with aiosmtplib on the worker's loop.

One connection is kept open and reused (a relay takes many messages per session), and
opened again when it drops. What the relay answers decides what the delivery loop does:
a 5xx for the recipient is a refusal for good (`TargetGone`: the address is deactivated
and the operators are told); 4xx, time-outs and a relay that is away are temporary
(`RetryLater`); a refused login is `ChannelMisconfigured`. The relay's own rate is the
channel's limit, `EMAIL_MAX_RATE` messages a second, enforced by the delivery loop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import ClassVar

import aiosmtplib

from bot.channels.base import (
    Alert,
    CalendarLink,
    ChannelLimits,
    ChannelMisconfigured,
    RetryLater,
    Target,
    TargetGone,
)
from bot.delivery.email_signup import manage_token, manage_url, unsubscribe_url
from bot.email.message import Links, build_message
from config.settings import SmtpRelay
from schedulers.dates import Clock

log = logging.getLogger("untoc_watch.email")

SMTP_TIMEOUT = 30.0
# What a target's links are: its calendar, its manage page, its one-click unsubscribe.
LinksOf = Callable[[Target], Links]


def _no_links(target: Target) -> Links:
    return Links()


def subscriber_links(base_url: str, secret: bytes, calendar_link: CalendarLink) -> LinksOf:
    """Each subscriber's calendar, manage page and one-click unsubscribe under `base_url`;
    a message to nobody's address yet (a confirmation) has none."""

    def links(target: Target) -> Links:
        if target.subscriber_id is None:
            return Links()
        token = manage_token(secret, target.subscriber_id, target.address)
        return Links(
            calendar=calendar_link(target),
            manage=manage_url(base_url, token),
            unsubscribe=unsubscribe_url(base_url, token),
        )

    return links


class EmailChannel:
    """Sends each alert as one message to the target's address."""

    name: ClassVar[str] = "email"
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=5, per_target_per_second=1, max_text_length=100_000
    )

    def __init__(
        self,
        relay: SmtpRelay,
        sender: str,
        clock: Clock,
        links: LinksOf = _no_links,
        *,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = SMTP_TIMEOUT,
    ) -> None:
        self.relay = relay
        self.sender = sender
        self.clock = clock
        self.links = links
        self.tls_context = tls_context
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()  # one conversation with the relay at a time

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        smtp = aiosmtplib.SMTP(
            hostname=self.relay.host,
            port=self.relay.port,
            use_tls=self.relay.implicit_tls,
            start_tls=None if not self.relay.implicit_tls else False,
            tls_context=self.tls_context,
            timeout=self.timeout,
        )
        await smtp.connect()
        if self.relay.username:
            await smtp.login(self.relay.username, self.relay.password or "")
        self._smtp = smtp
        return smtp

    async def send(self, target: Target, alert: Alert) -> None:
        message = build_message(
            alert, target, sender=self.sender, links=self.links(target), now=self.clock()
        )
        async with self._lock:
            try:
                smtp = await self._connected()
                errors, _ = await smtp.send_message(message)
            except aiosmtplib.SMTPAuthenticationError as error:
                await self._drop()
                raise ChannelMisconfigured(
                    f"the relay refused the login ({error.code}); check SMTP_URL"
                ) from None
            except aiosmtplib.SMTPRecipientsRefused as error:
                codes = [refusal.code for refusal in error.recipients]
                if codes and all(code >= 500 for code in codes):
                    raise TargetGone(f"the relay refused the address ({codes[0]})") from None
                raise RetryLater(f"the relay deferred the address ({codes[0]})") from None
            except aiosmtplib.SMTPResponseException as error:
                await self._drop()
                if error.code >= 500 and error.code not in {552}:
                    # 5xx for the message itself (not the connection): no retry will help
                    raise TargetGone(f"the relay refused the message ({error.code})") from None
                raise RetryLater(f"the relay answered {error.code}") from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                await self._drop()
                raise RetryLater(f"the relay is not reachable ({type(error).__name__})") from None
        if errors:  # some recipients refused, others taken: ours is the only one
            code = next(iter(errors.values())).code
            if code >= 500:
                raise TargetGone(f"the relay refused the address ({code})")
            raise RetryLater(f"the relay deferred the address ({code})")

    async def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except Exception:  # already broken: nothing left to release
                log.debug("email: closing a broken connection failed", exc_info=True)

    async def close(self) -> None:
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is not None and smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    smtp.close()
