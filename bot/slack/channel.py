"""The Slack channel: alerts as Block Kit messages, through the Slack app or a webhook.

Two kinds of target reach Slack. An app target (`Subscriber.channel == "slack"`) is a
channel id the bot posts to with `chat.postMessage`; a webhook target
(`"slack-webhook"`) is an incoming-webhook URL, which works with no app installed. The
URL is a secret: it appears in no log and no error, only masked.

Laying out is pure (`layout`): the words come from `bot.text.wording`, this module only puts
them in blocks within Slack's limits, escapes every text that came from the dataset or
a watched page, writes timed deadlines as `<!date^...>` so each reader sees them in
their own time zone, next to the time as announced, and isolates the left-to-right
stretches of every text for a right-to-left reader (`bot.text.bidi`). Sending maps Slack's
answers onto the delivery errors: rate limits and outages retry, a gone channel or dead
webhook stops that target, a revoked token stops the channel.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from bot.text.bidi import Markup, isolate
from bot.text.i18n import Texts
from bot.text.wording import Wording, word
from schedulers.timeline import Deadline

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

APP_TARGET = "slack"
WEBHOOK_TARGET = "slack-webhook"
DEFAULT_API_BASE_URL = "https://slack.com/api/"
HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_MAX = 3000
MAX_BLOCKS = 50
MESSAGE_TEXT_MAX = 40_000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
CONFIRM_LIMITS = {
    "title": CONFIRM_TITLE_MAX,
    "text": CONFIRM_TEXT_MAX,
    "confirm": CONFIRM_BUTTON_MAX,
    "deny": CONFIRM_BUTTON_MAX,
}
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


def escape(text: str) -> str:
    """Text safe inside Slack mrkdwn: `&`, `<` and `>` cannot open a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with an ellipsis when it was cut.

    A cut never splits an escape such as `&amp;`, which would show as broken text.
    """
    if len(text) <= limit:
        return text
    return text[: _cut_point(text, limit - 1)].rstrip() + "…"


def _cut_point(text: str, at: int) -> int:
    amp = text.rfind("&", max(0, at - 4), at)
    return amp if amp != -1 and ";" not in text[amp:at] else at


def is_web_url(url: str | None) -> bool:
    """True for an http(s) address, the only kind we turn into a link."""
    return bool(url) and str(url).startswith(("https://", "http://")) and " " not in str(url)


def link(url: str, label: str) -> str:
    """A mrkdwn link, or the escaped label alone when `url` is not a web address."""
    if not is_web_url(url):
        return escape(label)
    target = escape(url.replace("|", "%7C"))
    return f"<{target}|{escape(label.replace('|', '/'))}>"


def date_token(moment: dt.datetime, fallback: str) -> str:
    """A moment every reader sees in their own zone; `fallback` shows where that fails."""
    stamp = int(moment.timestamp())
    return f"<!date^{stamp}^{{date_long_pretty}} {{time}}|{escape(fallback)}>"


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


@dataclass(frozen=True)
class SlackMessage:
    """What is posted: a plain-text fallback for notifications and the blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or "-", "emoji": True}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, SECTION_MAX)}}


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn, CONTEXT_MAX)}]}


