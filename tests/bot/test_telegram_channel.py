"""TelegramChannel against the fake Bot API: layout, escaping, splitting, buttons, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import itertools

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.channels.base import (
    Alert,
    ChannelMisconfigured,
    DeliveryError,
    RetryLater,
    Target,
    TargetGone,
    TargetMoved,
)
from bot.telegram.app import build_bot
from bot.telegram.channel import TelegramChannel, delivery_error, html_length, layout, split_html
from bot.text.bidi import FSI, PDI
from bot.text.i18n import Texts
from bot.text.wording import word
from config.dataset_loader import load_dataset
from config.settings import load_settings
from schedulers.timeline import compute_deadlines
from tests.bot.telegram_harness import MARCH_2022, dataset
from tests.fakes.telegram_api import (
    BLOCKED,
    CHAT_NOT_FOUND,
    KICKED,
    SERVER_ERROR,
    THREAD_NOT_FOUND,
    FakeTelegram,
    Outcome,
    RateLimits,
    migrated,
    parse_html,
    retry_after,
    slow,
)

CALENDAR = "https://watch.example.org/calendar/abcdefghijklmnopqrstuvwxyz123456.ics"
HOSTILE = """
events:
  - id: cd-2022-firearms
    kind: constructive-dialogue
    title: "<script>alert('x')</script> & <b>Firearms</b>"
    themes: [firearms]
    start: 2022-05-06
    url: 'https://example.org/?a=1&b="2"'
    registration: {deadline: 2022-03-17, time: midnight, zone: Europe/Vienna}
    note: "Bring <passport> & a pen"
    source: "A source with <i>tags</i> & ampersands"
    confidence: confirmed
