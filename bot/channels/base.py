"""What every channel (Telegram, Slack, console) is: one small Protocol and its errors.

A channel turns an `Alert` into a message on its service and says, by the exception it
raises, what the delivery loop should do next: try again later (`RetryLater`), stop
sending to that target (`TargetGone`), or stop the channel until an operator fixes its
configuration (`ChannelMisconfigured`). Limits are declared as data, so the delivery
loop can pace each channel without knowing its service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from bot.text.wording import Alert as Alert  # what a channel sends; worded before laid out
from bot.text.wording import AlertKind as AlertKind
from config.keys import calendar_token
from config.vocabulary import ZONE


@dataclass(frozen=True)
class Target:
    """Where one alert goes: a chat, a forum topic, a Slack channel or webhook."""

    subscriber_id: int | None
    channel: str
    address: str
    thread_id: str = ""
    language: str = "en"
    timezone: str = ZONE
    # The subscriber's personal calendar nonce, for the "Add to calendar" button.
    calendar_nonce: str = ""


# A target's personal calendar address, or None when it has none.
CalendarLink = Callable[[Target], str | None]


def calendar_url(base_url: str, token: str) -> str:
    """A subscriber's own calendar feed."""
    return f"{base_url.rstrip('/')}/calendar/{token}.ics"


def personal_calendar_url(base_url: str, key: bytes, nonce: str) -> str:
    """The feed of the subscriber whose calendar nonce is `nonce`, its token made with `key`."""
    return calendar_url(base_url, calendar_token(key, nonce))


def calendar_links(base_url: str, key: bytes) -> CalendarLink:
    """The `calendar_link` of the channels: each target's own feed under `base_url`."""

    def calendar_link(target: Target) -> str | None:
        if not target.calendar_nonce:
            return None
        return personal_calendar_url(base_url, key, target.calendar_nonce)

    return calendar_link


@dataclass(frozen=True)
class ChannelLimits:
    """How fast and how much a channel may send; the delivery loop enforces them."""

    messages_per_second: float
    per_target_per_second: float
    per_group_per_minute: float | None = None
    max_text_length: int = 4000


class DeliveryError(Exception):
    """A message was not delivered."""


class RetryLater(DeliveryError):
    """A temporary failure (rate limit, 5xx, timeout): try again, after `retry_after`."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TargetGone(DeliveryError):
    """The target will never accept messages (bot blocked, channel deleted): stop."""


class TargetMoved(DeliveryError):
    """The target has a new address (a group became a supergroup): follow it."""

    def __init__(self, message: str, new_address: str) -> None:
        super().__init__(message)
        self.new_address = new_address


class ChannelMisconfigured(DeliveryError):
    """The channel itself cannot send (revoked token): the operator must fix it."""


class Channel(Protocol):
    """A service alerts go out through."""

    name: ClassVar[str]
    limits: ClassVar[ChannelLimits]

    async def send(self, target: Target, alert: Alert) -> None:
        """Deliver `alert` to `target`, or raise a `DeliveryError` saying what happened."""
        ...

    async def close(self) -> None:
        """Release connections; called once by the composition root."""
        ...
