"""Rebuilding an alert from its outbox row, pure: the row, the reader's filters, the timeline.

A row is planned well before it is sent, and the facts may move in between: a date
changes, a reader marks a deadline done, a status turns. Just before sending, the
dispatcher asks here what the row stands for now, or whether it no longer applies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.db.models import Delivery
from bot.text.wording import Alert
from schedulers.timeline import Deadline, Selection, fingerprint, upcoming


def rebuild_alert(
    row: Delivery,
    selection: Selection,
    done: set[str],
    deadlines: Mapping[str, Deadline],
    now: dt.datetime,
) -> Alert | None:
    """The alert `row` stands for at `now`; None when it no longer applies.

    `selection` is what the reader follows, `done` the deadlines they marked done.
    """
    payload: dict[str, Any] = dict(row.payload or {})
    if row.kind == "broadcast":
        return Alert(key=row.key, kind="broadcast", text=str(payload.get("text", "")))
    if row.kind == "change" and row.deadline_id is None:  # a watched page changed
        return Alert(
            key=row.key,
            kind="change",
            text=str(payload.get("text", "")),
            link=str(payload.get("link") or "") or None,
        )
    if row.kind == "report":  # the operators decided a report: tell its reporter
        day = payload.get("date")
        target = str(payload.get("target") or "")
        return Alert(
            key=row.key,
            kind="report",
            deadline=deadlines.get(row.deadline_id or "") or deadlines.get(f"e-{target}"),
            approved=bool(payload.get("approved")),
            reported=dt.date.fromisoformat(day) if isinstance(day, str) else None,
        )
    if row.kind == "digest":
        days = int(payload.get("days", 7))
        coming = upcoming(deadlines.values(), now, days, selection)
        coming = [d for d in coming if d.id not in done]
        return Alert(
            key=row.key,
            kind="digest",
            digest=tuple(coming),
            lead_days=days,
            late=bool(payload.get("late")),
        )
    deadline = deadlines.get(row.deadline_id or "")
    if deadline is None or deadline.id in done:
        return None
    if row.kind == "question":
        if deadline.status != "no_news":
            return None  # recorded (or reported late) since it was planned
        return Alert(key=row.key, kind="question", deadline=deadline)
    if row.kind == "change":
        previous = payload.get("previous") or {}
        before = _previous(deadline, previous) if previous else None
        return Alert(key=row.key, kind="change", deadline=deadline, previous=before)
    if row.kind == "announced":
        if deadline.status == "expected":
            return None  # the announcement was taken back before it went out
        related = deadlines.get(str(payload.get("registration") or ""))
        return Alert(key=row.key, kind="announced", deadline=deadline, related=related)
    if row.kind == "heads_up":
        if deadline.status != "expected":
            return None  # announced meanwhile: the "announced" alert says it
        return Alert(key=row.key, kind="heads_up", deadline=deadline)
    if payload.get("fingerprint") != fingerprint(deadline):
        return None  # the date moved since this was planned; the new plan has its own
    if row.kind == "overdue" and deadline.status != "overdue":
        return None
    if row.kind in ("reminder", "last_call") and deadline.status not in (
        "due_soon",
        "upcoming",
    ):
        return None
    return Alert(
        key=row.key,
        kind=row.kind,  # type: ignore[arg-type]
        deadline=deadline,
        lead_days=payload.get("lead_days"),
        late=bool(payload.get("late")),
    )


def _previous(current: Deadline, previous: Mapping[str, Any]) -> Deadline:
    """The deadline as it stood before a change, from the dates saved with the change."""

    def parse(value: Any) -> dt.date | dt.datetime | None:
        if not isinstance(value, str):
            return None
        return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)

    due = parse(previous.get("due")) or current.due
    local = parse(previous.get("local")) or due
    return replace(current, due=due, local=local, end=parse(previous.get("end")))
