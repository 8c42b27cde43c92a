"""Questions anyone may ask: /help, /upcoming, /country, /calendar.

Answers come from the `Publisher`'s current deadlines (with recorded dates and approved
events applied), in the chat's language and time zone.
"""

from __future__ import annotations

from telegram import Message

from bot.db.subscribers import selection_of
from bot.filters.settings import split_key
from bot.filters.vocabulary import NotUnderstood, TooLong
from bot.telegram import layout, preferences
from bot.telegram.channel import bold, escape, link
from bot.telegram.chats import Turn, command_text, handler
from bot.telegram.subscriptions import show_matches
from bot.text.answers import upcoming_answer
from bot.text.asked import (
    Asked,
    how_to_subscribe,
    next_dialogue,
    not_understood,
    which_country,
)
from bot.text.intents import MAX_QUESTION_CHARS, looks_like_a_question, read_question
from bot.text.review_answers import review_reply
from config.vocabulary import ZONE
from schedulers.review import country_review
from schedulers.rhythm import project
from schedulers.timeline import MECHANISM_ZONE, Selection, upcoming

UPCOMING_DAYS = 90
MAX_UPCOMING = 30
DEFAULT_ZONE = ZONE


@handler
async def help_command(turn: Turn) -> None:
    """/help: every command, with examples."""
    await turn.reply(layout.help_text(turn.texts, operator=turn.is_operator))


@handler
async def upcoming_command(turn: Turn) -> None:
    """/upcoming [country]: open deadlines in the next 90 days, then what is expected."""
    await _upcoming(turn, command_text(turn))


async def _upcoming(turn: Turn, words: str) -> None:
    texts = turn.texts
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        zone = subscriber.timezone if subscriber is not None else DEFAULT_ZONE
        active = subscriber is not None and subscriber.active
        followed = selection_of(subscriber) if subscriber and active else Selection()
    code: str | None = None
    if words:
        try:
            code = turn.services.vocabulary.country(words, texts)
        except NotUnderstood as error:
            unknown = [(item.text, item.suggestions) for item in error.unknown]
            await turn.reply(layout.not_understood(unknown, texts))
            return
        except TooLong:
            await turn.reply(layout.usage(texts, "/upcoming AT"))
            return
        selection = Selection(countries={code})
        heading = texts.plural(
            "Coming up for {country} in the next {days} day",
            "Coming up for {country} in the next {days} days",
            UPCOMING_DAYS,
        ).format(country=texts.country(code), days=UPCOMING_DAYS)
    else:
        selection = followed
        heading = texts.plural(
            "Coming up in the next {days} day", "Coming up in the next {days} days", UPCOMING_DAYS
        ).format(days=UPCOMING_DAYS)
    now = turn.services.clock()
    publisher = turn.services.publisher
    deadlines = await publisher.deadlines()
    data = (await publisher.snapshot()).dataset
    answer = upcoming_answer(
        found=upcoming(deadlines, now, UPCOMING_DAYS, selection),
        deadlines=deadlines,
        projections=project(data, now),
        data=data,
        now=now,
        texts=texts,
        days=UPCOMING_DAYS,
        selection=selection,
        country=code,
        followed=code is None and active and selection.key() != Selection().key(),
        sources_read=await publisher.sources_read(),
        commands=layout.TELEGRAM_COMMANDS,
    )
    if answer.nothing is not None:
        await turn.reply(layout.reply_html(answer.nothing))
        return
    found = answer.announced
    text = layout.upcoming_list(found[:MAX_UPCOMING], texts, zone, UPCOMING_DAYS, heading)
    if len(found) > MAX_UPCOMING:
        hidden = len(found) - MAX_UPCOMING
        more = texts.plural(
            "{count} more is not shown; /upcoming with a country narrows the list.",
            "{count} more are not shown; /upcoming with a country narrows the list.",
            hidden,
        ).format(count=hidden)
        text += "\n\n" + escape(more)
    if answer.expected is not None:
        text += "\n\n" + layout.part_html(answer.expected)
    await turn.reply(text)


@handler
async def country_command(turn: Turn) -> None:
    """/country XX: that State's review: its steps and planned phases, or what is known."""
    await _country(turn, command_text(turn))


