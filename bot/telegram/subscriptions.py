"""Following and unfollowing: /start, /subscribe, /unsubscribe, /mysubs, /stop, alert buttons.

A chat (or forum topic, or channel) is one `Subscriber`. `/subscribe` with words follows
them at once; without, it opens keyboards (countries paged and searchable by typing a
name, clusters, themes, kinds). With nothing chosen a subscriber follows every deadline.
The alert buttons "Done / registered" and "Mute this country" act on the chat the alert
was sent to.
"""

from __future__ import annotations

import logging

from telegram import Message

from bot.db.models import Subscriber
from bot.db.subscribers import (
    MUTED,
    deactivate,
    follow,
    forget,
    mute_country,
    selection_of,
    set_preferences,
    unfollow,
)
from bot.filters import deeplink
from bot.filters.vocabulary import NotUnderstood, TooLong, Topics
from bot.telegram import callbacks, keyboards, layout
from bot.telegram.callbacks import Press, StaleButton
from bot.telegram.channel import bold, escape
from bot.telegram.chats import (
    UNSUBSCRIBED,
    Turn,
    command_text,
    handler,
    pressed_message,
    refuse_unless_allowed,
)
from bot.text.i18n import LANGUAGES, Texts
from bot.text.review_answers import unknown_group_note, unknown_groups
from config.dataset import THEMES, Dataset
from schedulers.timeline import KINDS, Selection

log = logging.getLogger(__name__)

MAX_SEARCH_LENGTH = 100
DEADLINE_ID_LENGTH = 200


def _selection(subscriber: Subscriber | None) -> Selection:
    return selection_of(subscriber) if subscriber is not None else Selection()


def welcome(turn: Turn, subscriber: Subscriber | None) -> str:
    """The answer to /start, in the chat's language."""
    texts = turn.texts
    if subscriber is not None and subscriber.active:
        state = texts("Alerts are on in this chat.")
    else:
        state = texts("Alerts are off in this chat. /subscribe turns them on.")
    lines = [
        "<b>UNTOC Watch</b>",
        escape(texts("Deadlines of the UNTOC Implementation Review Mechanism, for civil society.")),
        "",
        escape(state),
        "",
        layout.command_list(texts, operator=False),
        "",
        escape(texts("Choose your language:")),
    ]
    return "\n".join(lines)


def followed(turn: Turn, subscriber: Subscriber) -> str:
    """What the chat follows now, after a change (typed, from a link or with buttons).

    When a followed State's review group is unknown, it says so, and what still comes.
    """
    selection = selection_of(subscriber)
    rows = layout.topic_names(selection, turn.services.dataset, turn.texts)
    lines = [bold(turn.texts("This chat now follows:"))]
    lines += [escape(turn.texts.labelled(label, value)) for label, value in rows]
    unknown = unknown_groups(selection.countries, turn.services.dataset)
    if unknown:
        note = unknown_group_note(unknown, layout.TELEGRAM_COMMANDS, turn.texts)
        lines += ["", escape(note)]
    return "\n".join(lines)


def problem(turn: Turn, error: TooLong | NotUnderstood, example: str) -> str:
    """Why words after a command could not be used, and how to write them."""
    if isinstance(error, NotUnderstood):
        return layout.not_understood(
            [(item.text, item.suggestions) for item in error.unknown], turn.texts
        )
    return layout.usage(turn.texts, example)


@handler
async def start(turn: Turn) -> None:
    """/start, with or without a deep-link payload from the web page."""
    payload = command_text(turn).split()
    notes: list[str] = []
    topics: Topics | None = None
    if payload and await refuse_unless_allowed(turn):
        try:
            topics = _known(turn, Topics.of(deeplink.decode(payload[0])))
        except deeplink.BadPayload:
            notes.append(
                escape(
                    turn.texts(
                        "This link is not valid any more. Choose what to follow with /subscribe."
                    )
                )
            )
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        if topics is not None:
            subscriber = await turn.subscribed(session)
            await follow(session, subscriber, topics.filters(), turn.services.clock())
            await session.flush()
            notes.append(followed(turn, subscriber))
        text = welcome(turn, subscriber)
    await turn.reply("\n\n".join([*notes, text]), keyboards.languages())