def chunks(text: str, size: int) -> list[str]:
    """Split `text` into pieces of at most `size`, at line breaks where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        if cut <= 0:
            cut = _cut_point(rest, size) or size
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest:
        pieces.append(rest)
    return pieces


def _when_lines(deadline: Deadline, wording: Wording, texts: Texts) -> list[str]:
    label = texts("When")
    if isinstance(deadline.due, dt.datetime):
        announced = wording.when_announced or wording.when or ""
        return [
            f"*{escape(label)}:* {date_token(deadline.due, wording.when or announced)}",
            "*" + escape(texts("As announced")) + f":* {escape(announced)}",
        ]
    return [f"*{escape(label)}:* {escape(wording.when or '')}"]


def _buttons(
    texts: Texts, wording: Wording, calendar_url: str | None, actions: bool
) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    if calendar_url and is_web_url(calendar_url) and len(calendar_url) <= BUTTON_URL_MAX:
        buttons.append(
            {
                "type": "button",
                "action_id": "calendar",
                "text": _plain(texts("Add to calendar"), BUTTON_TEXT_MAX),
                "url": calendar_url,
            }
        )
    if not actions:
        return buttons
    if wording.deadline_id and len(wording.deadline_id) <= BUTTON_VALUE_MAX:
        buttons.append(
            {
                "type": "button",
                "action_id": "ack",
                "style": "primary",
                "text": _plain(texts("Done / registered"), BUTTON_TEXT_MAX),
                "value": wording.deadline_id,
            }
        )
    if wording.country:
        name = texts.country(wording.country)
        buttons.append(
            {
                "type": "button",
                "action_id": "mute",
                "text": _plain(texts("Mute this country"), BUTTON_TEXT_MAX),
                "value": wording.country,
                "confirm": {
                    "title": _plain(
                        texts("Mute {country}?").format(country=name), CONFIRM_TITLE_MAX
                    ),
                    "text": _plain(
                        texts(
                            "This channel stops getting alerts about {country}; "
                            "/untoc subscribe {code} brings them back."
                        ).format(country=name, code=wording.country),
                        CONFIRM_TEXT_MAX,
                    ),
                    "confirm": _plain(texts("Mute"), CONFIRM_BUTTON_MAX),
                    "deny": _plain(texts("Cancel"), CONFIRM_BUTTON_MAX),
                },
            }
        )
    return buttons


def _fallback(lines: list[str | None]) -> str:
    return clip(escape("\n".join(line for line in lines if line)), MESSAGE_TEXT_MAX)


def _deadline_message(
    alert: Alert,
    deadline: Deadline,
    wording: Wording,
    texts: Texts,
    calendar_url: str | None,
    actions: bool,
) -> SlackMessage:
    facts = _when_lines(deadline, wording, texts)
    facts.append(
        "*" + escape(texts("Status")) + f":* {escape(wording.status or '')} · "
        "*" + escape(texts("Confidence")) + f":* {escape(wording.confidence or '')}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(wording.headline, HEADER_MAX)},
        _section("\n".join(facts)),
    ]
    if wording.hint:
        label = escape(texts("What to do now"))
        blocks.append(_section(f"*{label}:* {escape(wording.hint)}"))
    if wording.note:
        # Leave room for the source line and the buttons, which must never be cut off.
        pieces = chunks(escape(wording.note), SECTION_MAX)[: MAX_BLOCKS - len(blocks) - 3]
        blocks.extend(_section(piece) for piece in pieces)
    sources = []
    if wording.source:
        label = escape(texts("Source"))
        sources.append(f"{label}: {escape(wording.source)}")
    if wording.url and is_web_url(wording.url):
        sources.append(link(wording.url, texts("Open the page")))
    if sources:
        blocks.append(_context(" · ".join(sources)))
    buttons = _buttons(texts, wording, calendar_url, actions)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    fallback = _fallback(
        [
            wording.headline,
            wording.when,
            wording.when_announced,
            f"{wording.status} · {wording.confidence}",
            wording.hint,
            wording.url,
        ]
    )
    return SlackMessage(text=fallback, blocks=blocks[:MAX_BLOCKS])


def _text_message(wording: Wording, texts: Texts, calendar_url: str | None) -> SlackMessage:
    """A message without one deadline (a digest, a notice): a header if short, then text."""
    headline = wording.headline or ""
    blocks: list[dict[str, Any]] = []
    body = wording.note or ""
    if headline and len(headline) <= HEADER_MAX and "\n" not in headline:
        blocks.append({"type": "header", "text": _plain(headline, HEADER_MAX)})
    else:
        body = f"{headline}\n{body}".strip("\n")
    pieces = chunks(escape(body), SECTION_MAX)
    room = MAX_BLOCKS - len(blocks) - 3  # the cut notice, the link and the buttons
    blocks.extend(_section(piece) for piece in pieces[:room])
    if len(pieces) > room:
        blocks.append(_context(escape(texts("The rest of this message was cut: it is too long."))))
    if wording.url and is_web_url(wording.url):
        blocks.append(_context(link(wording.url, texts("Open the page"))))
    buttons = _buttons(texts, wording, calendar_url, actions=False)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return SlackMessage(
        text=_fallback([headline, wording.note, wording.url]), blocks=blocks[:MAX_BLOCKS]
    )


def layout(
    alert: Alert,
    texts: Texts,
    zone: str,
    now: dt.datetime,
    *,
    calendar_url: str | None = None,
    actions: bool = True,
) -> SlackMessage:
    """The Slack message for `alert`, for readers in `zone`; `actions` adds ack and mute."""
    wording = word(alert, texts, zone, now)
    if alert.deadline is None:
        message = _text_message(wording, texts, calendar_url)
    else:
        message = _deadline_message(alert, alert.deadline, wording, texts, calendar_url, actions)
    return readable(message, texts.direction)


def readable(message: SlackMessage, direction: str) -> SlackMessage:
    """The message with every text's left-to-right stretches isolated, when read right to
    left. A text the isolates would push over its field's limit stays as it was: better
    unisolated than cut."""
    if direction != "rtl":
        return message
    blocks = copy.deepcopy(message.blocks)
    for block in blocks:
        if block["type"] in ("header", "section"):
            _isolate_field(block["text"], HEADER_MAX if block["type"] == "header" else SECTION_MAX)
        for element in block.get("elements", ()):
            if block["type"] == "context":
                _isolate_field(element, CONTEXT_MAX)
                continue
            _isolate_field(element["text"], BUTTON_TEXT_MAX)
            confirm = element.get("confirm", {})
            for key, limit in CONFIRM_LIMITS.items():
                if key in confirm:
                    _isolate_field(confirm[key], limit)
    text = isolate(message.text, "mrkdwn")
    return SlackMessage(text=text if len(text) <= MESSAGE_TEXT_MAX else message.text, blocks=blocks)


def _isolate_field(field: dict[str, Any], limit: int) -> None:
    markup: Markup = "mrkdwn" if field["type"] == "mrkdwn" else "plain"
    text = isolate(field["text"], markup)
    if len(text) <= limit:
        field["text"] = text


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
        clock: Callable[[], dt.datetime],
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
