"""The six UN languages everywhere a person reads us: Telegram, alerts, the page, feeds, Slack.

Every expectation comes from the catalogs and CLDR through `Texts`, never from a copy of
a translation, so the tests follow the catalogs; where a language is not English they
also check the catalog really translated the message. Right-to-left readers (Arabic) get
their Latin stretches isolated, everybody else gets the text unchanged.
"""

from __future__ import annotations

import datetime as dt
import gettext
from html.parser import HTMLParser

import httpx
import pytest
from babel import Locale
from babel.messages.pofile import read_po
from icalendar import Calendar
from markupsafe import escape as html_escape
from starlette.applications import Starlette
from telegram import Bot

from bot.channels.base import Alert, Target
from bot.db.migrate import upgrade
from bot.db.store import Store
from bot.publishing.publisher import Publisher, with_expected
from bot.slack.app import build_slack_app, slack_routes
from bot.slack.channel import SlackChannel
from bot.slack.layout import escape
from bot.telegram.channel import TelegramChannel
from bot.text.bidi import FSI, PDI, strip_isolates
from bot.text.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, Texts
from bot.text.render import STATUS_LABELS
from bot.web.app import create_app
from config.settings import load_settings
from feeds.ical import Words, summary
from schedulers.timeline import compute_deadlines
from tests.bot.telegram_harness import (
    ALICE,
    MARCH_2022,
    dataset,
    only_message,
    private,
    running_bot,
)
from tests.bot.test_slack_app import USER, Slack, slack_settings
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.fakes.telegram_api import FakeTelegram, parse_html

AUSTRIA_RESPONSES = "m-at-c1-self-assessment"
AUSTRIA_FOCAL_POINTS = "m-at-c1-focal-points"
FIREARMS_REGISTRATION = "r-cd-2022-firearms"  # closes at midnight, Vienna time
UPCOMING_DAYS = 90


def shown(text: str) -> str:
    """What a Telegram reader sees of an HTML message, without the invisible isolates."""
    return strip_isolates(parse_html(text))


def translated(texts: Texts, message: str) -> str:
    """`message` in the reader's language; for other languages than English, really so."""
    result = texts(message)
    if texts.language != DEFAULT_LANGUAGE:
        assert result != message, f"{texts.language}: {message!r} is not translated"
    return result


def deadline(deadline_id: str):
    return {d.id: d for d in compute_deadlines(dataset(), MARCH_2022)}[deadline_id]


def assert_direction(texts: Texts, *sent: str) -> None:
    """Isolates in what a right-to-left reader got; not one invisible character otherwise."""
    isolated = any(FSI in text for text in sent)
    assert isolated == (texts.direction == "rtl"), texts.language
    for text in sent:
        assert text.count(FSI) == text.count(PDI)


@pytest.fixture(scope="module")
def telegram():
    with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
def slack_server():
    with FakeSlack() as server:
        yield server


# Telegram: /start -> /subscribe -> /upcoming


@pytest.mark.parametrize("language", LANGUAGES)
async def test_start_subscribe_and_upcoming_in_each_language(telegram, tmp_path, language):
    texts = Texts(language)
    telegram.reset()
    chat, reader = private(ALICE), telegram.user(ALICE, language_code=language)
    async with running_bot(telegram, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}") as bot:
        welcome = only_message(await bot.say(chat, reader, "/start")).text
        subscribed = only_message(await bot.say(chat, reader, "/subscribe AT")).text
        upcoming = only_message(await bot.say(chat, reader, "/upcoming")).text

    about = "Deadlines of the UNTOC Implementation Review Mechanism, for civil society."
    assert translated(texts, about) in shown(welcome)
    assert translated(texts, "Alerts are off in this chat. /subscribe turns them on.") in shown(
        welcome
    )
    assert translated(texts, "This chat now follows:") in shown(subscribed)
    assert texts.labelled(texts("Countries"), f"{texts.country('AT')} (AT)") in shown(subscribed)
    heading = texts.plural(
        "Coming up in the next {days} day", "Coming up in the next {days} days", UPCOMING_DAYS
    ).format(days=UPCOMING_DAYS)
    assert heading in shown(upcoming)
    responses = deadline(AUSTRIA_RESPONSES)
    title = translated(texts, responses.title)
    assert f"{texts.country('AT')}: {title}\n{texts.date(responses.due)}" in shown(upcoming)
    assert_direction(texts, welcome, subscribed, upcoming)
    if texts.direction == "rtl":
        assert f"{FSI}/subscribe{PDI}" in welcome  # a command to copy, in one piece
        assert f"({FSI}AT{PDI})" in subscribed


# Plural forms

WAITING = ("{count} more is waiting.", "{count} more are waiting.")