def _known(turn: Turn, topics: Topics) -> Topics:
    """Topics without the countries and clusters this dataset does not have."""
    dataset = turn.services.dataset
    return Topics(
        countries=frozenset(c for c in topics.countries if c in dataset.states),
        clusters=frozenset(n for n in topics.clusters if n in dataset.clusters),
        themes=topics.themes,
        kinds=topics.kinds,
    )


async def choose_language(turn: Turn, press: Press) -> None:
    """A language button under the welcome message."""
    language = press.arg(0)
    if language not in LANGUAGES:
        raise StaleButton(language)
    if not await refuse_unless_allowed(turn):
        return
    async with turn.services.transaction() as session:
        subscriber = await turn.registered(session)
        await set_preferences(session, subscriber, turn.services.clock(), language=language)
    texts = Texts(language)
    chosen = Turn(turn.update, turn.context, turn.services, turn.place, texts)
    confirmed = texts("Language set: {language}.").format(language=texts.language_name)
    await chosen.answer(confirmed)
    # said in the message too: a notice over the chat vanishes in a second
    await chosen.show(
        f"✓ {escape(confirmed)}\n\n{welcome(chosen, subscriber)}",
        keyboards.languages(chosen=language),
    )


@handler
async def subscribe(turn: Turn) -> None:
    """/subscribe [countries or topics...]: follow them, or open the keyboards."""
    if not await refuse_unless_allowed(turn):
        return
    words = command_text(turn)
    if words:
        try:
            topics = turn.services.vocabulary.parse(words, turn.texts)
        except (TooLong, NotUnderstood) as error:
            await turn.reply(problem(turn, error, "/subscribe AT tip"))
            return
        if not topics:
            await turn.reply(layout.usage(turn.texts, "/subscribe AT tip"))
            return
        async with turn.services.transaction() as session:
            subscriber = await turn.subscribed(session)
            await follow(session, subscriber, topics.filters(), turn.services.clock())
            await session.flush()
            text = followed(turn, subscriber)
        await turn.reply(text)
        return
    async with turn.services.transaction() as session:
        subscriber = await turn.registered(session)
        selection = selection_of(subscriber)
    await turn.reply(menu_text(turn, selection), keyboards.subscribe_menu(turn.texts, selection))


def menu_text(turn: Turn, selection: Selection) -> str:
    """The text above the /subscribe keyboards."""
    texts = turn.texts
    lines = [
        bold(texts("What should this chat follow?")),
        escape(
            texts(
                "Choose countries, clusters, themes or kinds. With nothing chosen you get "
                "every deadline. You can also type a country's name."
            )
        ),
        "",
    ]
    rows = layout.topic_names(selection, turn.services.dataset, texts)
    lines += [escape(texts.labelled(label, value)) for label, value in rows]
    return "\n".join(lines)


def _countries_in_order(turn: Turn) -> list[str]:
    texts = turn.texts
    return sorted(turn.services.dataset.states, key=lambda code: texts.country(code).casefold())


