"""The answers to what people type that is not a command, for every channel, pure.

`bot.text.intents.read_question` says what a message asks; the channel (Telegram's
messages, Slack's `/untoc <question>`) fetches what the answer needs and asks here for
its words. Never "no State matches <sentence>": a question gets its answer, or the
closest commands to try.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.text.answers import Entry, Part, Reply, expected_entry
from bot.text.i18n import Texts
from bot.text.wording import title_of, when_of
from config.dataset import Dataset
from schedulers.rhythm import project
from schedulers.timeline import Deadline

DIALOGUE_KINDS = frozenset({"constructive-dialogue"})


@dataclass(frozen=True)
class Asked:
    """How the reader's channel writes the commands an answer points to."""

    upcoming: str
    country: str
    subscribe: str
    settings: str
    help: str


def next_dialogue(
    deadlines: Iterable[Deadline],
    data: Dataset,
    now: dt.datetime,
    texts: Texts,
    zone: str,
    asked: Asked,
) -> Reply:
    """The next constructive dialogue: the announced one, else the expected one, honestly."""
    dialogues = {e.id for e in data.events.values() if e.kind in DIALOGUE_KINDS}
    coming = sorted(
        (
            d
            for d in deadlines
            if d.kind == "event"
            and (d.event_id or "") in dialogues
            and d.status in ("upcoming", "due_soon")
        ),
        key=lambda d: d.sort_key,
    )
    projections = project(data, now)
    follow = Part(
        lines=(
            texts("{command}: everything coming up and expected.").format(command=asked.upcoming),
            texts("{command}: be told as soon as a date is announced.").format(
                command=f"{asked.subscribe} firearms"
            ),
        )
    )
    if coming:
        first = coming[0]
        when, announced = when_of(first, texts, zone)
        lines = tuple(line for line in (when, announced) if line)
        return Reply(
            heading=texts("The next constructive dialogue"),
            parts=(Part(entries=(Entry(title_of(first, texts), lines, first.url),)), follow),
        )
    expected = [p for p in projections if p.kind == "constructive-dialogue"]
    if expected:
        shown = sorted(expected, key=lambda p: (p.best, p.id))[:2]
        return Reply(
            heading=texts("No constructive dialogue is announced yet; the next ones expected:"),
            parts=(
                Part(entries=tuple(expected_entry(p, projections, texts) for p in shown)),
                follow,
            ),
        )
    return Reply(
        heading=texts("No constructive dialogue is announced or expected in our data."),
        parts=(follow,),
    )


def not_understood(texts: Texts, asked: Asked) -> Reply:
    """What to try when a message asks nothing we recognise."""
    return Reply(
        heading=texts("I did not understand that, but here is what you can ask."),
        parts=(
            Part(
                lines=(
                    texts("“When is the next dialogue?”, or {command}.").format(
                        command=asked.upcoming
                    ),
                    texts("A State's review: {command}.").format(command=f"{asked.country} AT"),
                    texts("Follow countries or themes: {command}.").format(
                        command=f"{asked.subscribe} Autriche, traite"
                    ),
                    texts("Language, time zone, reminders: {command}.").format(
                        command=asked.settings
                    ),
                    texts("Every command: {command}.").format(command=asked.help),
                )
            ),
        ),
    )


def which_country(texts: Texts, asked: Asked) -> Reply:
    """A question about a review that names no State we know."""
    return Reply(
        heading=texts("Which State? Name it in any of our languages."),
        parts=(
            Part(
                lines=(
                    texts("For example {command}.").format(
                        command=f"{asked.country} Côte d'Ivoire"
                    ),
                )
            ),
        ),
    )


def how_to_subscribe(texts: Texts, asked: Asked, typed: str | None) -> Reply:
    """A question about following something: the command that does it."""
    command = f"{asked.subscribe} {typed}" if typed else f"{asked.subscribe} Autriche, traite"
    return Reply(
        heading=texts("To follow countries or themes, send:"),
        parts=(
            Part(
                lines=(
                    command,
                    texts("{command} alone shows buttons to choose from.").format(
                        command=asked.subscribe
                    ),
                )
            ),
        ),
    )