"""


@pytest.fixture(scope="module")
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def channel(fake):
    fake.reset()
    links = []

    def calendar_link(target: Target) -> str | None:
        links.append(target)
        return CALENDAR

    channel = TelegramChannel(
        Bot(fake.token, base_url=fake.base_url), lambda: MARCH_2022, calendar_link, part_spacing=0
    )
    yield channel
    await channel.close()


def deadline(deadline_id: str, data=None):
    found = {d.id: d for d in compute_deadlines(data or dataset(), MARCH_2022)}
    return found[deadline_id]


def target(address: str = "501", **kw) -> Target:
    return Target(subscriber_id=1, channel="telegram", address=address, **kw)


def reminder(deadline_id: str = "r-cd-2022-firearms", data=None, **kw) -> Alert:
    return Alert(
        key=f"k-{deadline_id}", kind="reminder", deadline=deadline(deadline_id, data), **kw
    )


async def test_a_reminder_is_html_with_status_confidence_and_both_zones(channel, fake):
    await channel.send(target(timezone="America/Bogota"), reminder(lead_days=14))
    (call,) = fake.sent(501)
    assert call.params["parse_mode"] == "HTML"
    lines = call.text.split("\n")
    assert lines[0] == (
        "<b>Due in 2 weeks: Registration closes: Constructive Dialogue on Firearms</b>"
    )
    assert lines[1] == "March 17, 2022, 6:00\u202fPM (Colombia Standard Time)"  # the reader's zone
    assert lines[2] == "March 17, 2022, midnight (end of day), Vienna time"
    assert lines[3] == "due soon · confirmed"
    parse_html(call.text)  # Telegram would accept it


async def test_an_arabic_alert_isolates_latin_text_and_keeps_the_link_whole(channel, fake):
    await channel.send(target(language="ar"), reminder("r-cd-2022-som-tip"))
    await channel.send(target("502", language="en"), reminder("r-cd-2022-som-tip"))
    (arabic,) = fake.sent(501)
    (english,) = fake.sent(502)
    url = "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html"
    link = f'<a href="{url}">{url}</a>'
    assert f"{FSI}{link}{PDI}" in arabic.text  # isolated from the outside, never entered
    source = Texts("ar")("Source: {source}").split("{source}")[0]  # "Source: " in Arabic
    assert f"<i>{source}{FSI}GI-TOC guide for civil society" in arabic.text
    parse_html(arabic.text)
    assert arabic.text.replace(FSI, "").replace(PDI, "") != english.text  # it is Arabic
    # English readers get the layout byte for byte, no invisible characters
    texts = Texts("en")
    wording = word(reminder("r-cd-2022-som-tip"), texts, "Europe/Vienna", MARCH_2022)
    assert english.text == layout(wording, texts)


async def test_buttons_calendar_done_and_mute(channel, fake):
    await channel.send(target(), reminder("m-at-c1-self-assessment"))
    (call,) = fake.sent(501)
    rows = call.params["reply_markup"]["inline_keyboard"]
    assert rows[0] == [{"text": "Add to calendar", "url": CALENDAR}]
    assert [b["callback_data"] for b in rows[1]] == ["ack:m-at-c1-self-assessment", "mute:AT"]
    assert [b["text"] for b in rows[1]] == ["Done / registered", "Mute this country"]


async def test_buttons_are_translated_and_mute_is_left_out_without_a_country(channel, fake):
    await channel.send(target(language="fr"), reminder())
    (call,) = fake.sent(501)
    labels = [b["text"] for b in call.buttons]
    assert labels == ["Ajouter au calendrier", "Fait / inscrit"]


async def test_a_button_whose_data_would_not_fit_is_left_out(channel, fake):
    long = deadline("r-cd-2022-firearms")
    import dataclasses

    alert = Alert(key="k", kind="reminder", deadline=dataclasses.replace(long, id="r-" + "x" * 70))
    await channel.send(target(), alert)
    (call,) = fake.sent(501)
    assert all(len(b.get("callback_data", "").encode()) <= 64 for b in call.buttons)
    assert not any(b.get("callback_data", "").startswith("ack:") for b in call.buttons)


async def test_no_calendar_button_without_a_public_https_link(fake):
    fake.reset()

    def local_link(target: Target) -> str | None:
        return "http://127.0.0.1:8000/calendar/x.ics"

    channel = TelegramChannel(
        Bot(fake.token, base_url=fake.base_url), lambda: MARCH_2022, local_link
    )
    try:
        await channel.send(target(), reminder())
    finally:
        await channel.close()
    assert not any("url" in b for b in fake.sent(501)[0].buttons)


async def test_hostile_text_from_a_dataset_override_is_escaped(channel, fake, tmp_path):
    (tmp_path / "events.yaml").write_text(HOSTILE)
    data = load_dataset(tmp_path)
    await channel.send(target(), reminder(data=data))
    (call,) = fake.sent(501)
    assert "<script>" not in call.text and "<passport>" not in call.text
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;Firearms&lt;/b&gt;"
        in call.text
    )
    assert 'href="https://example.org/?a=1&amp;b=&quot;2&quot;"' in call.text
    shown = parse_html(call.text)
    assert "<script>alert('x')</script> & <b>Firearms</b>" in shown
    assert "A source with <i>tags</i> & ampersands" in shown


async def test_a_long_alert_is_split_under_the_limit_with_buttons_on_the_last_part(channel, fake):
    alert = Alert(
        key="k",
        kind="reminder",
        deadline=deadline("m-at-c1-self-assessment"),
        text="Long note <with> markup & more. " * 400,
    )
    await channel.send(target(), alert)
    calls = fake.sent(501)
    assert len(calls) >= 3
    for call in calls:
        assert html_length(call.text) <= 4096
        parse_html(call.text)
    assert [bool(c.buttons) for c in calls] == [False] * (len(calls) - 1) + [True]
    joined = "".join(html.unescape(c.text) for c in calls)
    assert joined.count("Long note <with> markup & more.") == 400


def long_alert(key: str = "k", repeat: int = 400) -> Alert:
    return Alert(
        key=key,
        kind="reminder",
        deadline=deadline("m-at-c1-self-assessment"),
        text="Long note <with> markup & more. " * repeat,
    )


async def test_the_parts_of_a_long_alert_keep_to_one_message_a_second_in_the_chat(fake):
    fake.reset()
    fake.limits = RateLimits(per_second=None, per_chat_per_second=1, per_group_per_minute=None)
    channel = TelegramChannel(Bot(fake.token, base_url=fake.base_url), lambda: MARCH_2022)
    try:
        await channel.send(target(), long_alert(repeat=150))
    finally:
        fake.limits = None
        await channel.close()
    calls = fake.sent(501)
    assert len(calls) == 3
    assert fake.rate_limited == 0
    assert all(later.at - earlier.at >= 0.9 for earlier, later in itertools.pairwise(calls))


async def test_a_retry_after_a_part_failed_goes_on_from_that_part(channel, fake):
    fake.script(501, slow(0), retry_after(3))  # the first part goes, the second is refused
    with pytest.raises(RetryLater) as raised:
        await channel.send(target(), long_alert())
    assert raised.value.retry_after == 3
    fake.script(501, SERVER_ERROR)  # and the retry of the second part fails once more
    with pytest.raises(RetryLater):
        await channel.send(target(), long_alert())
    await channel.send(target(), long_alert())
    await channel.send(target(), long_alert("another"))  # a new alert starts at its start
    sent = [call.text for call in fake.sent(501)]
    assert sent.count(sent[0]) == 2  # the first part: once for each alert
    joined = html.unescape("".join(sent))
    assert joined.count("Long note <with> markup & more.") == 800
    assert [bool(call.buttons) for call in fake.sent(501)].count(True) == 2


async def test_a_retry_sends_the_rest_as_first_laid_out_even_when_the_wording_moved(fake):
    fake.reset()
    now = [MARCH_2022]
    channel = TelegramChannel(
        Bot(fake.token, base_url=fake.base_url), lambda: now[0], part_spacing=0
    )
    # lines, so the first part ends at a line that depends on the headline's length
    alert = Alert(
        key="lines",
        kind="reminder",
        deadline=deadline("m-at-c1-self-assessment"),
        text="line\n" * 3000,
    )
    wording = word(alert, Texts("en"), target().timezone, MARCH_2022)
    expected = split_html(layout(wording, Texts("en")))
    fake.script(501, slow(0), retry_after(3))
    try:
        with pytest.raises(RetryLater):
            await channel.send(target(), alert)
        now[0] = MARCH_2022 + dt.timedelta(days=55)  # "Due in 6 days": the cuts move
        await channel.send(target(), alert)
    finally:
        await channel.close()
    sent = [call.text for call in fake.sent(501)]
    assert sent == expected and "".join(sent).count("line") == 3000


async def test_a_part_refused_for_good_is_not_resumed(channel, fake):
    fake.script(501, slow(0), BLOCKED)
    with pytest.raises(TargetGone):
        await channel.send(target(), long_alert())
    await channel.send(target(), long_alert())  # sent whole, were it ever tried again
    sent = [call.text for call in fake.sent(501)]
    assert sent.count(sent[0]) == 2
    assert html.unescape("".join(sent[1:])).count("Long note <with> markup & more.") == 400


def test_splitting_keeps_tags_balanced_and_entities_whole():
    text = "<b>" + "word &amp; " * 1000 + "</b>\n" + "<i>x</i>\n" * 900
    parts = split_html(text, 4096)
    assert len(parts) > 1
    for part in parts:
        assert html_length(part) <= 4096
        parse_html(part)
    assert "".join(parse_html(p) for p in parts).replace("\n", "") == parse_html(text).replace(
        "\n", ""
    )


async def test_alerts_go_to_the_forum_topic(channel, fake):
    await channel.send(target("-1001234", thread_id="77"), reminder())
    (call,) = fake.sent(-1001234)
    assert call.params["message_thread_id"] == 77


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (BLOCKED, TargetGone),
        (KICKED, TargetGone),
        (CHAT_NOT_FOUND, TargetGone),
        (THREAD_NOT_FOUND, TargetGone),
        (SERVER_ERROR, RetryLater),
        (Outcome(400, "Bad Request: can't parse entities"), DeliveryError),
    ],
)
async def test_errors_map_to_what_the_delivery_loop_does_next(channel, fake, outcome, error):
    fake.script(501, outcome)
    with pytest.raises(error) as raised:
        await channel.send(target(), reminder())
    if error is DeliveryError:
        assert not isinstance(raised.value, RetryLater | TargetGone | TargetMoved)


async def test_flood_control_gives_the_wait_telegram_asked_for(channel, fake):
    fake.script(501, retry_after(7))
    with pytest.raises(RetryLater) as raised:
        await channel.send(target(), reminder())
    assert raised.value.retry_after == 7


async def test_a_migrated_group_gives_its_new_address(channel, fake):
    fake.script(-501, migrated(-1000000000501))
    with pytest.raises(TargetMoved) as raised:
        await channel.send(target("-501"), reminder())
    assert raised.value.new_address == "-1000000000501"


async def test_a_revoked_token_is_a_misconfigured_channel(channel, fake):
    await channel.send(target(), reminder())  # started with a good token
    fake.revoke_token()
    with pytest.raises(ChannelMisconfigured, match="TELEGRAM_BOT_TOKEN"):
        await channel.send(target(), reminder())


async def test_a_slow_answer_is_retried_later(fake):
    fake.reset()
    bot = Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.2))
    channel = TelegramChannel(bot, lambda: MARCH_2022)
    fake.script(501, slow(1.0))
    try:
        with pytest.raises(RetryLater):
            await channel.send(target(), reminder())
    finally:
        await channel.close()


async def test_the_fake_enforces_rate_limits_and_counts_them(fake):
    fake.reset()
    channel = TelegramChannel(Bot(fake.token, base_url=fake.base_url), lambda: MARCH_2022)
    try:
        fake.limits = RateLimits(per_second=None, per_chat_per_second=1, per_group_per_minute=None)
        await channel.send(target(), reminder())
        with pytest.raises(RetryLater) as per_chat:
            await channel.send(target(), reminder())
        fake.limits = RateLimits(per_second=None, per_chat_per_second=None, per_group_per_minute=2)
        await channel.send(target("-9"), reminder())
        await channel.send(target("-9"), reminder())
        with pytest.raises(RetryLater) as per_group:
            await channel.send(target("-9"), reminder())
    finally:
        fake.limits = None
        await channel.close()
    assert per_chat.value.retry_after == 1
    assert 1 <= (per_group.value.retry_after or 0) <= 60
    assert fake.rate_limited == 2
    assert (fake.messages_received[501], fake.messages_received[-9]) == (1, 2)


async def test_one_bad_chat_does_not_hold_up_the_others(fake):
    fake.reset()
    fake.script(505, always=BLOCKED)
    bot = build_bot(
        load_settings(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_BASE_URL=fake.base_url)
    )
    channel = TelegramChannel(bot, lambda: MARCH_2022)
    alert = reminder()
    try:
        results = await asyncio.gather(
            *(channel.send(target(str(500 + i)), alert) for i in range(20)),
            return_exceptions=True,
        )
    finally:
        await channel.close()
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failed == [5] and isinstance(results[5], TargetGone)
    assert sum(fake.messages_received.values()) == 19


def test_unknown_telegram_errors_are_plain_delivery_errors():
    from telegram.error import Conflict, TimedOut

    assert type(delivery_error(Conflict("terminated by other getUpdates"))) is DeliveryError
    assert isinstance(delivery_error(TimedOut()), RetryLater)


def test_limits_are_declared_as_data():
    limits = TelegramChannel.limits
    assert (limits.messages_per_second, limits.per_target_per_second) == (30, 1)
    assert (limits.per_group_per_minute, limits.max_text_length) == (20, 4096)
    assert TelegramChannel.name == "telegram"


async def test_digest_alert(channel, fake):
    chosen = tuple(
        d for d in compute_deadlines(dataset(), MARCH_2022) if d.id.startswith("r-cd-2022")
    )
    await channel.send(target(), Alert(key="d", kind="digest", digest=chosen, lead_days=7))
    (call,) = fake.sent(501)
    parse_html(call.text)
    assert "Registration closes" in call.text
    assert [b.get("url") for b in call.buttons] == [CALENDAR]
