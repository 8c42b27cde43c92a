"""Webhook mode: the secret header, bad bodies, and the worker setting the webhook."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.telegram.app import build_application, start_telegram, stop_telegram
from bot.telegram.webhook import SECRET_HEADER, WEBHOOK_PATH, start_receiving, telegram_routes
from config.settings import load_settings
from tests.bot.telegram_harness import ALICE, MARCH_2022, dataset, private
from tests.fakes.telegram_api import FakeTelegram

SECRET = "s3cret_webhook-token-long-enough-to-hold"
WEBHOOK_URL = "https://watch.example.org/telegram/webhook"


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def parts(fake, tmp_path):
    fake.reset()
    url = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    await upgrade(url)
    store = Store(create_engine(url))
    settings = load_settings(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE_URL=fake.base_url,
        TELEGRAM_WEBHOOK_URL=WEBHOOK_URL,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        DATABASE_URL=url,
    )
    publisher = Publisher(dataset(), store, settings.public_base_url, clock=lambda: MARCH_2022)
    application = build_application(settings, store, publisher, dataset(), lambda: MARCH_2022)
    try:
        yield settings, application
    finally:
        await store.close()


@pytest.fixture
async def client(parts):
    _, application = parts
    await start_receiving(application)
    app = Starlette(routes=telegram_routes(application, SECRET))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://web"
        ) as http:
            yield http
    finally:
        await stop_telegram(application)


def update(fake, text="/help", update_id=1):
    return {"update_id": update_id, "message": fake.message(private(ALICE), fake.user(ALICE), text)}


async def test_the_right_secret_gets_the_update_handled(client, fake):
    response = await client.post(WEBHOOK_PATH, json=update(fake), headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    (reply,) = fake.sent(ALICE)
    assert "/subscribe" in reply.text


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_a_missing_or_wrong_secret_is_refused_and_the_update_dropped(client, fake, headers):
    response = await client.post(WEBHOOK_PATH, json=update(fake), headers=headers)
    assert response.status_code == 403
    assert fake.sent(ALICE) == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
async def test_a_body_that_is_not_an_update_is_a_bad_request(client, fake, body):
    response = await client.post(WEBHOOK_PATH, content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400
    assert fake.sent(ALICE) == []


async def test_only_post_is_served(client):
    response = await client.get(WEBHOOK_PATH, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 405


async def test_the_worker_sets_the_webhook_with_the_secret_and_does_not_poll(parts, fake):
    settings, application = parts
    assert application.updater is None
    await start_telegram(application, settings)
    try:
        assert fake.webhook["url"] == WEBHOOK_URL
        assert fake.webhook["secret_token"] == SECRET
        assert set(fake.webhook["allowed_updates"]) == {
            "message",
            "channel_post",
            "callback_query",
            "my_chat_member",
        }
    finally:
        await stop_telegram(application)
    assert fake.calls_to("getUpdates") == []
