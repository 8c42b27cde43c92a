"""No dead end, in every language: /upcoming and /country on both channels, December 2026.

As of 1 December 2026 nothing announced falls in the next 90 days and most States'
review groups are unknown. The real bot and the real bolt app answer through the fake
Bot API and a signed /slack/events request; each answer must say, in the reader's
language, what is expected next (the 2027 Firearms dialogue, with its window), how fresh
the data is and what to do now, or what is known of a State's review.
"""

from __future__ import annotations

import datetime as dt
import html

import pytest

from bot.filters.deeplink import encode
from bot.text.i18n import LANGUAGES, Texts
from schedulers.timeline import Selection
from tests.bot.telegram_harness import ALICE, only_message, private

CHAT = private(ALICE)


def plain(text: str) -> str:
    """An answer without the bidi isolation marks right-to-left readers get around Latin text."""
    return html.unescape(text).translate({c: None for c in range(0x2066, 0x206A)})


def before(message: str, texts: Texts, placeholder: str) -> str:
    """The words of a translated message up to a placeholder: what must show in any answer."""
    return texts(message).split(placeholder)[0].strip()


def expected_content(texts: Texts) -> list[str]:
    """What an answer to "what is coming up" in December 2026 says, in the reader's words."""
    return [
        texts("Constructive Dialogue on Firearms"),
        before("expected {window}, not yet announced", texts, "{window}") or "",
        texts.date(dt.date(2027, 3, 29)),  # the window's first day
        texts("How fresh this is"),
        texts("This service has not read its sources yet: what you see is the bundled data."),
        texts("What you can do now"),
    ]


def unknown_group_content(texts: Texts) -> list[str]:
    return [
        texts("The three groups"),
        texts.date(dt.date(2021, 11, 1)),  # group 2's start
        texts("How far the reviews have got"),
        texts("The steps every review goes through"),
        texts("Appointment of focal points"),
        texts("Write to your State's focal point; a letter template is in the GI-TOC guide."),
    ]


def known_group_content(texts: Texts) -> list[str]:
    return [
        before("due {date}, no news since", texts, "{date}"),
        texts("Later clusters, as planned (not dates to act on)"),
        texts("Law enforcement and the judicial system"),
    ]


async def ask_telegram(bot, telegram, language: str, text: str) -> str:
    user = telegram.user(ALICE, language_code=language)
    return plain(only_message(await bot.say(CHAT, user, text)).text)


async def slack_in(command, language: str) -> None:
    await command("subscribe all")
    await command(f"settings language {language}")


def shown(answer: dict[str, object]) -> str:
    """What a Slack reader sees: the blocks when there are some, else the text."""
    blocks = answer.get("blocks")
    if isinstance(blocks, list):
        for block in blocks:
            assert len(block["text"]["text"]) <= 3000
        return "\n".join(b["text"]["text"] for b in blocks)
    return str(answer["text"])


@pytest.mark.parametrize("language", LANGUAGES)
async def test_telegram_upcoming_tells_what_is_expected_next(bot_2026, telegram_2026, language):
    texts = Texts(language)
    text = await ask_telegram(bot_2026, telegram_2026, language, "/upcoming")
    for words in expected_content(texts):
        assert words in text, (language, words)
    assert "/subscribe firearms" in text and "/country AT" in text
    france = await ask_telegram(bot_2026, telegram_2026, language, "/upcoming FR")
    assert texts.country("FR") in france and "/subscribe FR" in france
    assert texts("Constructive Dialogue on Firearms") in france


@pytest.mark.parametrize("language", LANGUAGES)
async def test_telegram_country_of_unknown_and_known_group(bot_2026, telegram_2026, language):
    texts = Texts(language)
    france = await ask_telegram(bot_2026, telegram_2026, language, "/country FR")
    for words in unknown_group_content(texts):
        assert words in france, (language, words)
    austria = await ask_telegram(bot_2026, telegram_2026, language, "/country AT")
    for words in known_group_content(texts):
        assert words in austria, (language, words)
    assert texts("overdue") not in austria


@pytest.mark.parametrize("language", LANGUAGES)
async def test_telegram_subscribing_to_an_unknown_group_says_what_still_comes(
    bot_2026, telegram_2026, language
):
    texts = Texts(language)
    text = await ask_telegram(bot_2026, telegram_2026, language, "/subscribe CI")
    assert texts.country("CI") in text
    assert "/country CI" in text
    note = texts.plural(
        "The review group of {countries} is not in our data yet, so there are no review dates "
        "of its own to remind you of. You will still receive the constructive dialogues and "
        "their calls, the COP and the mechanism-wide news; {command} shows what is known.",
        "The review groups of {countries} are not in our data yet, so there are no review "
        "dates of their own to remind you of. You will still receive the constructive "
        "dialogues and their calls, the COP and the mechanism-wide news; {command} shows "
        "what is known.",
        1,
    ).format(countries=f"{texts.country('CI')} (CI)", command="/country CI")
    assert note in text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_slack_upcoming_and_country_in_every_language(slack_2026, language):
    texts = Texts(language)
    await slack_in(slack_2026, language)
    answer = shown(await slack_2026("upcoming"))
    for words in expected_content(texts):
        assert words in plain(answer), (language, words)
    assert "/untoc subscribe firearms" in answer and "/untoc country AT" in answer
    france = plain(shown(await slack_2026("country FR")))
    for words in unknown_group_content(texts):
        assert words in france, (language, words)
    austria = plain(shown(await slack_2026("country AT")))
    for words in known_group_content(texts):
        assert words in austria, (language, words)
    assert texts("overdue") not in austria


@pytest.mark.parametrize("language", LANGUAGES)
async def test_slack_subscribing_to_an_unknown_group_says_what_still_comes(slack_2026, language):
    texts = Texts(language)
    await slack_in(slack_2026, language)
    answer = plain(str((await slack_2026("subscribe CI"))["text"]))
    assert texts.country("CI") in answer and "/untoc country CI" in answer
    still = texts.plural(
        "The review group of {countries} is not in our data yet, so there are no review dates "
        "of its own to remind you of. You will still receive the constructive dialogues and "
        "their calls, the COP and the mechanism-wide news; {command} shows what is known.",
        "The review groups of {countries} are not in our data yet, so there are no review "
        "dates of their own to remind you of. You will still receive the constructive "
        "dialogues and their calls, the COP and the mechanism-wide news; {command} shows "
        "what is known.",
        1,
    )
    assert still.split("{countries}")[1].split("{command}")[0] in answer


async def test_a_deep_link_to_an_unknown_group_says_what_still_comes(bot_2026, telegram_2026):
    payload = encode(Selection(countries={"CI"}))
    text = await ask_telegram(bot_2026, telegram_2026, "fr", f"/start {payload}")
    texts = Texts("fr")
    assert texts.country("CI") in text and "/country CI" in text
    assert (
        before(
            "The review group of {countries} is not in our data yet, so there are no review "
            "dates of its own to remind you of. You will still receive the constructive "
            "dialogues and their calls, the COP and the mechanism-wide news; {command} shows "
            "what is known.",
            texts,
            "{countries}",
        )
        in text
    )
