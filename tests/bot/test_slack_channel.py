"""The Slack channel against the local fake Slack: blocks, limits, escaping, every error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import time

import pytest

from bot.channels.base import (
    Alert,
    ChannelMisconfigured,
    DeliveryError,
    RetryLater,
    Target,
    TargetGone,
    calendar_links,
)
from bot.slack.channel import APP_TARGET, WEBHOOK_TARGET, SlackChannel, mask_webhook_url
from bot.slack.layout import (
    HEADER_MAX,
    MAX_BLOCKS,
    SECTION_MAX,
    SlackMessage,
    clip,
    escape,
    layout,
    readable,
)
from bot.slack.targets import ensure_default_webhook
from bot.text.bidi import FSI, PDI
from bot.text.i18n import Texts
from config.dataset_loader import load_dataset
from config.keys import calendar_token
from schedulers.timeline import compute_deadlines
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, block_problem

MARCH_2022 = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)
HOSTILE = "<!channel> & <https://evil.example|click> <@U999> > done"


@pytest.fixture(scope="module")
def slack_server():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake(slack_server):
    slack_server.reset()
    return slack_server


@pytest.fixture(scope="module")
def deadlines():
    return {d.id: d for d in compute_deadlines(load_dataset(), MARCH_2022)}


@pytest.fixture
async def channel(fake):
    slack = SlackChannel(token=BOT_TOKEN, base_url=fake.api_url, clock=lambda: MARCH_2022)
    yield slack
    await slack.close()


def reminder(deadline, **changes):
    if changes:
        deadline = dataclasses.replace(deadline, **changes)
    return Alert(key=f"k-{deadline.id}", kind="reminder", deadline=deadline, lead_days=7)


def app_target(address="C0COAL", language="en", timezone="Africa/Lagos"):
    return Target(1, APP_TARGET, address, language=language, timezone=timezone)


def all_texts(message) -> list[str]:
    """Every mrkdwn or plain text in a message, the fallback first."""
    found = [message.text]

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("text"), str):
                found.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(message.blocks)
    return found


def test_a_registration_deadline_has_the_slack_date_the_vienna_time_and_buttons(deadlines):
    message = layout(
        reminder(deadlines["r-cd-2022-som-tip"]),
        Texts("en"),
        "Africa/Lagos",
        MARCH_2022,
        calendar_url="https://watch.example.org/calendar/tok.ics",
    )
    header, facts, *rest = message.blocks
    assert header["type"] == "header" and "Registration closes" in header["text"]["text"]
    text = facts["text"]["text"]
    # 8 May 2022, midnight Vienna time = 2022-05-08T22:00:00Z: each reader sees it in their zone.
    assert "<!date^1652047200^{date_long_pretty} {time}|" in text
    assert "May 8, 2022, midnight (end of day), Vienna time" in text
    assert "*Status:* upcoming" in text and "*Confidence:* confirmed" in text
    actions = rest[-1]
    assert actions["type"] == "actions"
    buttons = {b["action_id"]: b for b in actions["elements"]}
    assert buttons["calendar"]["url"] == "https://watch.example.org/calendar/tok.ics"
    assert buttons["ack"]["value"] == "r-cd-2022-som-tip"
    assert "mute" not in buttons  # a dialogue in Vienna concerns every country
    assert any("constructive-dialogues.html|Open the page>" in t for t in all_texts(message))
    assert block_problem(message.blocks) is None
    assert message.text.startswith("Due in 2 months: Registration closes")


def test_a_milestone_is_a_whole_day_with_the_hint_and_a_mute_button(deadlines):
    message = layout(
        reminder(deadlines["m-at-c1-self-assessment"]), Texts("fr"), "Europe/Vienna", MARCH_2022
    )
    texts = all_texts(message)
    assert not any("<!date^" in t for t in texts)  # a date is a whole day, not an instant
    assert any("1 mai 2022" in t for t in texts)
    french = Texts("fr")
    hint = french(deadlines["m-at-c1-self-assessment"].hint)
    assert f"*{french('What to do now')}:* {hint}" in texts
    buttons = {b["action_id"]: b for b in message.blocks[-1]["elements"]}
    assert set(buttons) == {"ack", "mute"}  # no calendar link was given
    assert buttons["mute"]["value"] == "AT"
    assert "Autriche" in buttons["mute"]["confirm"]["title"]["text"]


def test_webhook_messages_carry_no_action_buttons(deadlines):
    message = layout(
        reminder(deadlines["m-at-c1-self-assessment"]),
        Texts("en"),
        "UTC",
        MARCH_2022,
        calendar_url="https://watch.example.org/calendar/tok.ics",
        actions=False,
    )
    assert [b["action_id"] for b in message.blocks[-1]["elements"]] == ["calendar"]


def test_hostile_dataset_and_page_text_is_escaped_everywhere(deadlines):
    deadline = deadlines["m-at-c1-self-assessment"]
    alert = Alert(
        key="k",
        kind="change",
        deadline=dataclasses.replace(deadline, hint=HOSTILE, source=HOSTILE, note=HOSTILE),
        previous=deadline,
        text=HOSTILE,
    )
    message = layout(alert, Texts("en"), "UTC", MARCH_2022)
    for text in all_texts(message):
        assert "<!channel>" not in text and "<@U999>" not in text
        assert "<https://evil" not in text
    assert any(
        "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in t for t in all_texts(message)
    )
    header = message.blocks[0]["text"]
    assert header["type"] == "plain_text"  # shown as written, never parsed


def test_oversized_text_stays_within_slack_limits_and_keeps_the_buttons(deadlines):
    deadline = deadlines["m-at-c1-self-assessment"]
    long_title = "A" * 400
    alert = Alert(
        key="k",
        kind="reminder",
        deadline=dataclasses.replace(deadline, title=long_title, hint="<" * 5000),
        lead_days=7,
        text="x" * 200_000,
    )
    message = layout(alert, Texts("en"), "UTC", MARCH_2022)
    assert len(message.blocks) <= MAX_BLOCKS
    assert len(message.blocks[0]["text"]["text"]) <= HEADER_MAX
    assert message.blocks[-1]["type"] == "actions"
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_MAX
            assert not block["text"]["text"].endswith("&lt…")  # no escape cut in half
    assert len(message.text) <= 40_000
    assert block_problem(message.blocks) is None


def test_a_notice_without_a_deadline_is_split_into_sections():
    alert = Alert(
        key="op", kind="operator", text=("line " * 100 + "\n") * 200, link="https://x.example/p"
    )
    message = layout(alert, Texts("en"), "UTC", MARCH_2022)
    assert len(message.blocks) <= MAX_BLOCKS
    assert all(
        len(b["elements"][0]["text"]) <= SECTION_MAX
        for b in message.blocks
        if b["type"] == "context"
    )
    assert block_problem(message.blocks) is None


def test_a_digest_lists_its_deadlines_under_a_header(deadlines):
    chosen = (deadlines["r-cd-2022-som-tip"], deadlines["m-at-c1-self-assessment"])
    alert = Alert(key="d", kind="digest", digest=chosen, lead_days=7)
    message = layout(alert, Texts("en"), "UTC", MARCH_2022)
    assert message.blocks[0]["type"] == "header"
    body = "\n".join(b["text"]["text"] for b in message.blocks if b["type"] == "section")
    assert "Austria: Responses to the self-assessment questionnaire" in body
    assert block_problem(message.blocks) is None


def test_isolates_never_push_a_text_over_its_limit():
    fits = "ب" * (HEADER_MAX - 5) + " AT"  # exactly at the limit once isolated
    over = "ب" * (HEADER_MAX - 4) + " AT"  # one past it
    message = SlackMessage(
        text="Austria (AT)",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": fits}},
            {"type": "header", "text": {"type": "plain_text", "text": over}},
        ],
    )
    rtl = readable(message, "rtl")
    assert rtl.blocks[0]["text"]["text"] == fits[:-2] + f"{FSI}AT{PDI}"
    assert len(rtl.blocks[0]["text"]["text"]) == HEADER_MAX
    assert rtl.blocks[1]["text"]["text"] == over  # would not fit: left as it was
    assert rtl.text == f"{FSI}Austria (AT){PDI}"
    assert message.blocks[0]["text"]["text"] == fits  # the original is not changed
    assert readable(message, "ltr") is message


def test_clip_and_escape():
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert clip("abcdef", 4) == "abc…"
    assert clip("ab&amp;cd", 5) == "ab…"  # never "ab&a…"


async def test_an_app_target_gets_chat_post_message_with_blocks(fake, channel, deadlines):
    await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
    (call,) = fake.calls_to("chat.postMessage")
    assert call.ok and call.token == BOT_TOKEN and call.key == "C0COAL"
    assert call.blocks[0]["type"] == "header"
    assert call.body["unfurl_links"] is False
    assert "thread_ts" not in call.body or not call.body["thread_ts"]


async def test_an_arabic_alert_arrives_with_isolated_latin_and_intact_commands(
    fake, channel, deadlines
):
    await channel.send(app_target(language="ar"), reminder(deadlines["m-at-c1-self-assessment"]))
    await channel.send(
        app_target("C0OTHER", language="ar"), reminder(deadlines["r-cd-2022-som-tip"])
    )
    first, second = fake.calls_to("chat.postMessage")
    assert first.ok and second.ok  # within every limit the fake checks
    texts = Texts("ar")
    header = first.blocks[0]["text"]["text"]
    assert texts.country("AT") in header and FSI not in header  # all Arabic: nothing to isolate
    (mute,) = [b for b in first.blocks[-1]["elements"] if b["action_id"] == "mute"]
    assert mute["value"] == "AT"
    assert f"{FSI}/untoc subscribe AT{PDI}" in mute["confirm"]["text"]["text"]
    source = next(b for b in first.blocks if b["type"] == "context")["elements"][0]["text"]
    assert source.startswith(escape(texts("Source")) + ": " + FSI + "GI-TOC guide")
    facts = second.blocks[1]["text"]["text"]
    assert f"{FSI}<!date^1652047200^{{date_long_pretty}} {{time}}|" in facts
    page = next(b for b in second.blocks if b["type"] == "context")["elements"][0]["text"]
    url = "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html"
    assert f"<{url}|{escape(texts('Open the page'))}>" in page  # the link is never entered
    assert f"{FSI}{url}{PDI}" in second.text  # the fallback's bare address, whole
    await channel.send(app_target("C0ENGLISH"), reminder(deadlines["r-cd-2022-som-tip"]))
    english = fake.calls_to("chat.postMessage")[-1]
    expected = layout(
        reminder(deadlines["r-cd-2022-som-tip"]),
        Texts("en"),
        "Africa/Lagos",
        MARCH_2022,
        actions=True,
    )
    assert (english.text, english.blocks) == (expected.text, expected.blocks)  # untouched


async def test_a_thread_target_posts_in_its_thread(fake, channel, deadlines):
    target = dataclasses.replace(app_target(), thread_id="1650000000.000100")
    await channel.send(target, reminder(deadlines["r-cd-2022-som-tip"]))
    assert fake.calls_to("chat.postMessage")[0].body["thread_ts"] == "1650000000.000100"


async def test_a_webhook_target_posts_to_its_url(fake, channel, deadlines):
    url = fake.webhook_url()
    await channel.send(Target(2, WEBHOOK_TARGET, url), reminder(deadlines["r-cd-2022-som-tip"]))
    (call,) = fake.calls_to("webhook")
    assert call.ok and call.blocks[0]["type"] == "header"
    assert all(b["type"] != "actions" for b in call.blocks)  # no app, no calendar link given


@pytest.mark.parametrize(
    "error", ["channel_not_found", "not_in_channel", "is_archived", "account_inactive"]
)
async def test_a_gone_channel_stops_that_target(fake, channel, deadlines, error):
    fake.fail("C0GONE", error)
    with pytest.raises(TargetGone, match=error):
        await channel.send(app_target("C0GONE"), reminder(deadlines["r-cd-2022-som-tip"]))
    await channel.send(app_target("C0OTHER"), reminder(deadlines["r-cd-2022-som-tip"]))
    assert [c.key for c in fake.posts()] == ["C0OTHER"]  # other targets are unaffected


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "not_authed", "missing_scope"])
async def test_a_bad_token_is_for_the_operator(fake, channel, deadlines, error):
    fake.fail("C0COAL", error)
    with pytest.raises(ChannelMisconfigured, match="SLACK_BOT_TOKEN"):
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))


async def test_a_revoked_token_is_for_the_operator(fake, channel, deadlines):
    fake.revoke()
    with pytest.raises(ChannelMisconfigured, match="token_revoked"):
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))


async def test_without_a_bot_token_app_targets_are_misconfigured_and_webhooks_work(fake, deadlines):
    slack = SlackChannel(token=None, base_url=fake.api_url, clock=lambda: MARCH_2022)
    try:
        with pytest.raises(ChannelMisconfigured, match="SLACK_BOT_TOKEN"):
            await slack.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
        await slack.send(
            Target(2, WEBHOOK_TARGET, fake.webhook_url()), reminder(deadlines["r-cd-2022-som-tip"])
        )
    finally:
        await slack.close()
    assert [c.method for c in fake.calls] == ["webhook"]


async def test_429_retry_after_is_honoured(fake, channel, deadlines):
    fake.fail("C0COAL", "ratelimited", status=429, retry_after=7)
    with pytest.raises(RetryLater) as caught:
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
    assert caught.value.retry_after == 7
    calls = len(fake.calls)
    with pytest.raises(RetryLater) as again:  # too early: Slack is not even asked
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
    assert len(fake.calls) == calls
    assert again.value.retry_after is not None and 6 < again.value.retry_after <= 7
    await channel.send(app_target("C0OTHER"), reminder(deadlines["r-cd-2022-som-tip"]))


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_retry(fake, channel, deadlines, status):
    fake.fail("C0COAL", "internal_error", status=status)
    with pytest.raises(RetryLater):
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, "<html>Bad gateway</html>"), (200, ""), (200, "[1, 2]"), (502, "<html>proxy</html>")],
)
async def test_an_answer_that_is_not_slacks_json_retries(fake, channel, deadlines, status, body):
    fake.fail("C0COAL", "", status=status, body=body)
    with pytest.raises(RetryLater) as caught:
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
    assert "C0COAL" in str(caught.value)
    await channel.send(app_target("C0OTHER"), reminder(deadlines["r-cd-2022-som-tip"]))


async def test_a_refused_message_is_neither_retried_nor_the_target_stopped(
    fake, channel, deadlines
):
    fake.fail("C0COAL", "msg_too_long")
    with pytest.raises(DeliveryError) as caught:
        await channel.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
    assert type(caught.value) is DeliveryError


async def test_an_unreachable_slack_retries(deadlines):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    slack = SlackChannel(
        token=BOT_TOKEN, base_url=f"http://127.0.0.1:{port}/api/", clock=lambda: MARCH_2022
    )
    try:
        with pytest.raises(RetryLater):
            await slack.send(app_target(), reminder(deadlines["r-cd-2022-som-tip"]))
        secret = f"http://127.0.0.1:{port}/services/T1/B1/topsecretpart"
        with pytest.raises(RetryLater) as caught:
            await slack.send(
                Target(3, WEBHOOK_TARGET, secret), reminder(deadlines["r-cd-2022-som-tip"])
            )
        assert "topsecretpart" not in str(caught.value)
    finally:
        await slack.close()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, "no_service", TargetGone),
        (410, "channel_is_archived", TargetGone),
        (403, "action_prohibited", TargetGone),
        (429, "rate_limited", RetryLater),
        (500, "rollup_error", RetryLater),
        (400, "invalid_payload", DeliveryError),
    ],
)
async def test_webhook_answers_map_to_delivery_errors(
    fake, channel, deadlines, status, body, expected
):
    url = fake.webhook_url("T0FAKE/B0FAKE/hookSecretXYZ")
    fake.fail(
        "T0FAKE/B0FAKE/hookSecretXYZ", body, status=status, retry_after=3 if status == 429 else None
    )
    with pytest.raises(expected) as caught:
        await channel.send(Target(2, WEBHOOK_TARGET, url), reminder(deadlines["r-cd-2022-som-tip"]))
    assert type(caught.value) is expected
    assert "hookSecretXYZ" not in str(caught.value)
    if status == 429:
        assert caught.value.retry_after == 3


async def test_an_unknown_webhook_is_gone_and_its_secret_never_shown(fake, channel, deadlines):
    url = fake.webhook_base + "T0FAKE/B0DEAD/deadHookSecret"
    with pytest.raises(TargetGone, match="404") as caught:
        await channel.send(Target(2, WEBHOOK_TARGET, url), reminder(deadlines["r-cd-2022-som-tip"]))
    assert "deadHookSecret" not in str(caught.value)
    assert mask_webhook_url(url).endswith("/T0FAKE/B0DEAD/…")


async def test_one_message_per_second_per_channel(fake, channel, deadlines):
    fake.enforce_rate_limit()
    alert = reminder(deadlines["r-cd-2022-som-tip"])
    started = time.monotonic()
    await channel.send(app_target("C0A"), alert)
    await channel.send(app_target("C0B"), alert)  # another channel does not wait
    assert time.monotonic() - started < 0.9
    await channel.send(app_target("C0A"), alert)  # the same channel waits its second
    posts = fake.posts()
    assert [c.key for c in posts] == ["C0A", "C0B", "C0A"]
    assert posts[2].at - posts[0].at >= 0.99


async def test_a_target_of_another_channel_is_refused(channel, deadlines):
    with pytest.raises(DeliveryError, match="not a Slack target"):
        await channel.send(Target(1, "telegram", "42"), reminder(deadlines["r-cd-2022-som-tip"]))


KEY = b"a-calendar-key-for-these-tests-only"


async def test_the_calendar_button_links_the_targets_own_feed(fake, store, deadlines):
    url = fake.webhook_url()
    subscriber = await ensure_default_webhook(store, url, MARCH_2022)
    slack = SlackChannel(
        token=BOT_TOKEN,
        base_url=fake.api_url,
        clock=lambda: MARCH_2022,
        calendar_link=calendar_links("https://watch.example.org", KEY),
    )
    target = Target(subscriber.id, WEBHOOK_TARGET, url, calendar_nonce=subscriber.calendar_nonce)
    try:
        await slack.send(target, reminder(deadlines["r-cd-2022-som-tip"]))
    finally:
        await slack.close()
    (call,) = fake.posts()
    button = call.blocks[-1]["elements"][0]
    token = calendar_token(KEY, subscriber.calendar_nonce)
    assert button["url"] == f"https://watch.example.org/calendar/{token}.ics"


async def test_the_default_webhook_is_registered_once_and_a_new_one_replaces_it(store):
    first = await ensure_default_webhook(
        store, "https://hooks.slack.com/services/T1/B1/aaa", MARCH_2022
    )
    again = await ensure_default_webhook(
        store, "https://hooks.slack.com/services/T1/B1/aaa", MARCH_2022
    )
    assert again.id == first.id and first.active and first.channel == WEBHOOK_TARGET
    second = await ensure_default_webhook(
        store, "https://hooks.slack.com/services/T1/B2/bbb", MARCH_2022
    )
    assert second.id != first.id
    from bot.db import subscribers as subs

    async with store.sessions() as session, session.begin():
        old = await subs.find_subscriber(
            session, WEBHOOK_TARGET, "https://hooks.slack.com/services/T1/B1/aaa"
        )
        assert old is not None and not old.active
        assert "replaced" in (old.deactivated_reason or "")
        await subs.deactivate(session, second.id, "webhook gone: HTTP 404", MARCH_2022)
    stays_off = await ensure_default_webhook(
        store, "https://hooks.slack.com/services/T1/B2/bbb", MARCH_2022
    )
    assert not stays_off.active  # a dead webhook would only fail again


def test_limits_are_declared_as_data():
    assert SlackChannel.limits.per_target_per_second == 1
    assert SlackChannel.limits.max_text_length == SECTION_MAX
    assert SlackChannel.target_channels == {APP_TARGET, WEBHOOK_TARGET}
    assert json.dumps(SlackChannel.name) == '"slack"'
