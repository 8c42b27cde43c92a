"""How the bot's answers read: deadlines, subscriptions and settings as Telegram HTML.

Pure functions from domain objects and a reader's `Texts` to HTML strings; everything
that comes from data or from users is escaped here. Dates are in the chat's time zone
and, for deadlines announced in Vienna time, in Vienna time as well; status and
confidence are always shown, since a projected date is not an announced one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from bot.db.models import Subscriber
from bot.telegram.channel import bold, escape, link
from bot.text.answers import Commands, Part, Reply
from bot.text.i18n import N_, Texts
from bot.text.render import CONFIDENCE_LABELS, KIND_NAMES, STATUS_LABELS, THEME_NAMES
from bot.text.wording import title_of, when_of
from config.dataset import Dataset
from schedulers.timeline import Deadline, Selection, reader_title

COMMANDS = (
    ("start", N_("Welcome and language")),
    ("help", N_("What this bot can do")),
    ("subscribe", N_("Follow countries or topics")),
    ("unsubscribe", N_("Stop following something, or all alerts")),
    ("mysubs", N_("What this chat follows")),
    ("upcoming", N_("Deadlines coming up")),
    ("country", N_("One State's review timeline")),
    ("calendar", N_("Your personal calendar link")),
    ("report", N_("Tell us a date you know, with evidence")),
    ("settings", N_("Lead times, digest, quiet hours, time zone, language")),
    ("stop", N_("Forget this chat and delete its data")),
)
OPERATOR_COMMANDS = (
    ("stats", N_("Subscribers and pending proposals")),
    ("record", N_("Record the actual date of a review step")),
    ("approve", N_("Approve a proposed event or a report")),
    ("reject", N_("Reject a proposed event or a report")),
    ("broadcast", N_("Send a message to every subscriber")),
)
# How Telegram writes the commands an answer suggests.
TELEGRAM_COMMANDS = Commands(subscribe="/subscribe", country="/country")
DIGEST_LABELS = {"off": N_("off"), "daily": N_("daily"), "weekly": N_("weekly")}


def deadline_entry(
    deadline: Deadline, texts: Texts, zone: str, *, with_country: bool = True
) -> str:
    """One deadline: title, when (here and as announced), status and confidence."""
    title = title_of(deadline, texts) if with_country else reader_title(deadline, texts)
    when, announced = when_of(deadline, texts, zone)
    if announced is None and deadline.end_of_day and isinstance(deadline.local, dt.datetime):
        # In the announced zone itself, "midnight" reads better than 00:00 the next day.
        when = texts("{date}, midnight (end of day), {zone} time").format(
            date=texts.date((deadline.local - dt.timedelta(days=1)).date()),
            zone=texts.city(deadline.zone or zone),
        )
    lines = [f"<b>{escape(title)}</b>", escape(when)]
    if announced:
        lines.append(escape(announced))
    status = texts(STATUS_LABELS[deadline.status])
    confidence = texts(CONFIDENCE_LABELS[deadline.confidence])
    if deadline.actual is not None:
        done = texts("completed on {date}").format(date=texts.date(deadline.actual))
        lines.append(escape(f"{status} ({done}) · {confidence}"))
    else:
        lines.append(escape(f"{status} · {confidence}"))
    if deadline.url:
        lines.append(link(deadline.url))
    return "\n".join(lines)


def upcoming_list(
    deadlines: Sequence[Deadline], texts: Texts, zone: str, days: int, heading: str
) -> str:
    """The announced deadlines in an answer to /upcoming (`bot/text/answers.py` says the rest)."""
    if not deadlines:
        # /upcoming answers an empty list with `bot/text/answers.nothing_announced`; the
        # page (bot/web/templates/index.html) shares this message's translations.
        return escape(
            texts.plural(
                "No open deadline matches these filters in the next {days} day.",
                "No open deadline matches these filters in the next {days} days.",
                days,
            ).format(days=days)
        )
    entries = [f"<b>{escape(heading)}</b>"]
    entries += [deadline_entry(d, texts, zone) for d in deadlines]
    return "\n\n".join(entries)


def reply_html(reply: Reply) -> str:
    """A composed answer (`bot/text/answers.py`) as Telegram HTML, every text escaped."""
    return "\n\n".join([bold(reply.heading), *(part_html(part) for part in reply.parts)])


def part_html(part: Part) -> str:
    """One part of a composed answer: its heading underlined, its lines, its entries."""
    blocks = []
    lines = [f"<u>{escape(part.heading)}</u>"] if part.heading else []
    lines += [escape(line) for line in part.lines]
    if lines:
        blocks.append("\n".join(lines))
    for entry in part.entries:
        entry_lines = [bold(entry.title), *(escape(line) for line in entry.lines)]
        if entry.url:
            entry_lines.append(link(entry.url))
        blocks.append("\n".join(entry_lines))
    return "\n\n".join(blocks)


def topic_names(selection: Selection, dataset: Dataset, texts: Texts) -> list[tuple[str, str]]:
    """What a selection follows, dimension by dimension, in the reader's words."""

    def names(values: Iterable[str]) -> str:
        return ", ".join(sorted(values)) or texts("all")

    countries = names(f"{texts.country(c)} ({c})" for c in selection.countries)
    clusters = names(
        texts("cluster {number}").format(number=n)
        + (f" ({texts(dataset.clusters[n].title)})" if n in dataset.clusters else "")
        for n in selection.clusters
    )
    themes = names(texts(THEME_NAMES[t]) for t in selection.themes if t in THEME_NAMES)
    kinds = names(texts(KIND_NAMES[k]) for k in selection.kinds if k in KIND_NAMES)
    rows = [
        (texts("Countries"), countries),
        (texts("Clusters"), clusters),
        (texts("Themes"), themes),
        (texts("Kinds"), kinds),
    ]
    if selection.muted_countries:
        muted = ", ".join(sorted(f"{texts.country(c)} ({c})" for c in selection.muted_countries))
        rows.append((texts("Muted"), muted))
    return rows