@pytest.mark.parametrize(
    ("language", "groups", "distinct"),
    [
        # one, few, many
        ("ru", [(1, 21, 101), (2, 3, 22, 104), (5, 11, 12, 25, 100)], 3),
        # zero, one, two, few (3-10), many (11-99), other (100-102): one and other share
        # the singular noun, zero and few the plural one
        ("ar", [(0,), (1,), (2,), (3, 10, 103), (11, 99, 111), (100, 101, 102)], 4),
    ],
)
def test_counts_take_the_plural_form_the_language_needs(language, groups, distinct):
    texts, cldr = Texts(language), Locale.parse(language)
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    forms = catalog[WAITING[0]].string
    index_of = gettext.c2py(catalog.plural_expr)
    shapes = []
    for group in groups:
        assert len({cldr.plural_form(n) for n in group}) == 1  # one CLDR category each
        said = {n: texts.plural(*WAITING, n).format(count=n) for n in group}
        assert all(said[n] == forms[index_of(n)].format(count=n) for n in group)
        shape = {text.replace(str(n), "#") for n, text in said.items()}
        assert len(shape) == 1, shape  # the same words for every number of a category
        shapes.append(shape.pop())
    assert len(set(shapes)) == distinct, shapes


# An alert through the real channel, against the fake Bot API


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_alert_in_each_language(telegram, language):
    telegram.reset()
    texts = Texts(language)
    responses = deadline(AUSTRIA_RESPONSES)
    channel = TelegramChannel(Bot(telegram.token, base_url=telegram.base_url), lambda: MARCH_2022)
    try:
        await channel.send(
            Target(1, "telegram", "601", language=language),
            Alert(key="k", kind="reminder", deadline=responses, lead_days=7),
        )
    finally:
        await channel.close()
    (call,) = telegram.sent(601)
    text = shown(call.text)
    assert f"{texts.country('AT')}: {translated(texts, responses.title)}" in text.split("\n")[0]
    assert texts.date(responses.due) in text
    assert translated(texts, STATUS_LABELS[responses.status]) in text
    assert [b["text"] for b in call.buttons] == [
        translated(texts, "Done / registered"),
        translated(texts, "Mute this country"),
    ]
    assert_direction(texts, call.text)


@pytest.mark.parametrize("language", ["ar", "ru", "zh"])
async def test_a_vienna_deadline_names_zone_city_and_country_from_cldr(telegram, language):
    """The zone and city names, and the country, in the reader's language from CLDR."""
    telegram.reset()
    texts, cldr = Texts(language), Locale.parse(language)
    registration = deadline(FIREARMS_REGISTRATION)
    assert isinstance(registration.due, dt.datetime) and registration.zone == "Europe/Vienna"
    # 17 March 2022 is before summer time: Central European *standard* time.
    zone_name = cldr.meta_zones["Europe_Central"]["long"]["standard"]
    assert texts.moment(registration.due, "Europe/Berlin").endswith(f"({zone_name})")
    assert texts.city("Europe/Vienna") == cldr.time_zones["Europe/Vienna"]["city"]
    assert texts.country("AT") == cldr.territories["AT"]

    channel = TelegramChannel(Bot(telegram.token, base_url=telegram.base_url), lambda: MARCH_2022)
    try:
        target = Target(1, "telegram", "602", language=language, timezone="Europe/Berlin")
        await channel.send(target, Alert(key="r", kind="reminder", deadline=registration))
        responses = deadline(AUSTRIA_RESPONSES)
        await channel.send(target, Alert(key="m", kind="reminder", deadline=responses))
    finally:
        await channel.close()
    first, second = (shown(call.text) for call in telegram.sent(602))
    assert texts.moment(registration.due, "Europe/Berlin") in first  # the reader's zone
    assert cldr.time_zones["Europe/Vienna"]["city"] in first  # as announced, in Vienna
    assert cldr.territories["AT"] in second


# The web page and the feeds


