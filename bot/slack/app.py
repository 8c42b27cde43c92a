"""The Slack app: slack-bolt wired to `/untoc` and the alert buttons, over HTTP or a socket.

`build_slack_app` makes the bolt app once, in the composition root; nothing here builds
a client at import. Over HTTP, `slack_routes` gives the one endpoint Slack calls for
commands and button presses, `/slack/events`. Every request there is checked against
the signing secret before its body is even parsed: a bad signature, or a timestamp more
than five minutes old (a replay), is a 401 and nothing in it is acted upon. Bolt's own
verification middleware then checks it a second time. In Socket Mode the worker opens
the connection on its own event loop instead (`start_socket_mode`).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.slack.actions import AlertButtons, ButtonPress
from bot.slack.answers import sections
from bot.slack.commands import Answer, Invocation, Reachable, UntocCommand
from bot.slack.layout import QUESTION_ACTIONS, SECTION_MAX, escape
from bot.slack.reports import REPORT_VIEW, SlackReports, report_modal
from bot.text.reports import SLACK_REPORT_EXAMPLE
from config.keys import calendar_key as read_calendar_key
from schedulers.dates import Clock

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.context.ack.async_ack import AsyncAck
    from slack_bolt.context.respond.async_respond import AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from config.dataset import Dataset
    from config.settings import Settings

log = logging.getLogger("untoc_watch.slack")

EVENTS_PATH = "/slack/events"
COMMAND = "/untoc"
# Slack's payloads are small; a button press carries its message, at most ~50 blocks.
MAX_BODY_BYTES = 512 * 1024
MAX_SIGNATURE_AGE = 5 * 60
MALFORMED = "Sorry, that request could not be read."
# Where Slack's response URLs live. A press is signed, but the answer goes wherever its
# payload says: to Slack's hooks only, never to an address a payload made up.
RESPONSE_URL_PREFIX = "https://hooks.slack.com/"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class SlackNotConfigured(Exception):
    """The Slack app cannot be built; the message names the missing setting."""


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_slack_app(
    settings: Settings,
    store: Store | None,
    publisher: Publisher,
    dataset: Dataset,
    clock: Clock,
    *,
    calendar_key: bytes | None = None,
) -> AsyncApp:
    """The bolt app with `/untoc` and the alert buttons, its client on SLACK_API_BASE_URL;
    `calendar_key` the process's (read from the settings when not given)."""
    # slack-bolt is loaded only when Slack is configured
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    token = _secret(settings.slack_bot_token)
    signing_secret = _secret(settings.slack_signing_secret)
    if not token:
        raise SlackNotConfigured("SLACK_BOT_TOKEN is not set; the Slack app needs it")
    if not signing_secret:
        raise SlackNotConfigured("SLACK_SIGNING_SECRET is not set; the Slack app needs it")
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=settings.slack_api_base_url),
        signing_secret=signing_secret,
        request_verification_enabled=True,
        # Answer only once the handler finished: the database is up to date when Slack
        # hears back, and nothing runs after the response.
        process_before_response=True,
        name="untoc-watch",
        logger=logging.getLogger("untoc_watch.slack.bolt"),
    )
    command = UntocCommand(
        store,
        publisher,
        dataset,
        clock,
        settings.public_base_url,
        calendar_key if calendar_key is not None else read_calendar_key(settings),
        reachable(app.client),
    )
    buttons = AlertButtons(store, publisher, dataset, clock)
    reports = SlackReports(store, publisher, command.vocabulary, clock)

    async def on_untoc(ack: AsyncAck, body: dict[str, Any]) -> None:
        invocation = Invocation.from_payload(body)
        name, _, rest = invocation.text.strip().partition(" ") if invocation else ("", "", "")
        if invocation is not None and name.lower() == "report":
            said = await _report(reports, app.client, invocation, rest.strip(), body)
            await ack(text=said, response_type="ephemeral") if said else await ack()
            return
        answer = await command(invocation) if invocation else Answer(MALFORMED)
        shown = "in_channel" if answer.in_channel else "ephemeral"
        if len(answer.text) > SECTION_MAX:  # one section holds 3,000 characters
            await ack(text=answer.text, blocks=sections(answer.text), response_type=shown)
        else:
            await ack(text=answer.text, response_type=shown)

    answerable = response_url_prefixes(settings.slack_api_base_url)

    async def on_button(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        press = ButtonPress.from_payload(body)
        text = await buttons(press) if press else MALFORMED
        response_url = body.get("response_url")
        if not response_url:
            return
        if not str(response_url).startswith(answerable):
            log.warning("slack: a button press asked for an answer outside Slack; not sent")
            return
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def on_question(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        press = ButtonPress.from_payload(body)
        answer = QUESTION_ACTIONS.get(press.action_id) if press else None
        if press is None or answer is None or not isinstance(press.value, str):
            return
        said, view = await reports.question_answered(press.channel_id, press.value, answer)
        if view is not None:
            trigger = body.get("trigger_id")
            try:
                if not isinstance(trigger, str):
                    raise ValueError("no trigger_id")
                await app.client.views_open(trigger_id=trigger, view=view)
            except (SlackApiError, ValueError) as error:
                log.info("slack: cannot open the report form: %s", error)
                texts = await reports.texts(press.channel_id)
                said = escape(
                    texts(
                        "The form could not open; write the report in one line: {example}"
                    ).format(example=SLACK_REPORT_EXAMPLE)
                )
        response_url = body.get("response_url")
        if said and response_url and str(response_url).startswith(answerable):
            await respond(text=said, response_type="ephemeral", replace_original=False)

    async def on_link(ack: AsyncAck) -> None:
        await ack()  # "Add to calendar" opens its URL; Slack still wants an answer

    async def on_report_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        result = await reports.submitted(body)
        if result.errors:
            await ack(response_action="errors", errors=result.errors)
            return
        await ack()
        await _tell(app.client, result.channel, result.user, result.thanks)

    app.command(COMMAND)(on_untoc)
    app.view(REPORT_VIEW)(on_report_submitted)
    app.action("ack")(on_button)
    app.action("mute")(on_button)
    app.action("calendar")(on_link)
    for action in QUESTION_ACTIONS:
        app.action(action)(on_question)
    return app


def response_url_prefixes(api_base_url: str) -> tuple[str, ...]:
    """Where a press's answer may go: Slack's hooks, and a Slack on this machine (a local
    fake) when SLACK_API_BASE_URL names one."""
    api = urllib.parse.urlsplit(api_base_url)
    if api.scheme == "http" and api.hostname in _LOOPBACK:
        return (RESPONSE_URL_PREFIX, f"http://{api.netloc}/")
    return (RESPONSE_URL_PREFIX,)


CHECK_TIMEOUT = 1.5


async def _report(
    reports: SlackReports,
    client: AsyncWebClient,
    invocation: Invocation,
    rest: str,
    body: dict[str, Any],
) -> str | None:
    """`/untoc report ...`: a line queued, or the modal opened (None: nothing to say)."""
    if rest:
        return await reports.line(invocation.channel_id, invocation.user_id, rest)
    # slack-bolt is loaded only when Slack is configured
    from slack_sdk.errors import SlackApiError

    texts = await reports.texts(invocation.channel_id)
    view = report_modal(texts, reports.steps(texts), {"channel": invocation.channel_id})
    trigger = body.get("trigger_id")
    try:
        if not isinstance(trigger, str):
            raise ValueError("no trigger_id")
        await client.views_open(trigger_id=trigger, view=view)
    except (SlackApiError, ValueError) as error:
        log.info("slack: cannot open the report form: %s", error)
        return escape(
            texts("The form could not open; write the report in one line: {example}").format(
                example=SLACK_REPORT_EXAMPLE
            )
        )
    return None


async def _tell(
    client: AsyncWebClient, channel: str | None, user: str | None, text: str | None
) -> None:
    """A message only `user` sees in `channel`; a failure is logged, never raised."""
    # slack-bolt is loaded only when Slack is configured
    from slack_sdk.errors import SlackApiError

    if not (channel and user and text):
        return
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        log.info("slack: cannot thank the reporter in %s: %s", channel, error)


def reachable(client: AsyncWebClient) -> Reachable:
    """Whether alerts can reach a channel. With `chat:write.public` the app posts in any
    public channel; a private one it was not invited to is hidden from it (Slack answers
    `channel_not_found`), and only that is a no. Unknown counts as yes: a check that
    failed, or an app without `channels:read`, must not stop a subscription."""
    # slack-bolt is loaded only when Slack is configured
    from slack_sdk.errors import SlackApiError

    async def check(channel: str) -> bool:
        try:
            # Slack waits 3 s for the answer to a command, which waits for this.
            async with asyncio.timeout(CHECK_TIMEOUT):
                response = await client.conversations_info(channel=channel)
        except SlackApiError as error:
            data = getattr(error.response, "data", None)
            code = data.get("error") if isinstance(data, dict) else None
            if code != "channel_not_found":
                log.info("slack: conversations.info: %s", code or "not Slack's answer")
            return code != "channel_not_found"
        except Exception as error:  # a network fault or an answer that is not Slack's
            log.warning("slack: conversations.info failed (%s)", type(error).__name__)
            return True
        found = response.get("channel") or {}
        return not (found.get("is_private") and not found.get("is_member"))

    return check


def slack_routes(app: AsyncApp, settings: Settings) -> list[Route]:
    """`POST /slack/events`, for slash commands and button presses, verified first."""
    # slack-bolt is loaded only when Slack is configured
    from slack_bolt.adapter.starlette.async_handler import (
        to_async_bolt_request,
        to_starlette_response,
    )

    # slack-bolt is loaded only when Slack is configured
    from slack_bolt.request.internals import parse_body
    from slack_sdk.signature import SignatureVerifier

    signing_secret = _secret(settings.slack_signing_secret)
    if not signing_secret:
        raise SlackNotConfigured("SLACK_SIGNING_SECRET is not set; /slack/events needs it")
    verifier = SignatureVerifier(signing_secret)

    async def events(request: Request) -> Response:
        body = await _read_body(request)
        if body is None:
            return JSONResponse({"error": "request too large"}, status_code=413)
        if not _signed(verifier, body, request):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            text = body.decode("utf-8")
            if not _well_formed(parse_body(text, request.headers.get("content-type"))):
                raise ValueError("not a payload Slack sends")
            bolt_request = to_async_bolt_request(request, body)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            return JSONResponse({"error": "malformed payload"}, status_code=400)
        return to_starlette_response(await app.async_dispatch(bolt_request))

    return [Route(EVENTS_PATH, events, methods=["POST"])]


def _well_formed(payload: object) -> bool:
    """An object, with what bolt reads without checking: a press's actions, a response URL."""
    if not isinstance(payload, dict):
        return False
    if payload.get("type") in ("block_actions", "interactive_message"):
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return False
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return False
    response_url = payload.get("response_url")
    return response_url is None or isinstance(response_url, str)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it grows past `MAX_BODY_BYTES` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _signed(verifier: Any, body: bytes, request: Request) -> bool:
    """True for a request signed with our secret in the last five minutes."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if not (signature.isascii() and signature.startswith("v0=") and len(signature) < 200):
        return False
    try:
        valid: bool = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        return False
    return valid


async def start_socket_mode(app: AsyncApp, settings: Settings) -> AsyncSocketModeHandler | None:
    """Connect to Slack in Socket Mode on the running loop; None without SLACK_APP_TOKEN."""
    app_token = _secret(settings.slack_app_token)
    if not app_token:
        log.info("slack: SLACK_APP_TOKEN is not set, Socket Mode is off (HTTP mode)")
        return None
    # slack-bolt is loaded only when Slack is configured
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("slack: connected in Socket Mode")
    return handler


async def stop_socket_mode(handler: AsyncSocketModeHandler | None) -> None:
    """Close the Socket Mode connection, if one was opened."""
    if handler is not None:
        await handler.close_async()  # type: ignore[no-untyped-call]
