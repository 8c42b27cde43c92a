"""How one deadline reads on a page, in the reader's language: shared by every page.

An expected occurrence (status `expected`) is shown as what it is: the window it may
fall in and the reason we expect it, never a countdown to a guessed day.
"""

from __future__ import annotations

import datetime as dt

from bot.text.i18n import Texts
from bot.text.render import CONFIDENCE_LABELS, KIND_NAMES, STATUS_LABELS
from bot.web.countries import source_link
from schedulers.timeline import Deadline, reader_title


def row(deadline: Deadline, texts: Texts, now: dt.datetime) -> dict[str, object]:
    """What the page shows for one deadline, in the reader's language."""
    title = reader_title(deadline, texts, texts.country)
    if isinstance(deadline.due, dt.datetime) and isinstance(deadline.local, dt.datetime):
        moment = deadline.due
        when = texts.moment(deadline.due, deadline.zone or "UTC")
        if deadline.end_of_day:
            when = texts("{date}, midnight (end of day), {zone} time").format(
                date=texts.date((deadline.local - dt.timedelta(days=1)).date()),
                zone=texts.city(deadline.zone or "UTC"),
            )
    else:
        day = deadline.due if isinstance(deadline.due, dt.date) else now.date()
        moment = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
        when = texts.date(day)
        if isinstance(deadline.end, dt.date) and deadline.end != deadline.due:
            when = texts("{start} to {end}").format(start=when, end=texts.date(deadline.end))
    countdown: str | None = texts.countdown(moment - now)
    window = None
    if deadline.precision == "month" and not isinstance(deadline.due, dt.datetime):
        when, countdown = texts.month(deadline.due), None
    if deadline.status == "expected":
        # a guess: its window, not a day to count down to
        countdown = None
        if deadline.earliest is not None and deadline.latest is not None:
            window = texts("expected between {start} and {end}").format(
                start=texts.date(deadline.earliest), end=texts.date(deadline.latest)
            )
    return {
        "id": deadline.id,
        "title": title,
        "when": when,
        "iso": deadline.due.isoformat(),
        "countdown": countdown,
        "window": window,
        "basis": deadline.basis if deadline.status == "expected" else None,
        "source_url": source_link(deadline.source),
        "done": deadline.actual,
        "status": deadline.status,
        "status_label": texts(STATUS_LABELS[deadline.status]),
        "confidence": deadline.confidence,
        "confidence_label": texts(CONFIDENCE_LABELS[deadline.confidence]),
        "kind_label": texts(KIND_NAMES[deadline.kind]),
        "hint": texts(deadline.hint) if deadline.hint else None,
        "url": deadline.url,
        "source": deadline.source,
        "cluster": deadline.cluster,
    }
