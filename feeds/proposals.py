"""From findings to proposals an operator approves: new events, deadlines, and changes.

Pure. A finding that matches a known event (the same kind and theme on the same date,
or the same event moved: the same id, or the same kind, themes and year) becomes a
proposed *change* of that event, described in words ("registration deadline moved from
8 May 2022 to 17 May 2022"); one that says nothing new proposes nothing. Every proposal
carries the event as it would be after approval, valid as the dataset's `Event`, with
the page as its source and `reported` confidence, and a key that is the same whenever
the same finding is read again, so that storing it twice is harmless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from config.dataset import Event, Registration
from config.urls import web_url
from feeds.extract import MIN_CERTAINTY, Finding
from schedulers.dates import UTC, end_of_day

ProposalKind = Literal["event", "registration", "change"]
EXTRACTED_CONFIDENCE = "reported"
# A deadline read alone belongs to the one known event of its kind and theme in this window.
DEADLINE_LEAD = dt.timedelta(days=150)
# Kinds whose events are told apart by kind, themes and year (one dialogue per theme a year).
YEARLY_KINDS = frozenset({"constructive-dialogue", "preparation-day", "working-group"})
_ID_PREFIX = {
    "constructive-dialogue": "cd",
    "preparation-day": "prep",
    "cop": "cop",
    "working-group": "wg",
    "training": "training",
    "other": "event",
}
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ProposalDraft:
    """A proposal ready to store: what it is, the event after approval, and why."""

    key: str
    kind: ProposalKind
    event: Event
    target_id: str | None
    summary: str
    excerpt: str
    url: str
    source_id: str | None
    certainty: int

    def payload(self) -> dict[str, Any]:
        """The event as JSON, as stored and as `Event.model_validate` reads it back."""
        return self.event.model_dump(mode="json", exclude_none=True)


def is_past(finding: Finding, now: dt.datetime) -> bool:
    """True when everything a finding announces is over by `now` (nothing left to act on)."""
    moments = []
    if finding.start is not None:
        last = finding.end or finding.start
        moments.append(end_of_day(last, ZoneInfo(finding.zone)).astimezone(UTC))
    if finding.closing is not None:
        moments.append(finding.closing.instant)
    return bool(moments) and max(moments) <= now


def draft_proposals(
    findings: Iterable[Finding],
    known: Mapping[str, Event],
    *,
    url: str,
    source_id: str | None,
) -> list[ProposalDraft]:
    """The proposals the findings make, against the known events (dataset and approved).

    Findings below `MIN_CERTAINTY`, and findings the known events already say, propose
    nothing; the same proposal from two findings is made once.
    """
    drafts: dict[str, ProposalDraft] = {}
    for finding in findings:
        if finding.certainty < MIN_CERTAINTY:
            continue
        draft = draft_proposal(finding, known, url=url, source_id=source_id)
        if draft is not None:
            drafts.setdefault(draft.key, draft)
    return list(drafts.values())


def draft_proposal(
    finding: Finding, known: Mapping[str, Event], *, url: str, source_id: str | None
) -> ProposalDraft | None:
    """The one proposal a finding makes, or None when it says nothing new (or nothing valid)."""
    # A watched calendar's own URL: is kept only if it is a link a reader may follow.
    page = web_url(finding.url) or url
    target = match_known(finding, known)
    try:
        if target is not None:
            proposed = _changed(target, finding, page)
            if proposed is None:
                return None
            kind: ProposalKind = (
                "registration"
                if target.registration is None
                and proposed.registration is not None
                and _dates(target) == _dates(proposed)
                else "change"
            )
            summary = f"{target.title}: {describe_change(target, proposed)}"
        else:
            proposed = _new_event(finding, page)
            kind = "event" if finding.kind is not None else "registration"
            summary = f"New: {describe_event(proposed)}"
    except ValidationError:
        return None  # e.g. a calendar time in a daylight-saving gap: nothing to propose
    key_parts = [kind, target.id if target else None, _fingerprint(target), _fingerprint(proposed)]
    return ProposalDraft(
        key=hashlib.sha256(json.dumps(key_parts).encode()).hexdigest()[:40],
        kind=kind,
        event=proposed,
        target_id=target.id if target else None,
        summary=summary,
        excerpt=finding.excerpt,
        url=page,
        source_id=source_id,
        certainty=round(finding.certainty * 100),
    )


def match_known(finding: Finding, known: Mapping[str, Event]) -> Event | None:
    """The known event a finding speaks of, if exactly one fits."""
    if finding.kind is None:
        return _owner_of_deadline(finding, known)
    assert finding.start is not None
    same_day = [e for e in known.values() if e.kind == finding.kind and e.start == finding.start]
    if finding.themes:
        themed = [e for e in same_day if set(e.themes) & set(finding.themes)]
        if len(themed) == 1:
            return themed[0]
    elif len(same_day) == 1:
        return same_day[0]
    derived = event_id(finding)
    if derived in known and known[derived].kind == finding.kind:
        return known[derived]
    if finding.kind in YEARLY_KINDS and finding.themes:
        moved = [
            e
            for e in known.values()
            if e.kind == finding.kind
            and e.start.year == finding.start.year
            and set(e.themes) == set(finding.themes)
        ]
        if len(moved) == 1:
            return moved[0]
    return None


def _owner_of_deadline(finding: Finding, known: Mapping[str, Event]) -> Event | None:
    """The event a deadline read on its own closes registration for, if only one can be."""
    if finding.closing is None or not finding.themes:
        return None
    closes = finding.closing.day
    candidates = [
        e
        for e in known.values()
        if (finding.named_kind is None or e.kind == finding.named_kind)
        and set(e.themes) & set(finding.themes)
        and closes <= e.start <= closes + DEADLINE_LEAD
    ]
    return candidates[0] if len(candidates) == 1 else None


def event_id(finding: Finding) -> str:
    """The id a new event gets, in the dataset's style (`cd-2022-firearms`, `cop-11`)."""
    day = finding.start or (finding.closing.day if finding.closing else dt.date.min)
    if finding.kind == "cop" and finding.cop_number:
        return f"cop-{finding.cop_number}"
    prefix = _ID_PREFIX.get(finding.kind or "other", "event")
    if finding.kind in YEARLY_KINDS and finding.themes:
        return _bounded(f"{prefix}-{day.year}-{'-'.join(finding.themes)}")
    if finding.kind is None:
        prefix = "deadline"
    slug = _SLUG.sub("-", finding.title.lower()).strip("-")
    return _bounded(f"{prefix}-{day.isoformat()}-{slug}")