def subscription(
    subscriber: Subscriber | None, selection: Selection, dataset: Dataset, texts: Texts
) -> str:
    """The answer to /mysubs: what this chat follows, and whether alerts are on."""
    if subscriber is None or not subscriber.active:
        state = texts("Alerts are off in this chat. /subscribe turns them on.")
    else:
        state = texts("Alerts are on in this chat.")
    lines = [bold(texts("Your subscription")), escape(state)]
    follows_something = bool(
        selection.countries or selection.clusters or selection.themes or selection.kinds
    )
    if subscriber is not None and (subscriber.active or follows_something):
        # "countries: all" beside "alerts are off" would read as if everything were followed
        for label, value in topic_names(selection, dataset, texts):
            lines.append(escape(texts.labelled(label, value)))
    if subscriber is not None:
        lines.append("")
        lines.append(settings_summary(subscriber, texts))
    return "\n".join(lines)


def settings_summary(subscriber: Subscriber, texts: Texts) -> str:
    """The chat's preferences, one per line."""
    lead = ", ".join(str(d) for d in subscriber.lead_days)
    if subscriber.quiet_start is None or subscriber.quiet_end is None:
        quiet = texts("off")
    else:
        quiet = f"{subscriber.quiet_start:02d}:00-{subscriber.quiet_end:02d}:00"
    rows = [
        (texts("Reminders (days before)"), lead),
        (texts("Digest"), texts(DIGEST_LABELS.get(subscriber.digest, subscriber.digest))),
        (texts("Quiet hours"), quiet),
        (texts("Time zone"), _zone_name(subscriber.timezone, texts)),
        (texts("Language"), Texts(subscriber.language).language_name),
    ]
    return "\n".join(escape(texts.labelled(label, value)) for label, value in rows)


def _zone_name(zone: str, texts: Texts) -> str:
    """A zone as the reader names it, with its IANA name: "Le Caire (Africa/Cairo)"."""
    if zone == "UTC" or "/" not in zone:
        return zone
    return f"{texts.city(zone)} ({zone})"


def command_list(texts: Texts, *, operator: bool) -> str:
    """Every command with what it does."""
    lines = [f"/{name} - {escape(texts(description))}" for name, description in COMMANDS]
    if operator:
        lines.append("")
        lines.append(bold(texts("For operators")))
        lines += [f"/{name} - {escape(texts(text))}" for name, text in OPERATOR_COMMANDS]
    return "\n".join(lines)


def help_text(texts: Texts, *, operator: bool) -> str:
    """The answer to /help."""
    intro = texts(
        "I remind you of deadlines of the UNTOC review mechanism: focal points, the "
        "self-assessment questionnaire, constructive dialogues and their registrations."
    )
    examples = [
        "/subscribe AT tip",
        "/subscribe Bosnia and Herzegovina, cluster 2",
        "/upcoming AT",
        "/country AT",
        "/settings timezone Africa/Lagos",
        "/settings lead 30 7 1",
        "/settings digest weekly",
        "/settings quiet 22-7",
        "/settings fuseau Abidjan",
        "/report AT self-assessment 2027-01-15 https://...",
        "/addchannel @channel AT",
    ]
    asking = texts(
        "Or ask in your own words, in any of our languages: "
        "“when is the next dialogue?”, “où en est l'examen de la Côte d'Ivoire ?”"
    )
    channel = texts(
        "To post alerts in a channel, make this bot an administrator of it, then send "
        "/addchannel @channel and what to follow here."
    )
    return "\n\n".join(
        [
            f"<b>UNTOC Watch</b>\n{escape(intro)}",
            command_list(texts, operator=operator),
            bold(texts("Examples")) + "\n" + "\n".join(escape(e) for e in examples),
            escape(asking),
            escape(channel),
        ]
    )


def usage(texts: Texts, example: str) -> str:
    """A short "how to use this command" answer."""
    return "\n".join(
        [
            escape(texts("Usage: {example}").format(example=example)),
            escape(texts("/help lists every command.")),
        ]
    )


def not_understood(unknown: Sequence[tuple[str, Sequence[str]]], texts: Texts) -> str:
    """Which words we could not place, with "did you mean" suggestions."""
    lines = []
    for text, suggestions in unknown:
        if suggestions:
            named = ", ".join(f"{texts.country(c)} ({c})" for c in suggestions)
            lines.append(
                texts("I do not know {text}. Did you mean {suggestions}?").format(
                    text=text, suggestions=named
                )
            )
        else:
            lines.append(texts("I do not know {text}.").format(text=text))
    themes = ", ".join(texts(THEME_NAMES[theme]) for theme in ("tip", "som", "firearms"))
    lines.append(
        texts(
            "Write countries by their names in any of our languages (Autriche, Austria) or "
            "codes (AT), and topics as themes ({themes}, ...), clusters (cluster 1) or kinds "
            "(milestones, registrations, events)."
        ).format(themes=themes)
    )
    return "\n".join(escape(line) for line in lines)
