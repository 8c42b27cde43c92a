"""How a deadline is written out: one JSON shape for the CLI and the API, and table cells.

The JSON object is the contract other tools read (`id`, `kind`, `title`, `country`,
`cluster`, `due`, `local`, `zone`, `status`, `confidence`, `source`, ...); whole-day
deadlines are ISO dates, timed ones ISO instants. A deadline that closes at "midnight"
also carries the date as announced, because 24:00 on 8 May is 00:00 on 9 May.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.text.marks import N_
from config.vocabulary import KIND_TERMS, KINDS, THEME_TERMS, THEMES
from schedulers.timeline import Deadline, reader_title

STATUS_LABELS = {
    "done": N_("done"),
    "overdue": N_("overdue"),
    "no_news": N_("no news since"),
    "due_soon": N_("due soon"),
    "upcoming": N_("upcoming"),
    "cancelled": N_("cancelled"),
    "expected": N_("expected, not announced yet"),
}
CONFIDENCE_LABELS = {
    "confirmed": N_("confirmed"),
    "reported": N_("reported"),
    "projected": N_("projected"),
}
# Derived from the one vocabulary (config/vocabulary.py), where the labels are marked.
THEME_NAMES: dict[str, str] = {theme: THEME_TERMS[theme].label for theme in THEMES}
KIND_NAMES: dict[str, str] = {kind: KIND_TERMS[kind].label for kind in KINDS}


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.utcoffset() == dt.timedelta(0):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.isoformat()
    return value.isoformat()


def announced_date(deadline: Deadline) -> dt.date:
    """The calendar date as announced: for "midnight" deadlines, the day that ends."""
    local = deadline.local
    if isinstance(local, dt.datetime):
        return (local - dt.timedelta(days=1)).date() if deadline.end_of_day else local.date()
    return local


def deadline_to_dict(deadline: Deadline) -> dict[str, Any]:
    """The JSON object for one deadline."""
    return {
        "id": deadline.id,
        "kind": deadline.kind,
        "title": reader_title(deadline),
        "country": deadline.country,
        "cluster": deadline.cluster,
        "milestone": deadline.milestone,
        "event": deadline.event_id,
        "due": _iso(deadline.due),
        "local": _iso(deadline.local),
        "local_date": announced_date(deadline).isoformat(),
        "end_of_day": deadline.end_of_day,
        "zone": deadline.zone,
        "end": _iso(deadline.end),
        "status": deadline.status,
        "confidence": deadline.confidence,
        "source": deadline.source,
        "actual": _iso(deadline.actual),
        "themes": list(deadline.themes),
        "hint": deadline.hint,
        "url": deadline.url,
        "place": deadline.place,
        "note": deadline.note,
        # an expected occurrence: the window it may fall in, and why it is expected
        "earliest": _iso(deadline.earliest),
        "latest": _iso(deadline.latest),
        "basis": deadline.basis,
    }


def when_text(deadline: Deadline) -> str:
    """A short human form: '2022-05-08 24:00 Europe/Vienna' or '2022-05-01'."""
    local = deadline.local
    if deadline.status == "expected" and deadline.earliest and deadline.latest:
        return f"expected {deadline.earliest.isoformat()} to {deadline.latest.isoformat()}"
    if deadline.precision == "month" and not isinstance(local, dt.datetime):
        return local.strftime("%Y-%m") + " (month only)"
    if not isinstance(local, dt.datetime):
        text = local.isoformat()
        if isinstance(deadline.end, dt.date) and not isinstance(deadline.end, dt.datetime):
            text += f" to {deadline.end.isoformat()}"
        return text
    clock = "24:00" if deadline.end_of_day else local.strftime("%H:%M")
    abbreviation = local.tzname() or ""
    return f"{announced_date(deadline).isoformat()} {clock} {abbreviation} ({deadline.zone})"
