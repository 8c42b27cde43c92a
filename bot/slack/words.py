"""The words of `/untoc` answers that read what people typed: topics and the States a
question names, and what to say of a word we could not place.

Read with the one vocabulary (`bot/filters/vocabulary.py`), as Telegram reads them.
"""

from __future__ import annotations

import difflib

from bot.filters.vocabulary import MAX_WORDS, NotUnderstood, TooLong, Vocabulary
from bot.slack.layout import clip, escape
from bot.text.i18n import Texts
from bot.text.render import THEME_NAMES
from config.countries import UnknownCountry, country_name
from config.dataset import THEMES
from schedulers.timeline import KINDS

ECHO_MAX = 40
Values = dict[str, set[str]]


class CommandProblem(Exception):
    """A command we cannot carry out; the message (in the reader's language) says why."""


def parse_values(text: str, vocabulary: Vocabulary, texts: Texts) -> Values:
    """Countries, themes, kinds and clusters named in `text`, read as Telegram reads them.

    One parser (`bot/filters/vocabulary.py`) reads every channel's words, in any of our
    languages: `Autriche, traite` is Austria and trafficking in persons. Raises
    `CommandProblem` naming the first value it cannot read, with suggestions.
    """
    try:
        topics = vocabulary.parse(text, texts)
    except TooLong:
        message = texts.plural(
            "That is more than {limit} value; follow fewer at once.",
            "That is more than {limit} values; follow fewer at once.",
            MAX_WORDS,
        )
        raise CommandProblem(message.format(limit=MAX_WORDS)) from None
    except NotUnderstood as problem:
        first = problem.unknown[0]
        suggestions = [f"{code} ({country_name(code)})" for code in first.suggestions]
        close = difflib.get_close_matches(first.text.lower(), [*THEMES, *KINDS], n=2, cutoff=0.7)
        raise CommandProblem(unknown_value(first.text, suggestions + close, texts)) from None
    return {dimension: values for dimension, values in topics.filters().items() if values}


def suggestions_of(problem: UnknownCountry) -> list[str]:
    return [f"{code} ({country_name(code)})" for code in problem.suggestions]


def unknown_value(text: str, suggestions: list[str], texts: Texts) -> str:
    themes = ", ".join(texts(THEME_NAMES[t]) for t in ("tip", "som", "firearms"))
    message = texts(
        "I don't know “{value}”. Write countries by their names in any of our languages "
        "or their ISO codes (AT), and themes by their names ({themes}, ...)."
    ).format(value=escape(clip(text, ECHO_MAX)), themes=themes)
    if suggestions:
        hint = texts("Did you mean {suggestions}?")
        message += " " + hint.format(suggestions=escape(", ".join(suggestions)))
    return message
