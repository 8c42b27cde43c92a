"""The Slack app: the real bolt app behind the real route, signed requests, the database.

Requests are signed with `SignatureVerifier.generate_signature`, as Slack signs them;
bolt's client talks to the local fake Slack (auth.test, and the response URL a button
press answers on).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
import urllib.parse

import httpx
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.applications import Starlette

from bot.db import subscribers as subs
from bot.db.models import Acknowledgement
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.slack.app import (
    EVENTS_PATH,
    MAX_BODY_BYTES,
    SlackNotConfigured,
    build_slack_app,
    response_url_prefixes,
    slack_routes,
    start_socket_mode,
    stop_socket_mode,
)
from bot.slack.channel import APP_TARGET
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.keys import calendar_key, calendar_token
from config.settings import load_settings
from tests.fakes.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    FakeSlack,
    command_body,
    press_payload,
    signed_headers,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MARCH_2022 = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)
CHANNEL = "C0COAL"
USER = "U0ADA"


@pytest.fixture(scope="module")
def slack_server():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake(slack_server):
    slack_server.reset()
    return slack_server


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def slack_settings(fake, **overrides):
    values = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": fake.api_url,
        "PUBLIC_BASE_URL": "https://watch.example.org",
    }
    values.update(overrides)
    return load_settings(**values)


class Slack:
    """Sends what Slack would send to /slack/events, signed or not."""

    def __init__(self, http: httpx.AsyncClient, fake: FakeSlack, store: Store | None, app) -> None:
        self.http = http
        self.fake = fake
        self.store = store
        self.app = app

    @staticmethod
    def headers(body: str, *, secret: str = SECRET, age: int = 0, content_type: str | None = None):
        return signed_headers(body, secret, age=age, content_type=content_type)

    async def post(self, body: str, **signing) -> httpx.Response:
        return await self.http.post(
            EVENTS_PATH, content=body, headers=self.headers(body, **signing)
        )

    @staticmethod
    def command_body(text: str, channel: str = CHANNEL, **extra: str) -> str:
        return command_body(text, channel=channel, user=USER, **extra)

    async def command(self, text: str, channel: str = CHANNEL) -> dict[str, str]:
        response = await self.post(self.command_body(text, channel))
        assert response.status_code == 200, response.text
        answer: dict[str, str] = response.json()
        return answer

    def press_body(self, action_id: str, value: str, channel: str = CHANNEL) -> str:
        response_url = self.fake.response_url(action_id)
        payload = press_payload(
            action_id, value, channel=channel, user=USER, response_url=response_url
        )
        return urllib.parse.urlencode({"payload": json.dumps(payload)})

    async def press(self, action_id: str, value: str, channel: str = CHANNEL) -> str:
        response = await self.post(self.press_body(action_id, value, channel))
        assert response.status_code == 200, response.text
        (answer,) = self.fake.calls_to("response")
        assert answer.body["response_type"] == "ephemeral"
        assert answer.body["replace_original"] is False
        self.fake.reset()
        return str(answer.body["text"])

    async def subscriber(self, channel: str = CHANNEL):
        assert self.store is not None
        async with self.store.sessions() as session:
            return await subs.find_subscriber(session, APP_TARGET, channel)

    async def selection(self, channel: str = CHANNEL):
        return subs.selection_of(await self.subscriber(channel))


@pytest.fixture
async def slack(fake, store, dataset):
    settings = slack_settings(fake)
    publisher = Publisher(dataset, store, settings.public_base_url, clock=lambda: MARCH_2022)
    app = build_slack_app(settings, store, publisher, dataset, publisher.clock)
    web = Starlette(routes=slack_routes(app, settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://test"
    ) as http:
        yield Slack(http, fake, store, app)


async def test_subscribe_is_said_in_the_channel_and_stored(slack):
    answer = await slack.command("subscribe AT, Brazil, tip")
    assert answer["response_type"] == "in_channel"
    assert f"<@{USER}> subscribed this channel to: Austria (AT), Brazil (BR)" in answer["text"]
    assert "Trafficking in persons" in answer["text"]
    selection = await slack.selection()
    assert selection.countries == {"AT", "BR"} and selection.themes == {"tip"}
    subscriber = await slack.subscriber()
    assert subscriber.display_name == "#coalition-alerts" and subscriber.active
    # bolt's own check, then whether alerts can reach the channel (the app is in it)
    assert [c.method for c in slack.fake.calls] == ["auth.test", "conversations.info"]
    assert "cannot reach" not in answer["text"]


CANNOT_REACH = "Alerts cannot reach this private channel until the app is in it"


async def test_a_public_channel_the_app_is_not_in_needs_nothing(slack):
    slack.fake.add_channel("C0PUBLIC", member=False)  # chat:write.public posts there
    answer = await slack.command("subscribe AT", channel="C0PUBLIC")
    assert CANNOT_REACH not in answer["text"] and slack.fake.reaches("C0PUBLIC")


async def test_subscribing_a_private_channel_the_app_is_not_in_says_to_invite_it(slack):
    slack.fake.add_channel("G0SECRET", private=True, member=False)
    answer = await slack.command("subscribe AT", channel="G0SECRET")
    assert answer["response_type"] == "in_channel" and CANNOT_REACH in answer["text"]
    assert "`/invite`" in answer["text"] and "subscribe again" in answer["text"]
    # Its filters are kept, but no alert goes out: it would fail and be lost.
    subscriber = await slack.subscriber("G0SECRET")
    assert not subscriber.active and "not invited" in subscriber.deactivated_reason
    assert (await slack.selection("G0SECRET")).countries == {"AT"}
    slack.fake.add_channel("G0SECRET", private=True, member=True)  # someone invited it
    again = await slack.command("subscribe BR", channel="G0SECRET")
    assert CANNOT_REACH not in again["text"]
    assert (await slack.subscriber("G0SECRET")).active
    assert (await slack.selection("G0SECRET")).countries == {"AT", "BR"}


async def test_the_invite_note_is_in_the_channels_language(slack):
    slack.fake.add_channel("G0SECRET", private=True, member=True)
    await slack.command("subscribe AT", channel="G0SECRET")
    await slack.command("settings language fr", channel="G0SECRET")
    slack.fake.add_channel("G0SECRET", private=True, member=False)  # the app was removed
    answer = await slack.command("subscribe BR", channel="G0SECRET")
    assert "ne peuvent pas atteindre ce canal privé" in answer["text"]


async def test_a_slow_membership_check_is_given_up_within_slacks_three_seconds(slack):
    slack.fake.slow("C0SLOW", 5.0)
    started = time.monotonic()
    answer = await slack.command("subscribe AT", channel="C0SLOW")
    assert time.monotonic() - started < 3.0  # Slack drops an answer later than that
    assert "subscribed this channel" in answer["text"] and CANNOT_REACH not in answer["text"]
    assert (await slack.subscriber("C0SLOW")).active


async def test_a_failed_membership_check_does_not_stop_a_subscription(slack):
    slack.fake.fail("C0FLAKY", "", status=503, body="upstream trouble")
    answer = await slack.command("subscribe AT", channel="C0FLAKY")
    assert "subscribed this channel" in answer["text"] and CANNOT_REACH not in answer["text"]
    assert [(c.method, c.status) for c in slack.fake.calls][-1] == ("conversations.info", 503)
    assert (await slack.subscriber("C0FLAKY")).active


# The words an NGO types, in each of our languages: Slack reads what Telegram reads.
FOLLOW_AUSTRIA_AND_TRAFFICKING = {
    "en": "Austria, trafficking in persons",
    "fr": "Autriche, traite",
    "es": "Austria, trata de personas",
    "ru": "Австрия, торговля людьми",
    "zh": "奥地利, 人口贩运",
    "ar": "النمسا, الاتجار بالبشر",
}


@pytest.mark.parametrize("language", sorted(FOLLOW_AUSTRIA_AND_TRAFFICKING))
async def test_subscribe_reads_countries_and_themes_in_every_language(slack, language):
    answer = await slack.command("subscribe " + FOLLOW_AUSTRIA_AND_TRAFFICKING[language])
    assert answer["response_type"] == "in_channel", answer["text"]
    selection = await slack.selection()
    assert selection.countries == {"AT"} and selection.themes == {"tip"}


async def test_subscribe_in_french_follows_as_telegram_does(slack):
    answer = await slack.command("subscribe Autriche, traite des personnes, armes à feu")
    assert answer["response_type"] == "in_channel", answer["text"]
    selection = await slack.selection()
    assert selection.countries == {"AT"} and selection.themes == {"tip", "firearms"}
    await slack.command("subscribe trafic de migrants, tráfico de migrantes, firearms")
    assert (await slack.selection()).themes == {"tip", "firearms", "som"}


async def test_subscribe_reads_names_with_spaces_kinds_clusters_and_all(slack):
    await slack.command("subscribe United Kingdom, registration, cluster 1")
    selection = await slack.selection()
    assert selection.countries == {"GB"} and selection.kinds == {"registration"}
    assert selection.clusters == {1}
    everything = await slack.command("subscribe all")
    assert everything["response_type"] == "in_channel" and "every deadline" in everything["text"]
    selection = await slack.selection()
    assert not (selection.countries or selection.kinds or selection.clusters)


async def test_an_unknown_country_gets_suggestions_and_changes_nothing(slack):
    answer = await slack.command("subscribe Austira, tip")
    assert answer["response_type"] == "ephemeral"
    assert "Austira" in answer["text"] and "AT (Austria)" in answer["text"]
    assert await slack.subscriber() is None
    theme = await slack.command("subscribe AT fiream")
    assert "firearms" in theme["text"]


async def test_list_calendar_and_settings_are_only_for_the_caller(slack):
    not_yet = await slack.command("list")
    assert not_yet["response_type"] == "ephemeral" and "not subscribed" in not_yet["text"]
    await slack.command("subscribe AT")
    listed = await slack.command("list")
    assert listed["response_type"] == "ephemeral"
    assert "Austria (AT)" in listed["text"] and "All themes" in listed["text"]
    calendar = await slack.command("calendar")
    subscriber = await slack.subscriber()
    token = calendar_token(calendar_key(load_settings()), subscriber.calendar_nonce)
    url = f"https://watch.example.org/calendar/{token}.ics"
    assert calendar["response_type"] == "ephemeral" and f"<{url}|{url}>" in calendar["text"]
    shown = await slack.command("settings")
    assert shown["response_type"] == "ephemeral"
    assert "Europe/Vienna" in shown["text"] and "30, 14, 7, 1, 0" in shown["text"]


async def test_settings_change_is_said_in_the_channel_in_the_new_language(slack):
    await slack.command("subscribe AT")
    changed = await slack.command("settings language fr")
    assert changed["response_type"] == "in_channel"
    assert "français" in changed["text"]
    assert (await slack.subscriber()).language == "fr"
    await slack.command("settings reminders 14, 7 1")
    await slack.command("settings timezone Africa/Lagos")
    await slack.command("settings digest weekly")
    subscriber = await slack.subscriber()
    assert (subscriber.lead_days, subscriber.timezone, subscriber.digest) == (
        [14, 7, 1],
        "Africa/Lagos",
        "weekly",
    )
    for bad in ("settings timezone Mars/Olympus", "settings reminders soon", "settings colour red"):
        answer = await slack.command(bad)
        assert answer["response_type"] == "ephemeral", bad
    assert (await slack.subscriber()).timezone == "Africa/Lagos"


async def test_upcoming_uses_slack_dates_and_the_channels_filters(slack):
    everything = await slack.command("upcoming")
    assert everything["response_type"] == "ephemeral"
    # The 2022 registration windows close at midnight Vienna time; Slack shows each reader's time.
    assert "<!date^1647558000^{date_long_pretty} {time}|" in everything["text"]
    assert "more: <https://watch.example.org/|" in everything["text"]
    austria = await slack.command("upcoming Austria")
    assert "Austria: Responses to the self-assessment questionnaire" in austria["text"]
    await slack.command("subscribe som")
    mine = await slack.command("upcoming")
    assert "this channel" in mine["text"] and "Firearms" not in mine["text"]
    unknown = await slack.command("upcoming Narnia")
    assert "Narnia" in unknown["text"] and unknown["response_type"] == "ephemeral"


async def test_country_shows_the_review_milestones(slack):
    answer = await slack.command("country AT")
    assert answer["response_type"] == "ephemeral"
    assert "Review timeline: Austria (AT)" in answer["text"]
    assert "Cluster 1" in answer["text"] and "Appointment of focal points" in answer["text"]
    assert "no news since" in answer["text"] and "overdue" not in answer["text"]
    typo = await slack.command("country Austira")
    assert "AT (Austria)" in typo["text"]
    missing = await slack.command("country")
    assert "/untoc country AT" in missing["text"]


async def test_unsubscribe_some_then_all(slack):
    await slack.command("subscribe AT, DE, tip, som")
    some = await slack.command("unsubscribe DE, tip")
    assert some["response_type"] == "in_channel"
    selection = await slack.selection()
    assert selection.countries == {"AT"} and selection.themes == {"som"}
    listed_first = await slack.command("unsubscribe")  # lists, stops nothing
    assert listed_first["response_type"] == "ephemeral"
    assert (
        "Austria (AT)" in listed_first["text"]
        and "`/untoc unsubscribe all`" in listed_first["text"]
    )
    assert (await slack.subscriber()).active
    everything = await slack.command("unsubscribe all")
    assert everything["response_type"] == "in_channel" and "stopped" in everything["text"]
    subscriber = await slack.subscriber()
    assert not subscriber.active and not subscriber.filters
    listed = await slack.command("list")
    assert "stopped" in listed["text"]
    again = await slack.command("unsubscribe")
    assert again["response_type"] == "ephemeral"
    await slack.command("subscribe BR")
    assert (await slack.subscriber()).active and (await slack.selection()).countries == {"BR"}


async def test_help_and_unknown_subcommands(slack):
    for text in ("", "help", "HELP"):
        answer = await slack.command(text)
        assert answer["response_type"] == "ephemeral" and "/untoc subscribe" in answer["text"]
    unknown = await slack.command("subscibe AT")
    assert "Unknown command “subscibe”" in unknown["text"]
    assert "Did you mean `/untoc subscribe`?" in unknown["text"]
    assert await slack.subscriber() is None


async def test_oversized_and_hostile_text(slack):
    answer = await slack.command("subscribe " + "A" * 3000)
    assert answer["response_type"] == "ephemeral" and "too long" in answer["text"]
    assert await slack.subscriber() is None
    for line in ("<!channel> now", "subscribe AT, <!channel>", "country <@U0EVE>"):
        hostile = await slack.command(line)
        assert hostile["response_type"] == "ephemeral"
        assert "<!channel>" not in hostile["text"] and "<@U0EVE>" not in hostile["text"]
        assert "&lt;" in hostile["text"]
    many = await slack.command("subscribe " + ", ".join(["tip"] * 10 + ["c1", "AT"]))
    assert many["response_type"] == "in_channel"


async def test_a_forged_signature_is_a_401_and_nothing_runs(slack):
    body = slack.command_body("subscribe AT")
    response = await slack.http.post(
        EVENTS_PATH, content=body, headers=slack.headers(body, secret="another-secret-entirely")
    )
    assert response.status_code == 401
    tampered = slack.headers(slack.command_body("subscribe DE"))
    response = await slack.http.post(
        EVENTS_PATH, content=slack.command_body("subscribe AT"), headers=tampered
    )
    assert response.status_code == 401
    missing = await slack.http.post(EVENTS_PATH, content=body)
    assert missing.status_code == 401
    odd = dict(slack.headers(body), **{"X-Slack-Request-Timestamp": "soon"})
    assert (await slack.http.post(EVENTS_PATH, content=body, headers=odd)).status_code == 401
    assert await slack.subscriber() is None
    assert slack.fake.calls == []  # not even bolt's auth.test


async def test_a_replayed_request_is_a_401_and_nothing_runs(slack):
    response = await slack.post(slack.command_body("subscribe AT"), age=6 * 60)
    assert response.status_code == 401
    assert await slack.subscriber() is None
    fresh = await slack.post(slack.command_body("subscribe AT"), age=60)
    assert fresh.status_code == 200


async def test_bolts_own_verification_refuses_a_forged_request(slack):
    body = slack.command_body("subscribe AT")
    headers = slack.headers(body, secret="another-secret-entirely")
    response = await slack.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
    assert response.status == 401
    assert await slack.subscriber() is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("payload=%7Bbroken", None),
        ("payload=%5B1%5D", None),
    ],
)
async def test_malformed_signed_payloads_are_a_400(slack, body, content_type):
    response = await slack.post(body, content_type=content_type)
    assert response.status_code == 400
    assert await slack.subscriber() is None


async def test_a_command_payload_without_a_channel_changes_nothing(slack):
    body = urllib.parse.urlencode({"command": "/untoc", "text": "subscribe AT", "user_id": USER})
    response = await slack.post(body)
    assert response.status_code == 200 and "could not be read" in response.json()["text"]
    body = slack.command_body("subscribe AT", channel="../../etc")
    response = await slack.post(body)
    assert response.status_code == 200 and "could not be read" in response.json()["text"]


async def test_invalid_utf8_and_oversized_bodies(slack):
    raw = b"text=\xff\xfe"
    response = await slack.http.post(EVENTS_PATH, content=raw, headers=slack.headers("text="))
    assert response.status_code == 401
    big = "text=" + "a" * (MAX_BODY_BYTES + 10)
    assert (await slack.post(big)).status_code == 413


async def test_done_button_records_the_acknowledgement_once(slack, store):
    await slack.command("subscribe AT")
    slack.fake.reset()
    text = await slack.press("ack", "m-at-c1-self-assessment")
    assert "Marked as done in this channel: Austria: Responses" in text
    again = await slack.press("ack", "m-at-c1-self-assessment")
    assert "Already marked" in again
    subscriber = await slack.subscriber()
    async with store.sessions() as session:
        assert await session.get(Acknowledgement, (subscriber.id, "m-at-c1-self-assessment"))
    unknown = await slack.press("ack", "m-xx-c9-nothing")
    assert "no longer known" in unknown


async def test_mute_button_mutes_the_country_for_the_channel(slack):
    await slack.command("subscribe AT, DE")
    slack.fake.reset()
    text = await slack.press("mute", "DE")
    assert "Alerts about Germany are muted in this channel" in text
    assert (await slack.selection()).countries == {"AT"}
    bad = await slack.press("mute", "XX")
    assert "not known" in bad
    assert (await slack.selection()).countries == {"AT"}


async def test_a_button_in_an_unsubscribed_channel_changes_nothing(slack):
    text = await slack.press("mute", "AT", channel="C0ELSE")
    assert "not subscribed" in text
    assert await slack.subscriber("C0ELSE") is None


@pytest.mark.parametrize(
    "where",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://hooks.slack.com.evil.example/commands/1",
        "https://evil.example/hooks.slack.com/",
        "http://127.0.0.1:{canary}/response/x",
        "file:///etc/passwd",
    ],
)
async def test_a_press_is_answered_only_at_slacks_response_urls(slack, where):
    """A signed press whose response URL is not Slack's is applied, and answered nowhere."""
    await slack.command("subscribe AT, DE")
    slack.fake.reset()
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen()
    canary.setblocking(False)
    try:
        payload = press_payload(
            "mute",
            "DE",
            channel=CHANNEL,
            user=USER,
            response_url=where.format(canary=canary.getsockname()[1]),
        )
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        response = await slack.post(body)
        assert response.status_code == 200
        assert (await slack.selection()).countries == {"AT"}
        assert slack.fake.calls_to("response") == []
        with pytest.raises(BlockingIOError):
            canary.accept()  # nobody knocked
    finally:
        canary.close()


