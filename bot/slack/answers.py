"""How `/untoc` answers read: Slack mrkdwn, every dataset or user text escaped.

Pure functions from domain objects, composed answers (`bot/text/answers.py`) and a
reader's `Texts` to mrkdwn; `bot/slack/commands.py` decides what to say, this module
how it looks, as `bot/telegram/layout.py` does for Telegram.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.db import subscribers as subs
from bot.db.models import Subscriber
from bot.slack.layout import SECTION_MAX, chunks, date_token, escape, link
from bot.text.answers import Commands, Part, Reply
from bot.text.i18n import LANGUAGES, N_, Texts
from bot.text.render import CONFIDENCE_LABELS, KIND_NAMES, STATUS_LABELS, THEME_NAMES
from bot.text.wording import title_of, when_of
from config.dataset import THEMES
from schedulers.timeline import KINDS, Deadline, reader_title

UPCOMING_DAYS = 90
MAX_SECTIONS = 40
DIGEST_NAMES = {"off": N_("off"), "daily": N_("daily"), "weekly": N_("weekly")}
# How Slack writes the commands an answer suggests.
SLACK_COMMANDS = Commands(subscribe="/untoc subscribe", country="/untoc country")


def reply_mrkdwn(reply: Reply) -> str:
    """A composed answer as mrkdwn: the heading bold, each part's heading in italics."""
    return "\n\n".join([f"*{escape(reply.heading)}*", *(part_mrkdwn(p) for p in reply.parts)])


def part_mrkdwn(part: Part) -> str:
    """One part of a composed answer: heading, lines, one bullet per entry."""
    lines = [f"_{escape(part.heading)}_"] if part.heading else []
    lines += [escape(line) for line in part.lines]
    for entry in part.entries:
        bits = [f"*{escape(entry.title)}*", *(escape(line) for line in entry.lines)]
        if entry.url:
            bits.append(link(entry.url, entry.url))
        lines.append("• " + " · ".join(bits))
    return "\n".join(lines)


def sections(text: str) -> list[dict[str, object]]:
    """A long answer as section blocks within Slack's limits, cut at line breaks."""
    pieces = chunks(text, SECTION_MAX)[:MAX_SECTIONS]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in pieces]


def help_text(texts: Texts) -> str:
    """What `/untoc` can do, one line per subcommand."""
    lines = [
        "*" + escape(texts("UNTOC Watch: deadlines of the UNTOC review mechanism, here.")) + "*",
        "`/untoc subscribe AT, Brazil, tip` "
        + escape(texts("follow countries and themes in this channel (`all`: everything)")),
        "`/untoc unsubscribe [AT, tip]` "
        + escape(texts("stop following some of them, or stop every alert")),
        "`/untoc list` " + escape(texts("what this channel follows")),
        "`/untoc upcoming [AT]` "
        + escape(
            texts.plural(
                "open deadlines in the next {days} day",
                "open deadlines in the next {days} days",
                UPCOMING_DAYS,
            ).format(days=UPCOMING_DAYS)
        ),
        "`/untoc country AT` " + escape(texts("one State's review milestones")),
        "`/untoc calendar` " + escape(texts("this channel's calendar link")),
        "`/untoc settings` " + escape(texts("language, time zone, reminders, digest")),
        "`/untoc report` "
        + escape(texts("tell us a date of a State's review (an operator checks it first)")),
        escape(texts("Or ask in your own words: `/untoc when is the next dialogue?`")),
        "`/untoc help` " + escape(texts("this help")),
        escape(
            texts("Themes: {themes}. Kinds: {kinds}.").format(
                themes=", ".join(t + " (" + texts(THEME_NAMES[t]) + ")" for t in THEMES),
                kinds=", ".join(KINDS),
            )
        ),
    ]
    return "\n".join(lines)


def describe(subscriber: Subscriber, texts: Texts) -> str:
    """What a channel follows, as a short list."""
    selection = subs.selection_of(subscriber)
    lines = ["*" + escape(texts("This channel follows:")) + "*"]
    countries = country_list(selection.countries, texts)
    lines.append(
        "• "
        + (
            texts("Countries: {list}").format(list=countries)
            if countries
            else texts("All countries")
        )
    )
    if selection.muted_countries:
        muted = country_list(selection.muted_countries, texts)
        lines.append("• " + texts("Muted countries: {list}").format(list=muted))
    themes = ", ".join(texts(THEME_NAMES[t]) for t in sorted(selection.themes) if t in THEME_NAMES)
    lines.append(
        "• " + (texts("Themes: {list}").format(list=themes) if themes else texts("All themes"))
    )
    if selection.kinds:
        kinds = ", ".join(texts(KIND_NAMES[k]) for k in sorted(selection.kinds) if k in KIND_NAMES)
        lines.append("• " + texts("Kinds: {list}").format(list=kinds))
    if selection.clusters:
        clusters = ", ".join(str(n) for n in sorted(selection.clusters))
        lines.append("• " + texts("Clusters: {list}").format(list=clusters))
    return "\n".join(escape(line) if i else line for i, line in enumerate(lines))


def settings_text(subscriber: Subscriber, texts: Texts) -> str:
    """How a channel gets its alerts: language, time zone, reminders, digest."""
    days = ", ".join(str(d) for d in subscriber.lead_days)
    parts = [
        texts("Language: {language}").format(language=texts.language_name),
        texts("Time zone: {zone}").format(zone=subscriber.timezone),
        texts("Reminders: {days} days before").format(days=days),
        texts("Digest: {digest}").format(digest=texts(DIGEST_NAMES.get(subscriber.digest, "off"))),
    ]
    return escape(" · ".join(parts))


def settings_usage(texts: Texts) -> str:
    """How to change the settings."""
    return escape(
        texts(
            "Change them with `/untoc settings language fr` ({languages}), `timezone Abidjan`, "
            "`reminders 30 7 1`, `digest weekly` (off, daily, weekly) or `quiet 22-7`; the "
            "words of any of our languages work too, e.g. `fuseau Le Caire`."
        ).format(languages=", ".join(LANGUAGES))
    )


def country_list(codes: Iterable[str], texts: Texts) -> str:
    return ", ".join(f"{texts.country(code)} ({code})" for code in sorted(codes))


def named(values: dict[str, set[str]], texts: Texts) -> str:
    names = [f"{texts.country(c)} ({c})" for c in sorted(values.get("country", ()))]
    names += [texts(THEME_NAMES[t]) for t in sorted(values.get("theme", ())) if t in THEME_NAMES]
    names += [texts(KIND_NAMES[k]) for k in sorted(values.get("kind", ())) if k in KIND_NAMES]
    names += [texts("Cluster {number}").format(number=n) for n in sorted(values.get("cluster", ()))]
    return escape(", ".join(names))


def deadline_line(deadline: Deadline, texts: Texts, zone: str, *, with_title: bool) -> str:
    when, _ = when_of(deadline, texts, zone)
    shown = (
        date_token(deadline.due, when) if isinstance(deadline.due, dt.datetime) else escape(when)
    )
    title = title_of(deadline, texts) if with_title else reader_title(deadline, texts)
    status = texts(STATUS_LABELS[deadline.status])
    confidence = texts(CONFIDENCE_LABELS[deadline.confidence])
    return f"• {shown} · *{escape(title)}* · {escape(status)}, {escape(confidence)}"
