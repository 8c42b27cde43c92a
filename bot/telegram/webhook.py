"""Webhook mode: Telegram posts updates to the web process instead of being polled.

`telegram_routes` gives the web app `POST /telegram/webhook`. Telegram sends back the
secret set with `setWebhook` in the `X-Telegram-Bot-Api-Secret-Token` header; a request
without it, or with another one, is answered 403 and its update dropped. The web process
runs the same `Application` as the worker (`start_receiving` at start-up, `stop_telegram`
at shutdown), without an updater: the worker sets the webhook.
"""

from __future__ import annotations

import json
import logging
import secrets

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.telegram.app import TelegramApplication

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000


async def start_receiving(application: TelegramApplication) -> None:
    """Ready the application to handle updates posted to the web process."""
    await application.initialize()
    await application.start()


def telegram_routes(application: TelegramApplication, secret: str) -> list[Route]:
    """The webhook route, checking Telegram's secret header before anything else."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secrets.compare_digest(given, expected):
            return PlainTextResponse("Forbidden\n", status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return PlainTextResponse("Update too large\n", status_code=413)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return PlainTextResponse("Expected a JSON update\n", status_code=400)
        if not isinstance(data, dict):
            return PlainTextResponse("Expected a JSON object\n", status_code=400)
        if not isinstance(data.get("update_id"), int):
            return PlainTextResponse("Not an update: no update_id\n", status_code=400)
        try:
            update = Update.de_json(data, application.bot)
        except (KeyError, TypeError, ValueError, AttributeError):  # a field of the wrong type
            log.warning("telegram: dropped an update that is not one")
            return PlainTextResponse("Not an update\n", status_code=400)
        await application.process_update(update)
        return Response(status_code=200)

    return [Route(WEBHOOK_PATH, receive, methods=["POST"])]