def _bounded(identifier: str) -> str:
    return identifier[:80].rstrip("-")


def _registration(finding: Finding, url: str, previous: Registration | None) -> Registration:
    assert finding.closing is not None
    notes = [n for n in finding.notes if "deadline" in n]
    return Registration(
        deadline=finding.closing.day,
        time=finding.closing.time_text,
        zone=finding.closing.zone,
        url=previous.url if previous is not None and previous.url else url,
        note=" ".join(notes) or None,
    )


def _new_event(finding: Finding, url: str) -> Event:
    notes = [n for n in finding.notes if "deadline" not in n]
    registration = _registration(finding, url, None) if finding.closing is not None else None
    start = finding.start or (finding.closing.day if finding.closing else None)
    return Event(
        id=event_id(finding),
        kind=finding.kind or "other",
        title=finding.title[:200],
        themes=list(finding.themes) or ["general"],
        start=start,
        end=finding.end if finding.end != finding.start else None,
        start_time=finding.start_time,
        end_time=finding.end_time,
        zone=finding.zone,
        url=url,
        registration=registration,
        status="cancelled" if finding.cancelled else "scheduled",
        note=" ".join(notes) or None,
        source=url,
        confidence=EXTRACTED_CONFIDENCE,
    )


def _changed(known: Event, finding: Finding, url: str) -> Event | None:
    """The known event with what the finding says differently, or None if nothing differs."""
    updates: dict[str, Any] = {}
    if finding.start is not None and finding.start != known.start:
        updates["start"] = finding.start
        updates["end"] = finding.end if finding.end != finding.start else None
    elif finding.end is not None and finding.end != (known.end or known.start):
        updates["end"] = finding.end
    if finding.start_time is not None and (
        finding.start_time,
        finding.end_time,
        finding.zone,
    ) != (known.start_time, known.end_time, known.zone):
        updates.update(start_time=finding.start_time, end_time=finding.end_time, zone=finding.zone)
    if finding.closing is not None:
        previous = known.registration
        said = (finding.closing.day, finding.closing.time_text, finding.closing.zone)
        if previous is None or said != (previous.deadline, previous.time, previous.zone):
            updates["registration"] = _registration(finding, url, previous).model_dump()
    if finding.cancelled and known.status != "cancelled":
        updates["status"] = "cancelled"
    if not updates:
        return None
    data = known.model_dump()
    data.update(updates, source=url, confidence=EXTRACTED_CONFIDENCE)
    return Event.model_validate(data)