async def _country(turn: Turn, words: str) -> None:
    texts = turn.texts
    if not words:
        await turn.reply(layout.usage(texts, "/country AT"))
        return
    try:
        code = turn.services.vocabulary.country(words, texts)
    except NotUnderstood as error:
        await turn.reply(
            layout.not_understood([(i.text, i.suggestions) for i in error.unknown], texts)
        )
        return
    except TooLong:
        await turn.reply(layout.usage(texts, "/country AT"))
        return
    data = (await turn.services.publisher.snapshot()).dataset
    today = turn.services.clock().astimezone(MECHANISM_ZONE).date()
    review = country_review(data, code, today)
    contact = turn.services.settings.public_base_url
    await turn.reply(layout.reply_html(review_reply(review, data, texts, contact)))


@handler
async def calendar_command(turn: Turn) -> None:
    """/calendar: this chat's personal iCal feed (what it follows, in its language)."""
    async with turn.services.transaction() as session:
        subscriber = await turn.registered(session)
        url = turn.services.calendar_url(subscriber.calendar_nonce)
    texts = turn.texts
    lines = [
        bold(texts("Your calendar")),
        escape(
            texts(
                "Add this address to your calendar app as a subscription: it shows what "
                "this chat follows, and stays up to date."
            )
        ),
        link(url),
        escape(
            texts("Keep it to yourself: anyone with the link sees what you follow.")
            if turn.place.private
            else texts(
                "This is the calendar of this group, not yours: it shows what the group "
                "follows, and anyone here may add it. /calendar in a private chat with me "
                "gives you your own."
            )
        ),
    ]
    await turn.reply("\n".join(lines))


@handler
async def unknown_command(turn: Turn) -> None:
    """A command the bot does not have, sent in a private chat: say so, and where the list is."""
    message = turn.update.effective_message
    typed = message.text if isinstance(message, Message) and message.text else ""
    name = typed.split(maxsplit=1)[0][:40] if typed.strip() else "/"
    texts = turn.texts
    await turn.reply(
        escape(texts("Unknown command “{name}”.").format(name=name))
        + "\n"
        + escape(texts("/help lists every command."))
    )


ASKED = Asked(
    upcoming="/upcoming",
    country="/country",
    subscribe="/subscribe",
    settings="/settings",
    help="/help",
)


@handler
async def message(turn: Turn) -> None:
    """A message that is not a command, in a private chat or in reply to the bot.

    A name ("Autriche") shows the States it matches, to follow with a tap; a question
    ("quand est le prochain dialogue ?") is answered; anything else gets the closest
    commands, never "no State matches <the sentence>".
    """
    found = turn.update.effective_message
    text = found.text if isinstance(found, Message) and found.text else ""
    texts = turn.texts
    if not text.strip() or len(text) > MAX_QUESTION_CHARS:
        await turn.reply(layout.reply_html(not_understood(texts, ASKED)))
        return
    if not looks_like_a_question(text) and await show_matches(turn, text):
        return
    if split_key(text)[0] is not None:  # "fuseau Abidjan", typed without /settings
        await preferences.apply_typed(turn, text)
        return
    question = read_question(text)
    vocabulary = turn.services.vocabulary
    if question.intent == "next_dialogue":
        publisher = turn.services.publisher
        data = (await publisher.snapshot()).dataset
        async with turn.services.transaction() as session:
            subscriber = await turn.subscriber(session)
            zone = subscriber.timezone if subscriber is not None else DEFAULT_ZONE
        now = turn.services.clock()
        reply = next_dialogue(await publisher.deadlines(), data, now, texts, zone, ASKED)
        await turn.reply(layout.reply_html(reply))
    elif question.intent == "due":
        await _upcoming(turn, vocabulary.one_country_in(question.rest, texts) or "")
    elif question.intent == "country":
        code = vocabulary.one_country_in(question.rest, texts)
        if code is None:
            await turn.reply(layout.reply_html(which_country(texts, ASKED)))
        else:
            await _country(turn, code)
    elif question.intent == "subscribe":
        try:
            topics = vocabulary.parse(question.rest, texts) if question.rest else None
        except (NotUnderstood, TooLong):
            topics = None
        typed = question.rest if topics else None
        await turn.reply(layout.reply_html(how_to_subscribe(texts, ASKED, typed)))
    elif question.intent == "settings":
        await turn.reply(layout.usage(texts, "/settings timezone Abidjan"))
    elif question.intent == "help":
        await turn.reply(layout.help_text(texts, operator=turn.is_operator))
    else:
        code = vocabulary.one_country_in(question.rest, texts)
        if code is not None:
            await _country(turn, code)
        else:
            await turn.reply(layout.reply_html(not_understood(texts, ASKED)))