async def on_subscribe_button(turn: Turn, press: Press) -> None:
    """A button of the /subscribe keyboards."""
    action = press.arg(0)
    texts = turn.texts
    dataset = turn.services.dataset
    if action == "cp":
        page = _number(press.arg(1))
        async with turn.services.transaction() as session:
            selection = _selection(await turn.subscriber(session))
        await turn.answer()
        await turn.show(
            escape(
                texts(
                    "Countries: tap to follow or unfollow. You can also type a country's "
                    "name to find it."
                )
            ),
            keyboards.country_page(texts, _countries_in_order(turn), page, selection.countries),
        )
        return
    if action in ("gl", "tl", "kl", "menu"):
        async with turn.services.transaction() as session:
            selection = _selection(await turn.subscriber(session))
        await turn.answer()
        await _show_dimension(turn, action, selection)
        return
    if action not in ("all", "done"):
        _toggle(press, Selection(), dataset)
        if action == "c" and press.arg(2) != "s":
            _number(press.arg(2))
    if not await refuse_unless_allowed(turn):
        return
    now = turn.services.clock()
    async with turn.services.transaction() as session:
        subscriber = await turn.subscribed(session)
        current = selection_of(subscriber)
        if action == "all":
            await unfollow(session, subscriber, None, now)
        elif action != "done":
            dimension, value, chosen = _toggle(press, current, dataset)
            values = {dimension: {value}}
            if chosen:
                await unfollow(session, subscriber, values, now)
            else:
                await follow(session, subscriber, values, now)
        await session.flush()
        selection = selection_of(subscriber)
        summary = followed(turn, subscriber)
    if action in ("all", "done"):
        await turn.answer(texts("Saved."))
        await turn.show(summary)
    elif action == "c":
        await turn.answer(texts("Saved."))
        where = press.arg(2)
        if where == "s":
            codes = _codes_on(pressed_message(turn.update))
            await turn.show(
                escape(texts("Countries found:")),
                keyboards.search_results(texts, codes, selection.countries),
            )
        else:
            await turn.show(
                escape(texts("Countries: tap to follow or unfollow.")),
                keyboards.country_page(
                    texts, _countries_in_order(turn), _number(where), selection.countries
                ),
            )
    else:
        await turn.answer(texts("Saved."))
        await _show_dimension(turn, {"g": "gl", "t": "tl", "k": "kl"}[action], selection)


def _toggle(press: Press, current: Selection, dataset: Dataset) -> tuple[str, str, bool]:
    """(dimension, value, followed now) for a toggle button; `StaleButton` if invalid."""
    action, value = press.arg(0), press.arg(1)
    if action == "c" and value in dataset.states:
        return "country", value, value in current.countries
    if action == "g" and value.isdigit() and int(value) in dataset.clusters:
        return "cluster", value, int(value) in current.clusters
    if action == "t" and value in THEMES:
        return "theme", value, value in current.themes
    if action == "k" and value in KINDS:
        return "kind", value, value in current.kinds
    raise StaleButton(f"{action}:{value}")


async def _show_dimension(turn: Turn, action: str, selection: Selection) -> None:
    texts = turn.texts
    dataset = turn.services.dataset
    if action == "gl":
        await turn.show(
            escape(texts("Clusters: tap to follow or unfollow.")),
            keyboards.clusters(texts, dataset, selection.clusters),
        )
    elif action == "tl":
        await turn.show(
            escape(texts("Themes: tap to follow or unfollow.")),
            keyboards.themes(texts, selection.themes),
        )
    elif action == "kl":
        await turn.show(
            escape(texts("Kinds: tap to follow or unfollow.")),
            keyboards.kinds(texts, selection.kinds),
        )
    else:
        await turn.show(menu_text(turn, selection), keyboards.subscribe_menu(texts, selection))


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 4:
        raise StaleButton(text)
    return int(text)


def _codes_on(message: object) -> list[str]:
    """The country codes of the toggle buttons on a search result message."""
    if not isinstance(message, Message) or message.reply_markup is None:
        return []
    codes = []
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            data = button.callback_data
            if isinstance(data, str) and data.startswith(f"{callbacks.SUBSCRIBE}:c:"):
                codes.append(data.split(":")[2])
    return codes


async def show_matches(turn: Turn, text: str) -> bool:
    """The States whose name holds `text` (typed as a name), to follow with a tap.

    Shows them and returns True when `text` names one or more; a close spelling of a
    single name ("Autirche") is offered too. Returns False, showing nothing, when the
    text is no name: the caller reads it as a question instead.
    """
    if len(text) > MAX_SEARCH_LENGTH:
        return False
    texts = turn.texts
    codes, exact = turn.services.vocabulary.search(text, texts)
    if not codes or (not exact and len(text.split()) > 1):
        return False
    if exact:
        heading = escape(texts("Countries found: tap to follow or unfollow."))
    else:  # one word, close to a name: say which, and offer the close ones
        heading = escape(texts("No State party matches {text}.").format(text=text))
        heading += " " + escape(texts("Did you mean one of these?"))
    async with turn.services.transaction() as session:
        selection = _selection(await turn.subscriber(session))
    await turn.reply(heading, keyboards.search_results(texts, codes, selection.countries))
    return True


