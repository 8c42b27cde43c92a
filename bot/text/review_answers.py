"""What the bot answers about one State's review, in the reader's language, for every channel.

Pure, like `bot.text.answers` whose `Reply` it returns: a step nobody reported on is "no
news since", never "overdue" unless a source says so; the later clusters are a plan,
behind schedule where the facts say so; a State whose group is unknown gets what is known
of every review instead of an empty table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

# The occurrences an NGO acts on: a call to apply, a dialogue, the COP. Working groups
# and preparation days follow from their dialogue and would only lengthen the answer.
from bot.text.answers import Commands, Entry, Part, Reply, month
from bot.text.i18n import Texts
from bot.text.render import CONFIDENCE_LABELS
from config.dataset import Dataset, Progress
from schedulers.review import CountryReview, PlannedPhase, WhatIsKnown
from schedulers.timeline import Deadline

MAX_PROGRESS = 3


def _status(deadline: Deadline, data: Dataset, texts: Texts) -> str:
    """A step's status, honest about what is known: "due 15 November 2021 (...), no news since"."""
    due = deadline.due.date() if isinstance(deadline.due, dt.datetime) else deadline.due
    when = texts.date(due)
    if deadline.confidence != "confirmed" and deadline.basis is not None:
        if deadline.basis == "start":
            when = texts("{date} (projected from the group's start)").format(date=when)
        else:
            origin, _, step = deadline.basis.partition(":")
            rule = data.milestones.get(step)
            name = texts(rule.title) if rule is not None else step
            if origin.startswith("actual"):
                message = texts("{date} (projected from the actual date of: {step})")
            else:
                message = texts("{date} (projected from the due date of: {step})")
            when = message.format(date=when, step=name)
    if deadline.status == "no_news":
        return texts("due {date}, no news since").format(date=when)
    if deadline.status == "overdue":
        return texts("due {date}; late, as reported: {source}").format(
            date=when, source=deadline.reported_late or deadline.source
        )
    if deadline.status == "done":
        if deadline.actual is not None:
            return texts("done on {date}").format(date=texts.date(deadline.actual))
        return texts("done")
    return texts("due {date}").format(date=when)


def _step_entry(deadline: Deadline, data: Dataset, texts: Texts) -> Entry:
    confidence = texts(CONFIDENCE_LABELS[deadline.confidence])
    return Entry(
        title=texts(deadline.title),
        lines=(f"{_status(deadline, data, texts)} · {confidence}",),
        url=deadline.url,
    )


def _figure(progress: Progress, texts: Texts) -> str:
    when = (
        month(progress.date, texts) if progress.precision == "month" else texts.date(progress.date)
    )
    if progress.started is not None and progress.total is not None:
        figure = texts.plural(
            "{started} of {total} review under way",
            "{started} of {total} reviews under way",
            progress.total,
        ).format(started=progress.started, total=progress.total)
    elif progress.started is not None:
        figure = texts.plural(
            "{started} review under way", "{started} reviews under way", progress.started
        ).format(started=progress.started)
    else:
        figure = f"“{progress.quote}”"
    if progress.not_started is not None:
        figure += ", " + texts.plural(
            "{count} not started", "{count} not started", progress.not_started
        ).format(count=progress.not_started)
    confidence = texts(CONFIDENCE_LABELS[progress.confidence])
    return texts("{date}: {figure} ({confidence}; source: {source})").format(
        date=when, figure=figure, confidence=confidence, source=progress.source
    )


def _phase_entry(phase: PlannedPhase, texts: Texts) -> Entry:
    title = texts("Cluster {number}: {title}").format(
        number=phase.cluster, title=texts(phase.title)
    )
    lines = [
        texts("planned {start} to {end}, two-year phases from the group's start").format(
            start=month(phase.start, texts), end=month(phase.end, texts)
        )
    ]
    if phase.behind:
        lines.append(
            texts(
                "behind schedule: no start of this cluster is recorded, and every source says "
                "the reviews are still in cluster 1. Not a date to act on."
            )
        )
    else:
        lines.append(texts("a plan, not an announced date"))
    return Entry(title=title, lines=tuple(lines))


def _rule(data: Dataset, milestone: str, texts: Texts) -> str:
    rule = data.milestones[milestone]
    offset = rule.offset
    if rule.after == "start":
        if offset.months:
            return texts.plural(
                "within {count} month of the start of the review",
                "within {count} months of the start of the review",
                offset.months,
            ).format(count=offset.months)
        weeks = offset.weeks + offset.days // 7
        return texts.plural(
            "within {count} week of the start of the review",
            "within {count} weeks of the start of the review",
            weeks,
        ).format(count=weeks)
    before = texts(data.milestones[rule.after].title)
    count = offset.months or offset.weeks
    if offset.months:
        message = texts.plural(
            "within {count} month of: {step}", "within {count} months of: {step}", count
        )
    else:
        message = texts.plural(
            "within {count} week of: {step}", "within {count} weeks of: {step}", count
        )
    return message.format(count=count, step=before)