def test_response_urls_are_slacks_own_or_the_local_slack_of_the_settings():
    assert response_url_prefixes("https://slack.com/api/") == ("https://hooks.slack.com/",)
    local = response_url_prefixes("http://127.0.0.1:9999/api/")
    assert local == ("https://hooks.slack.com/", "http://127.0.0.1:9999/")


async def test_a_forged_button_press_is_a_401(slack):
    await slack.command("subscribe AT, DE")
    slack.fake.reset()
    response = await slack.post(slack.press_body("mute", "DE"), secret="another-secret-entirely")
    assert response.status_code == 401
    assert (await slack.selection()).countries == {"AT", "DE"}
    assert slack.fake.calls == []


async def test_the_calendar_link_button_is_acknowledged(slack):
    response = await slack.post(slack.press_body("calendar", "x"))
    assert response.status_code == 200


async def test_without_a_database_commands_say_so(fake, dataset):
    settings = slack_settings(fake)
    publisher = Publisher(dataset, None, settings.public_base_url, clock=lambda: MARCH_2022)
    app = build_slack_app(settings, None, publisher, dataset, publisher.clock)
    web = Starlette(routes=slack_routes(app, settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://t"
    ) as http:
        slack = Slack(http, fake, None, app)
        answer = await slack.command("subscribe AT")
        assert "tell its operator" in answer["text"]
        upcoming = await slack.command("upcoming AT")
        assert "Austria" in upcoming["text"]


async def test_the_routes_mount_next_to_the_web_app(fake, store, dataset):
    settings = slack_settings(fake)
    publisher = Publisher(dataset, store, settings.public_base_url, clock=lambda: MARCH_2022)
    app = build_slack_app(settings, store, publisher, dataset, publisher.clock)
    web = create_app(settings, dataset, publisher)
    web.router.routes.extend(slack_routes(app, settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://t"
    ) as http:
        assert (await http.get("/healthz")).status_code == 200
        slack = Slack(http, fake, store, app)
        assert (await slack.command("help"))["response_type"] == "ephemeral"
        assert (await http.get(EVENTS_PATH)).status_code == 405


def test_the_app_needs_its_token_and_secret(fake, dataset):
    settings = load_settings(SLACK_API_BASE_URL=fake.api_url)
    publisher = Publisher(dataset, None, settings.public_base_url)
    with pytest.raises(SlackNotConfigured, match="SLACK_BOT_TOKEN"):
        build_slack_app(settings, None, publisher, dataset, publisher.clock)


async def test_socket_mode_is_off_without_an_app_token(fake, store, dataset):
    settings = slack_settings(fake)
    publisher = Publisher(dataset, store, settings.public_base_url, clock=lambda: MARCH_2022)
    app = build_slack_app(settings, store, publisher, dataset, publisher.clock)
    assert await start_socket_mode(app, settings) is None
    await stop_socket_mode(None)
    assert fake.calls == [] and fake.socket_connections == 0


async def test_socket_mode_answers_a_command_on_this_loop(fake, store, dataset):
    settings = slack_settings(fake, SLACK_APP_TOKEN=APP_TOKEN)
    publisher = Publisher(dataset, store, settings.public_base_url, clock=lambda: MARCH_2022)
    app = build_slack_app(settings, store, publisher, dataset, publisher.clock)
    handler = await start_socket_mode(app, settings)
    assert handler is not None
    try:
        payload = dict(urllib.parse.parse_qsl(Slack.command_body("subscribe AT, tip")))
        fake.socket_send(
            {
                "envelope_id": "e-1",
                "type": "slash_commands",
                "payload": payload,
                "accepts_response_payload": True,
            }
        )
        for _ in range(200):
            if fake.socket_acks:
                break
            await asyncio.sleep(0.025)
        (ack,) = fake.socket_acks
        assert ack["envelope_id"] == "e-1"
        assert ack["payload"]["response_type"] == "in_channel"
        assert "Austria (AT)" in ack["payload"]["text"]
    finally:
        await stop_socket_mode(handler)
    async with store.sessions() as session:
        subscriber = await subs.find_subscriber(session, APP_TARGET, CHANNEL)
        assert subscriber is not None and subs.selection_of(subscriber).countries == {"AT"}
    assert [c.method for c in fake.calls][:1] == ["apps.connections.open"]