@pytest.fixture
async def web(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    publisher = Publisher(dataset(), None, "https://watch.example.org", clock=lambda: MARCH_2022)
    app = create_app(load_settings(), dataset(), publisher)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


class _Root(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attributes: dict[str, str | None] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.attributes = dict(attrs)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_page_in_each_language(web, language):
    texts = Texts(language)
    chosen = await web.get(f"/?lang={language}&days=120")
    negotiated = await web.get("/?days=120", headers={"Accept-Language": f"{language};q=0.9"})
    assert chosen.status_code == negotiated.status_code == 200
    assert chosen.headers["content-language"] == negotiated.headers["content-language"] == language
    root = _Root()
    root.feed(chosen.text)
    assert root.attributes == {"lang": language, "dir": texts.direction}
    assert strip_isolates(root.title) == translated(texts, "UNTOC Watch: review deadlines")
    page = strip_isolates(chosen.text)
    assert html_escape(texts.country("AT")) in page
    responses = deadline(AUSTRIA_RESPONSES)
    title = f"{texts.country('AT')}: {translated(texts, responses.title)}"
    assert f'<div class="title">{html_escape(title)}</div>' in page
    assert_direction(texts, chosen.text)
    if texts.direction == "rtl":
        download = translated(texts, "Download .ics")
        assert f"{FSI}.ics{PDI}" in chosen.text and ".ics" in download  # not "ics."


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_feed_summaries_in_each_language(web, language):
    texts = Texts(language)
    response = await web.get(f"/calendar.ics?lang={language}")
    assert response.status_code == 200
    events = {
        str(event["UID"]).split("@")[0]: str(event["SUMMARY"])
        for event in Calendar.from_ical(response.content).walk("VEVENT")
    }
    words = Words(gettext=texts, country_name=texts.country)
    deadlines = {d.id: d for d in with_expected(dataset(), MARCH_2022)}
    assert events and set(events) <= set(deadlines)
    assert events == {uid: summary(deadlines[uid], words) for uid in events}
    focal = deadlines[AUSTRIA_FOCAL_POINTS]
    cluster = translated(texts, "cluster {number}").format(number=focal.cluster)
    assert events[AUSTRIA_FOCAL_POINTS] == (
        f"{texts.country('AT')}: {translated(texts, focal.title)} ({cluster})"
    )
    registration = deadlines[FIREARMS_REGISTRATION]
    assert not registration.title.startswith("Registration closes")  # the event's own title
    assert events[FIREARMS_REGISTRATION] == translated(
        texts, "Registration closes: {event}"
    ).format(event=translated(texts, registration.title))


# Slack: /untoc settings language xx, then an alert in xx


@pytest.fixture
async def slack(slack_server, tmp_path):
    slack_server.reset()
    url = f"sqlite+aiosqlite:///{tmp_path / 'slack.db'}"
    await upgrade(url)
    store = await Store.open(url)
    settings = slack_settings(slack_server)
    publisher = Publisher(dataset(), store, settings.public_base_url, clock=lambda: MARCH_2022)
    app = build_slack_app(settings, store, publisher, dataset(), publisher.clock)
    routes = Starlette(routes=slack_routes(app, settings))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=routes), base_url="http://test"
        ) as http:
            yield Slack(http, slack_server, store, app)
    finally:
        await store.close()


@pytest.mark.parametrize("language", LANGUAGES)
async def test_slack_language_setting_then_an_alert_in_that_language(slack, language):
    texts = Texts(language)
    await slack.command("subscribe AT")
    changed = await slack.command(f"settings language {language}")
    assert changed["response_type"] == "in_channel"
    said = strip_isolates(changed["text"])
    assert (
        translated(texts, "{user} changed how this channel gets alerts.").format(user=f"<@{USER}>")
        in said
    )
    assert escape(texts("Language: {language}").format(language=texts.language_name)) in said
    subscriber = await slack.subscriber()
    assert subscriber.language == language

    slack.fake.reset()
    channel = SlackChannel(token=BOT_TOKEN, base_url=slack.fake.api_url, clock=lambda: MARCH_2022)
    responses = deadline(AUSTRIA_RESPONSES)
    try:
        await channel.send(
            Target(
                subscriber.id,
                subscriber.channel,
                subscriber.address,
                language=subscriber.language,
                timezone=subscriber.timezone,
            ),
            Alert(key="k", kind="reminder", deadline=responses, lead_days=7),
        )
    finally:
        await channel.close()
    (post,) = slack.fake.calls_to("chat.postMessage")
    assert post.ok
    header = strip_isolates(post.blocks[0]["text"]["text"])
    assert f"{texts.country('AT')}: {translated(texts, responses.title)}" in header
    facts = strip_isolates(post.blocks[1]["text"]["text"])
    assert f"*{escape(translated(texts, 'Status'))}:* " in facts
    assert texts.date(responses.due) in facts
    buttons = [b["text"]["text"] for b in post.blocks[-1]["elements"]]
    assert strip_isolates(buttons[-1]) == translated(texts, "Mute this country")
    assert_direction(
        texts, changed["text"], post.text, *(b["text"]["text"] for b in post.blocks[1:2])
    )
    if texts.direction == "rtl":
        assert f"{FSI}<@{USER}>{PDI}" in changed["text"]  # the mention, whole
        assert f"{FSI}Europe/Vienna{PDI}" in changed["text"]  # a zone name, in its own order
