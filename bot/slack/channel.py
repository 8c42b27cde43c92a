"""The Slack channel: alerts as Block Kit messages, through the Slack app or a webhook.

Two kinds of target reach Slack. An app target (`Subscriber.channel == "slack"`) is a
channel id the bot posts to with `chat.postMessage`; a webhook target
(`"slack-webhook"`) is an incoming-webhook URL, which works with no app installed. The
URL is a secret: it appears in no log and no error, only masked.

The message is laid out by `bot.slack.layout`. Sending maps Slack's answers onto the
delivery errors: rate limits and outages retry, a gone channel or dead webhook stops
that target, a revoked token stops the channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar

from bot.channels.base import (
    Alert,
    CalendarLink,
    ChannelLimits,
    ChannelMisconfigured,
    DeliveryError,
    RetryLater,
    Target,
    TargetGone,
)
from bot.slack.layout import SECTION_MAX, SlackMessage, layout
from bot.text.i18n import Texts
from schedulers.dates import Clock

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

APP_TARGET = "slack"
WEBHOOK_TARGET = "slack-webhook"
DEFAULT_API_BASE_URL = "https://slack.com/api/"
# Slack allows one message per second per channel, with short bursts.
TARGET_SPACING = 1.0
DEFAULT_RETRY_AFTER = 1.0
DEFAULT_TIMEOUT = 10.0

GONE_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "account_inactive",
        "restricted_action",
        "no_service",
        "no_active_hooks",
        "team_disabled",
        "action_prohibited",
        "posting_to_general_channel_denied",
    }
)
MISCONFIGURED_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
    }
)
REFUSED_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_payload",
        "invalid_arguments",
        "too_many_attachments",
    }
)
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def mask_address(target: Target) -> str:
    """How a target is named in logs and errors: a webhook URL loses its secret part."""
    if target.channel != WEBHOOK_TARGET:
        return f"{target.channel}:{target.address}"
    return f"{target.channel}:{mask_webhook_url(target.address)}"


def mask_webhook_url(url: str) -> str:
    """A webhook URL without its last path segment (the secret) or query."""
    base = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    head, _, _ = base.rpartition("/")
    return f"{head}/…" if "://" in head else "…"


def _raised_in_slack_sdk(error: BaseException) -> bool:
    """True when `error` was raised inside slack-sdk (reading an answer), not in our code."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return trace is not None and str(trace.tb_frame.f_globals.get("__name__", "")).startswith(
        "slack_sdk"
    )


def _retry_after(headers: Any) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def api_error(status: int | None, error: str, headers: Any, where: str) -> DeliveryError:
    """The delivery error for a Slack Web API answer (`error` is its `error` field)."""
    if status == 429 or error == "ratelimited":
        return RetryLater(f"{where}: rate limited", retry_after=_retry_after(headers))
    if error in GONE_ERRORS:
        return TargetGone(f"{where}: {error}")
    if error in MISCONFIGURED_ERRORS:
        return ChannelMisconfigured(f"{where}: {error}; check SLACK_BOT_TOKEN and the app's scopes")
    if error in REFUSED_ERRORS:
        return DeliveryError(f"{where}: Slack refused the message ({error})")
    return RetryLater(f"{where}: {error or 'no answer'} (HTTP {status})")


def webhook_error(status: int, body: str, headers: Any, where: str) -> DeliveryError:
    """The delivery error for an incoming-webhook answer (a status and a short text body)."""
    reason = body.strip()[:80] if body and body.strip().isprintable() else ""
    if status == 429:
        return RetryLater(f"{where}: rate limited", retry_after=_retry_after(headers))
    if status >= 500:
        return RetryLater(f"{where}: HTTP {status} {reason}".rstrip())
    if status in (403, 404, 410) or reason in GONE_ERRORS:
        return TargetGone(f"{where}: the webhook is gone (HTTP {status} {reason})".rstrip())
    if status == 400 or reason in REFUSED_ERRORS:
        return DeliveryError(f"{where}: Slack refused the message (HTTP {status} {reason})")
    return RetryLater(f"{where}: HTTP {status} {reason}".rstrip())