def _actions(data: Dataset, texts: Texts) -> Part:
    return Part(
        heading=texts("What you can do now"),
        entries=tuple(Entry(title=texts(a.title), url=a.url) for a in data.ngo_actions.values()),
    )


def _tell_us(name: str, contact: str, texts: Texts) -> Part:
    return Part(
        lines=(
            texts(
                "Know where the review of {country} stands? Tell the operators of this service "
                "({contact}): checked and sourced, it becomes part of our data."
            ).format(country=name, contact=contact),
        )
    )


def review_reply(review: CountryReview, data: Dataset, texts: Texts, contact: str) -> Reply:
    """The answer to "/country XX": the steps, the plan for later clusters, or what is known."""
    code = review.country
    name = f"{texts.country(code)} ({code})"
    heading = texts("Review timeline: {country}").format(country=name)
    if review.known is not None and not review.milestones:
        return _unknown_group(review.known, code, data, texts, contact, heading)
    parts: list[Part] = []
    if review.group is not None:
        parts.append(
            Part(
                lines=(
                    texts("{country} is in group {number} (source: {source}).").format(
                        country=texts.country(code),
                        number=review.group,
                        source=review.group_source or "",
                    ),
                    texts(
                        "A step with nothing recorded says “no news since”: delays are the "
                        "normal case, and we say more only when a source does."
                    ),
                )
            )
        )
    clusters: dict[int | None, list[Deadline]] = {}
    for step in review.milestones:
        clusters.setdefault(step.cluster, []).append(step)
    for number, steps in clusters.items():
        known = data.clusters.get(number) if number is not None else None
        title = texts(known.title) if known is not None else ""
        parts.append(
            Part(
                heading=texts("Cluster {number}: {title}").format(number=number, title=title),
                entries=tuple(_step_entry(d, data, texts) for d in steps),
            )
        )
    if review.phases:
        parts.append(
            Part(
                heading=texts("Later clusters, as planned (not dates to act on)"),
                entries=tuple(_phase_entry(p, texts) for p in review.phases),
            )
        )
    parts.append(_actions(data, texts))
    parts.append(_tell_us(texts.country(code), contact, texts))
    return Reply(heading=heading, parts=tuple(parts))


def _unknown_group(
    known: WhatIsKnown, code: str, data: Dataset, texts: Texts, contact: str, heading: str
) -> Reply:
    name = f"{texts.country(code)} ({code})"
    years = ", ".join(str(g.start.year) for g in known.groups)
    intro = texts.plural(
        "Every State party is in one of {count} group drawn by lot (reviews started in "
        "{years}); which one {country} is in is not in our data yet, so its own dates are "
        "not known.",
        "Every State party is in one of {count} groups drawn by lot (reviews started in "
        "{years}); which one {country} is in is not in our data yet, so its own dates are "
        "not known.",
        len(known.groups),
    ).format(count=len(known.groups), years=years, country=name)
    groups = []
    for group in known.groups:
        lines = [texts("reviews started on {date}").format(date=texts.date(group.start))]
        if group.reviews is not None:
            lines.append(
                texts.plural("{count} review", "{count} reviews", group.reviews).format(
                    count=group.reviews
                )
            )
        lines.append(
            f"{texts(CONFIDENCE_LABELS[group.confidence])}; "
            + texts("source: {source}").format(source=group.source)
        )
        groups.append(
            Entry(
                title=texts("Group {number}").format(number=group.number),
                lines=(" · ".join(lines),),
            )
        )
    progress = [_figure(p, texts) for p in known.progress[-MAX_PROGRESS:]]
    if known.plan:
        progress.append(texts(known.plan))
    steps = tuple(
        Entry(title=texts(step.title), lines=(_rule(data, step.milestone, texts),))
        for step in known.steps
    )
    parts = (
        Part(lines=(intro,)),
        Part(heading=texts("The three groups"), entries=tuple(groups)),
        Part(heading=texts("How far the reviews have got"), lines=tuple(progress)),
        Part(heading=texts("The steps every review goes through"), entries=steps),
        _actions(data, texts),
        _tell_us(texts.country(code), contact, texts),
    )
    return Reply(heading=heading, parts=parts)


def unknown_groups(codes: Iterable[str], data: Dataset) -> list[str]:
    """The States among `codes` whose review group (and so their dates) we do not know."""
    return sorted(c for c in codes if data.group_of(c) is None and (c, 1) not in data.review_starts)


def unknown_group_note(codes: Sequence[str], commands: Commands, texts: Texts) -> str:
    """What a subscriber to a State of unknown group still receives, said when subscribing."""
    names = ", ".join(f"{texts.country(c)} ({c})" for c in codes)
    return texts.plural(
        "The review group of {countries} is not in our data yet, so there are no review dates "
        "of its own to remind you of. You will still receive the constructive dialogues and "
        "their calls, the COP and the mechanism-wide news; {command} shows what is known.",
        "The review groups of {countries} are not in our data yet, so there are no review "
        "dates of their own to remind you of. You will still receive the constructive "
        "dialogues and their calls, the COP and the mechanism-wide news; {command} shows "
        "what is known.",
        len(codes),
    ).format(countries=names, command=f"{commands.country} {codes[0]}")