@handler
async def unsubscribe(turn: Turn) -> None:
    """/unsubscribe [countries or topics...]: drop them, or list what can be dropped."""
    if not await refuse_unless_allowed(turn):
        return
    words = command_text(turn)
    texts = turn.texts
    topics: Topics | None = None
    if words:
        try:
            topics = turn.services.vocabulary.parse(words, texts)
        except (TooLong, NotUnderstood) as error:
            await turn.reply(problem(turn, error, "/unsubscribe AT"))
            return
    now = turn.services.clock()
    text: str | None = None
    selection = Selection()
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        if subscriber is not None and subscriber.active:
            if topics is None:
                selection = selection_of(subscriber)
            else:
                for code in sorted(topics.countries):
                    await mute_country(session, subscriber, code, now)
                others = topics.filters()
                others.pop("country")
                await unfollow(session, subscriber, others, now)
                await session.flush()
                text = followed(turn, subscriber)
    if subscriber is None or not subscriber.active:
        await turn.reply(escape(texts("Alerts are already off in this chat.")))
    elif text is not None:
        await turn.reply(text)
    else:
        await turn.reply(
            escape(texts("Tap what to stop following, or stop all alerts.")),
            keyboards.unsubscribe_list(texts, selection, turn.services.dataset),
        )


async def on_unsubscribe_button(turn: Turn, press: Press) -> None:
    """A button of the /unsubscribe list."""
    action = press.arg(0)
    texts = turn.texts
    dataset = turn.services.dataset
    if action != "all":
        value = press.arg(1)
        valid = {
            "c": value in dataset.states,
            "m": value in dataset.states,
            "g": value.isdigit() and int(value) in dataset.clusters,
            "t": value in THEMES,
            "k": value in KINDS,
        }
        if not valid.get(action, False):
            raise StaleButton(f"{action}:{value}")
    if not await refuse_unless_allowed(turn):
        return
    now = turn.services.clock()
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        if subscriber is None or not subscriber.active:
            await turn.answer(texts("Alerts are already off in this chat."))
            return
        if action == "all":
            await deactivate(session, subscriber.id, UNSUBSCRIBED, now)
        elif action == "c":
            await mute_country(session, subscriber, press.arg(1), now)
        elif action == "m":
            await unfollow(session, subscriber, {"country": {MUTED + press.arg(1)}}, now)
        else:
            dimension = {"g": "cluster", "t": "theme", "k": "kind"}[action]
            await unfollow(session, subscriber, {dimension: {press.arg(1)}}, now)
        await session.flush()
        selection = selection_of(subscriber)
    await turn.answer(texts("Saved."))
    if action == "all":
        await turn.show(
            escape(
                texts(
                    "Alerts are off. /subscribe turns them on again; /stop deletes everything "
                    "stored about this chat."
                )
            )
        )
        return
    await turn.show(
        escape(texts("Tap what to stop following, or stop all alerts.")),
        keyboards.unsubscribe_list(texts, selection, dataset),
    )


@handler
async def my_subscriptions(turn: Turn) -> None:
    """/mysubs: what this chat follows and how."""
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        text = layout.subscription(
            subscriber, _selection(subscriber), turn.services.dataset, turn.texts
        )
    await turn.reply(text)


@handler
async def stop(turn: Turn) -> None:
    """/stop: forget this chat, its subscriptions and its settings."""
    if not await refuse_unless_allowed(turn):
        return
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        if subscriber is not None:
            await forget(session, subscriber)
    if subscriber is None:
        await turn.reply(escape(turn.texts("Nothing is stored about this chat.")))
        return
    await turn.reply(
        escape(
            turn.texts(
                "Done: this chat's subscriptions, settings and calendar link are deleted. "
                "/start begins again."
            )
        )
    )