class SlackChannel:
    """Sends alerts to Slack channels through the app's bot token or incoming webhooks.

    Nothing connects until the first send; `close` releases the one HTTP session. Sends
    to one target are spaced by a second, and a target that answered 429 is not tried
    again before its `Retry-After` has passed.
    """

    name: ClassVar[str] = "slack"
    # The `Subscriber.channel` values this channel delivers to.
    target_channels: ClassVar[frozenset[str]] = frozenset({APP_TARGET, WEBHOOK_TARGET})
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=4, per_target_per_second=1, max_text_length=SECTION_MAX
    )

    def __init__(
        self,
        *,
        token: str | None,
        clock: Clock,
        base_url: str = DEFAULT_API_BASE_URL,
        calendar_link: CalendarLink | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        spacing: float = TARGET_SPACING,
    ) -> None:
        self.token = token
        self.base_url = base_url
        self.clock = clock
        self.calendar_link = calendar_link
        self.timeout = timeout
        self.spacing = spacing
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._last_sent: dict[tuple[str, str], float] = {}
        self._blocked_until: dict[tuple[str, str], float] = {}
        # slack-sdk logs request URLs at debug level; a webhook URL must never be logged.
        self._http_log = logging.getLogger("untoc_watch.slack.http")
        self._http_log.setLevel(logging.INFO)

    async def send(self, target: Target, alert: Alert) -> None:
        if target.channel not in self.target_channels:
            raise DeliveryError(f"{target.channel!r} is not a Slack target")
        key = (target.channel, target.address)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            blocked = self._blocked_until.get(key, 0.0) - time.monotonic()
            if blocked > 0:
                raise RetryLater(f"{mask_address(target)}: rate limited", retry_after=blocked)
            wait = self._last_sent.get(key, -1e9) + self.spacing - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            calendar_url = self.calendar_link(target) if self.calendar_link else None
            message = layout(
                alert,
                Texts(target.language),
                target.timezone,
                self.clock(),
                calendar_url=calendar_url,
                actions=target.channel == APP_TARGET,
            )
            try:
                if target.channel == WEBHOOK_TARGET:
                    await self._send_webhook(target, message)
                else:
                    await self._post(target, message)
            except RetryLater as exc:
                if exc.retry_after:
                    self._blocked_until[key] = time.monotonic() + exc.retry_after
                raise
            finally:
                self._last_sent[key] = time.monotonic()

    def _http(self) -> aiohttp.ClientSession:
        # aiohttp and slack-sdk are loaded on the first Slack send, not at start-up
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    def _web(self) -> AsyncWebClient:
        # aiohttp and slack-sdk are loaded on the first Slack send, not at start-up
        from slack_sdk.web.async_client import AsyncWebClient

        if self.token is None:
            raise ChannelMisconfigured(
                "SLACK_BOT_TOKEN is not set, so Slack app targets cannot be reached; "
                "set it, or remove those subscribers"
            )
        if self._client is None or self._client.session is not self._http():
            self._client = AsyncWebClient(
                token=self.token,
                base_url=self.base_url,
                session=self._http(),
                timeout=int(self.timeout),
                retry_handlers=[],
            )
        return self._client

    async def _post(self, target: Target, message: SlackMessage) -> None:
        # aiohttp and slack-sdk are loaded on the first Slack send, not at start-up
        import aiohttp
        from slack_sdk.errors import SlackApiError

        where = mask_address(target)
        try:
            await self._web().chat_postMessage(
                channel=target.address,
                text=message.text,
                blocks=message.blocks,
                thread_ts=target.thread_id or None,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", None) or getattr(response, "status", None)
            data = getattr(response, "data", None)
            error = str(data.get("error", "")) if isinstance(data, dict) else ""
            raise api_error(status, error, getattr(response, "headers", None), where) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise RetryLater(f"{where}: {type(exc).__name__}") from None
        except (AttributeError, TypeError, ValueError) as exc:
            # slack-sdk reads any answer as Slack's JSON object; a proxy's page or a cut-off
            # body breaks that reading. It is a passing fault on the way, not our message.
            # Raised anywhere else, it is a defect of ours: let it be seen.
            if not _raised_in_slack_sdk(exc):
                raise
            raise RetryLater(f"{where}: the answer was not Slack's JSON") from None

    async def _send_webhook(self, target: Target, message: SlackMessage) -> None:
        # aiohttp and slack-sdk are loaded on the first Slack send, not at start-up
        import aiohttp
        from slack_sdk.webhook.async_client import AsyncWebhookClient

        where = mask_address(target)
        client = AsyncWebhookClient(
            url=target.address,
            session=self._http(),
            timeout=int(self.timeout),
            retry_handlers=[],
            logger=self._http_log,
        )
        try:
            response = await client.send(
                text=message.text, blocks=message.blocks, unfurl_links=False, unfurl_media=False
            )
        except aiohttp.InvalidURL:
            raise TargetGone(f"{where}: not a usable webhook address") from None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            # The exception's text may quote the URL: keep only its kind.
            raise RetryLater(f"{where}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise webhook_error(response.status_code, response.body, response.headers, where)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._client = None
