"""What an alert says, in the reader's language: the same words for every channel.

Pure: an `Alert`, the reader's `Texts` and time zone in, a `Wording` out. Channels only
lay it out (Telegram HTML, Slack blocks, console text). A deadline announced in another
zone (registration closes at midnight Vienna time) is given in the reader's zone and in
the announced one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from bot.text.i18n import Texts
from bot.text.render import CONFIDENCE_LABELS, STATUS_LABELS
from schedulers.timeline import MECHANISM_ZONE, Deadline, reader_title

AlertKind = Literal[
    "reminder",
    "last_call",
    "overdue",
    "change",
    "announced",
    "heads_up",
    "digest",
    "broadcast",
    "operator",
    "confirm",
    "question",
    "report",
]


@dataclass(frozen=True)
class Alert:
    """One thing to tell one target, with everything needed to word it.

    `deadline` is the deadline as it stands now; for a date change `previous` is how it
    stood before; for an announcement `related` is the event's registration deadline.
    `late` marks a reminder sent after its moment (the service was down).
    """

    key: str
    kind: AlertKind
    deadline: Deadline | None = None
    previous: Deadline | None = None
    related: Deadline | None = None
    lead_days: int | None = None
    late: bool = False
    text: str | None = None
    digest: tuple[Deadline, ...] = field(default=())
    link: str | None = None
    # For a report's outcome: whether the operators approved it, and the day reported.
    approved: bool | None = None
    reported: dt.date | None = None


@dataclass(frozen=True)
class Wording:
    """The parts of a message; any of the optional ones may be left out by a channel."""

    headline: str
    title: str | None = None
    when: str | None = None
    when_announced: str | None = None
    status: str | None = None
    confidence: str | None = None
    hint: str | None = None
    note: str | None = None
    source: str | None = None
    url: str | None = None
    deadline_id: str | None = None
    country: str | None = None


def title_of(deadline: Deadline, texts: Texts) -> str:
    """A deadline's title in the reader's language, with the country where it has one."""
    return reader_title(deadline, texts, texts.country)


def when_of(deadline: Deadline, texts: Texts, zone: str) -> tuple[str, str | None]:
    """When, in the reader's zone, and in the announced zone if that is another one."""
    if not isinstance(deadline.due, dt.datetime):
        text = texts.date(deadline.due)
        if isinstance(deadline.end, dt.date) and deadline.end != deadline.due:
            text = texts("{start} to {end}").format(start=text, end=texts.date(deadline.end))
        return text, None
    announced_zone = deadline.zone or "UTC"
    if deadline.end_of_day and isinstance(deadline.local, dt.datetime):
        day = texts.date((deadline.local - dt.timedelta(days=1)).date())
        announced = texts("{date}, midnight (end of day), {zone} time").format(
            date=day, zone=texts.city(announced_zone)
        )
    else:
        announced = texts.moment(deadline.due, announced_zone)
    if announced_zone == zone:
        return announced, None
    return texts.moment(deadline.due, zone), announced


def _headline(alert: Alert, deadline: Deadline, texts: Texts, now: dt.datetime) -> str:
    title = title_of(deadline, texts)
    if alert.kind == "overdue":
        return texts("Overdue: {title}").format(title=title)
    if alert.kind == "change":
        return texts("Date changed: {title}").format(title=title)
    if alert.kind == "announced":
        return texts("Announced: {title}").format(title=title)
    if alert.kind == "heads_up":
        return texts("Watch for the call: {event}").format(event=texts(deadline.title))
    if alert.kind == "last_call":
        left = texts.countdown(_moment(deadline) - now)
        return texts("Last call, closes {countdown}: {title}").format(countdown=left, title=title)
    if alert.lead_days == 0:
        return texts("Due today: {title}").format(title=title)
    left = texts.countdown(_moment(deadline) - now)
    return texts("Due {countdown}: {title}").format(countdown=left, title=title)


def _digest(alert: Alert, texts: Texts, zone: str) -> Wording:
    count = len(alert.digest)
    headline = texts.plural(
        "Your digest: {count} deadline in the next {days} days",
        "Your digest: {count} deadlines in the next {days} days",
        count,
    ).format(count=count, days=alert.lead_days or 7)
    lines = [
        f"• {texts.labelled(when_of(d, texts, zone)[0], title_of(d, texts))}" for d in alert.digest
    ]
    if not lines:
        lines.append(texts("Nothing is due for what you follow."))
    return Wording(headline=headline, note="\n".join(lines))