def _dates(event: Event) -> tuple[Any, ...]:
    return (event.start, event.end, event.start_time, event.end_time, event.zone, event.status)


def _fingerprint(event: Event | None) -> list[Any] | None:
    """What identifies a proposal's content: dates, times, zone, deadline, status, themes."""
    if event is None:
        return None
    registration = event.registration
    return [
        event.kind,
        sorted(event.themes),
        *(str(part) for part in _dates(event)),
        [str(registration.deadline), registration.time, registration.zone]
        if registration
        else None,
    ]


def describe_event(event: Event) -> str:
    """One line for a new event: what, when, and when registration closes."""
    text = f"{event.title}, {_span(event)}"
    if event.registration is not None:
        text += f"; registration closes {_closing(event.registration)}"
    if event.status == "cancelled":
        text += " (cancelled)"
    return text


def describe_change(old: Event, new: Event) -> str:
    """What differs between two versions of an event, in words."""
    changes: list[str] = []
    if (old.start, old.end) != (new.start, new.end):
        changes.append(f"date moved from {_span(old)} to {_span(new)}")
    elif (old.start_time, old.end_time, old.zone) != (new.start_time, new.end_time, new.zone):
        changes.append(f"time changed from {_hours(old) or 'none'} to {_hours(new)}")
    before, after = old.registration, new.registration
    if after is not None and before is None:
        changes.append(f"registration deadline added: {_closing(after)}")
    elif after is not None and before is not None and after != before:
        if after.deadline != before.deadline:
            changes.append(
                f"registration deadline moved from {_day(before.deadline)} to "
                f"{_day(after.deadline)}"
            )
        if (after.time, after.zone) != (before.time, before.zone):
            changes.append(
                f"registration closing time changed from {before.time} ({before.zone}) "
                f"to {after.time} ({after.zone})"
            )
    if new.status != old.status:
        changes.append("cancelled" if new.status == "cancelled" else f"now {new.status}")
    return "; ".join(changes) or "no change in dates"


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _span(event: Event) -> str:
    text = _day(event.start)
    if event.end is not None and event.end != event.start:
        text += f" to {_day(event.end)}"
    hours = _hours(event)
    return f"{text}, {hours}" if hours else text


def _hours(event: Event) -> str:
    if event.start_time is None:
        return ""
    text = f"{event.start_time:%H:%M}"
    if event.end_time is not None:
        text += f"-{event.end_time:%H:%M}"
    return f"{text} ({event.zone})"


def _closing(registration: Registration) -> str:
    return f"{_day(registration.deadline)}, {registration.time} ({registration.zone})"
