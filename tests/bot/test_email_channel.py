"""The email channel through a real relay on loopback: STARTTLS, login, both parts, headers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from bot.channels.base import Alert, ChannelMisconfigured, RetryLater, Target, TargetGone
from bot.email.channel import EmailChannel
from bot.email.message import Links
from config.dataset_loader import load_dataset
from config.settings import SmtpRelay as Relay
from config.settings import parse_smtp_url
from schedulers.timeline import compute_deadlines
from tests.fakes.smtp_relay import SmtpRelay

MARCH_2022 = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)
SENDER = "UNTOC Watch <alerts@watch.example.org>"


@pytest.fixture(scope="module")
def relay():
    with SmtpRelay() as served:
        yield served


@pytest.fixture
def deadline():
    found = {d.id: d for d in compute_deadlines(load_dataset(), MARCH_2022)}
    return found["r-cd-2022-firearms"]


def links(target: Target) -> Links:
    return Links(
        calendar="https://watch.example.org/calendar/tok.ics",
        manage="https://watch.example.org/email/manage/tok",
        unsubscribe="https://watch.example.org/email/unsubscribe/tok",
    )


def channel_for(relay: SmtpRelay, url: str | None = None) -> EmailChannel:
    return EmailChannel(
        parse_smtp_url(url or relay.url),
        SENDER,
        lambda: MARCH_2022,
        links,
        tls_context=relay.client_context,
        timeout=5,
    )


def target(address: str = "ngo@example.org", language: str = "fr") -> Target:
    return Target(1, "email", address, language=language, timezone="Africa/Abidjan")


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


async def test_an_alert_arrives_with_both_parts_in_the_readers_language(relay, deadline):
    relay.reset()
    channel = channel_for(relay)
    try:
        await channel.send(
            target(), Alert(key="r1", kind="reminder", deadline=deadline, lead_days=7)
        )
    finally:
        await channel.close()
    ((sender, recipients, raw),) = relay.messages
    assert recipients == ["ngo@example.org"] and "alerts@watch.example.org" in sender
    message = parsed(raw)
    assert message["List-Unsubscribe"] == "<https://watch.example.org/email/unsubscribe/tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"].endswith("<alerts.watch.example.org>")
    assert message["Message-ID"].endswith("@watch.example.org>")
    assert message["Content-Language"] == "fr"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Se désabonner" in plain and "Se désabonner" in html
    assert 'lang="fr"' in html and 'dir="ltr"' in html
    assert "https://watch.example.org/calendar/tok.ics" in plain


async def test_an_internationalised_address_is_delivered_as_typed(relay, deadline):
    relay.reset()
    channel = channel_for(relay)
    try:
        for address in ("josé@exemple.org", "ngo@ассоциация.рф"):
            await channel.send(
                target(address), Alert(key=address, kind="reminder", deadline=deadline, lead_days=7)
            )
    finally:
        await channel.close()
    assert [recipients for _sender, recipients, _raw in relay.messages] == [
        ["josé@exemple.org"],
        ["ngo@ассоциация.рф"],
    ]
    assert parsed(relay.messages[0][2])["To"] == "josé@exemple.org"


async def test_arabic_mail_is_right_to_left(relay, deadline):
    relay.reset()
    channel = channel_for(relay)
    try:
        await channel.send(
            target(language="ar"), Alert(key="r2", kind="reminder", deadline=deadline, lead_days=7)
        )
    finally:
        await channel.close()
    html = parsed(relay.messages[0][2]).get_body(("html",)).get_content()
    assert 'dir="rtl"' in html and 'lang="ar"' in html


async def test_the_same_alert_has_the_same_message_id(relay, deadline):
    relay.reset()
    channel = channel_for(relay)
    alert = Alert(key="same", kind="reminder", deadline=deadline, lead_days=7)
    try:
        await channel.send(target(), alert)
        await channel.send(target(), alert)
    finally:
        await channel.close()
    first, second = (parsed(raw)["Message-ID"] for _, _, raw in relay.messages)
    assert first == second


async def test_a_refused_address_is_gone_and_a_deferred_one_retries(relay, deadline):
    relay.reset()
    relay.refuse("gone@example.org", 550)
    relay.refuse("later@example.org", 451)
    channel = channel_for(relay)
    alert = Alert(key="r3", kind="reminder", deadline=deadline, lead_days=7)
    try:
        with pytest.raises(TargetGone, match="550"):
            await channel.send(target("gone@example.org"), alert)
        with pytest.raises(RetryLater, match="451"):
            await channel.send(target("later@example.org"), alert)
        await channel.send(target(), alert)  # the connection goes on for the next one
    finally:
        await channel.close()
    assert [recipients for _, recipients, _ in relay.messages] == [["ngo@example.org"]]


async def test_a_wrong_password_is_the_operators_to_fix_and_never_shown(relay, deadline):
    relay.reset()
    channel = channel_for(relay, f"smtp://untoc:wrong-secret@127.0.0.1:{relay.port}")
    try:
        with pytest.raises(ChannelMisconfigured) as raised:
            await channel.send(target(), Alert(key="r4", kind="reminder", deadline=deadline))
    finally:
        await channel.close()
    assert "wrong-secret" not in str(raised.value)
    assert relay.messages == []


async def test_a_relay_that_is_away_is_a_temporary_failure(deadline):
    from tests.fakes.smtp_relay import _free_port

    channel = EmailChannel(
        Relay("127.0.0.1", _free_port(), implicit_tls=False), SENDER, lambda: MARCH_2022, timeout=2
    )
    with pytest.raises(RetryLater, match="not reachable"):
        await channel.send(target(), Alert(key="r5", kind="reminder", deadline=deadline))
    await channel.close()