def _heads_up(deadline: Deadline, texts: Texts) -> str:
    """Why now, for an expected application call: when it usually closes, what we do."""
    first, last = deadline.earliest or deadline.due, deadline.latest or deadline.due
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    return texts(
        "Not announced yet. Applications usually close between {first} and {last} (our "
        "guess: {guess}), and the call appears a few weeks before. We are watching the "
        "UNODC pages and will tell you as soon as it is announced."
    ).format(
        first=texts.date(first),
        last=texts.date(last),
        guess=texts.date(deadline.due if not isinstance(deadline.due, dt.datetime) else first),
    )


def _moment(deadline: Deadline) -> dt.datetime:
    if isinstance(deadline.due, dt.datetime):
        return deadline.due
    return dt.datetime.combine(deadline.due, dt.time(0), tzinfo=MECHANISM_ZONE)


def _question(deadline: Deadline, texts: Texts, when: str) -> Wording:
    """Did a step that passed unrecorded happen? Asked of the State's own subscribers."""
    return Wording(
        headline=texts("Did this happen? {title}").format(title=title_of(deadline, texts)),
        title=title_of(deadline, texts),
        when=when,
        confidence=texts(CONFIDENCE_LABELS[deadline.confidence]),
        note=texts(
            "Its date has passed and nothing is recorded. If you know where it stands, "
            "tell us: an operator checks every answer before anything changes."
        ),
        deadline_id=deadline.id,
        country=deadline.country,
    )


def _report_outcome(alert: Alert, texts: Texts, zone: str) -> Wording:
    """What the operators decided about a report, told to its reporter."""
    deadline = alert.deadline
    what = title_of(deadline, texts) if deadline is not None else texts("your report")
    if alert.reported is not None:
        what = texts("{title}, {date}").format(title=what, date=texts.date(alert.reported))
    if alert.approved:
        return Wording(
            headline=texts("Thank you: your report was accepted"),
            title=what,
            note=texts("It is now in the timeline, marked as reported, with your evidence."),
            deadline_id=deadline.id if deadline is not None else None,
        )
    return Wording(
        headline=texts("Your report was not accepted"),
        title=what,
        note=texts(
            "An operator could not confirm it, so nothing changed. You can report it again "
            "with a link to a source."
        ),
    )


def word(alert: Alert, texts: Texts, zone: str, now: dt.datetime) -> Wording:
    """The wording of `alert` for a reader in `zone`, at `now`."""
    deadline = alert.deadline
    if alert.kind == "digest":
        return _digest(alert, texts, zone)
    if alert.kind == "confirm":
        return Wording(
            headline=texts("Confirm your UNTOC Watch alerts"),
            note=texts(
                "Someone, probably you, asked to receive UNTOC Watch alerts at this "
                "address. Nothing will be sent until you confirm."
            ),
            url=alert.link,
        )
    if deadline is None and alert.kind == "change":
        return Wording(headline=texts("A page you follow changed"), note=alert.text, url=alert.link)
    if alert.kind == "report":
        return _report_outcome(alert, texts, zone)
    if deadline is None:
        return Wording(headline=alert.text or "", url=alert.link)
    when, announced = when_of(deadline, texts, zone)
    if alert.kind == "question":
        return _question(deadline, texts, when)
    notes = []
    if alert.kind == "change" and alert.previous is not None:
        before, _ = when_of(alert.previous, texts, zone)
        notes.append(texts("It moved from {before} to {after}.").format(before=before, after=when))
    if alert.kind == "announced":
        notes.append(texts("It is no longer a guess: these are the announced dates."))
        if alert.related is not None:
            closes, _ = when_of(alert.related, texts, zone)
            notes.append(texts("Registration closes {when}.").format(when=closes))
    if alert.kind == "heads_up":
        notes.append(_heads_up(deadline, texts))
    if alert.kind == "overdue":
        notes.append(
            texts(
                "No completion has been recorded. Delays are common: ask the focal point "
                "where things stand, and tell us when it happens."
            )
        )
    if alert.late:
        notes.append(texts("Sent late: the service was not running at the planned time."))
    if alert.text:
        notes.append(alert.text)
    return Wording(
        headline=_headline(alert, deadline, texts, now),
        title=title_of(deadline, texts),
        when=when,
        when_announced=announced,
        status=texts(STATUS_LABELS[deadline.status]),
        confidence=texts(CONFIDENCE_LABELS[deadline.confidence]),
        hint=texts(deadline.hint) if deadline.hint else None,
        note=" ".join(notes) or None,
        source=deadline.source,
        url=deadline.url or alert.link,
        deadline_id=deadline.id,
        country=deadline.country,
    )
