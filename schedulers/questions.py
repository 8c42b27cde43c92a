"""When to ask subscribers whether a step of their State's review happened. Pure.

A step whose projected date passed with nothing recorded is the gap the service cannot
fill alone (the NGOs of that State are the ones who know). Its subscribers get one
question: it happened (on what day, with what evidence), not yet, or I don't know.
The rules:
- only subscribers who follow that State by name are asked (not those following all);
- a week after the step's date at the earliest, and not about steps long gone
  (`QUESTION_WINDOW`), so a first start does not ask about 2021;
- per subscriber and State, the most recent step that passed unrecorded, and only while
  no other question about that State is open for them;
- never the same step twice, whatever became of the first question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

from schedulers.reminders import Planned, Preferences
from schedulers.timeline import Deadline

QUESTION_DELAY = dt.timedelta(days=7)
QUESTION_WINDOW = dt.timedelta(days=120)
QUESTION_KIND = "question"


@dataclass(frozen=True)
class Asked:
    """What a subscriber was asked before: every step ever, and the States still open."""

    deadline_ids: Set[str] = frozenset()
    open_countries: Set[str] = frozenset()


def unrecorded_steps(deadlines: Iterable[Deadline], today: dt.date) -> dict[str, Deadline]:
    """Per State, the most recent step whose date passed a week ago with nothing recorded."""
    latest: dict[str, Deadline] = {}
    for deadline in deadlines:
        if deadline.kind != "milestone" or deadline.country is None:
            continue
        if deadline.status != "no_news" or deadline.actual is not None:
            continue
        due = deadline.due if not isinstance(deadline.due, dt.datetime) else deadline.due.date()
        if not today - QUESTION_WINDOW <= due <= today - QUESTION_DELAY:
            continue
        known = latest.get(deadline.country)
        if known is None or (known.due, known.id) < (due, deadline.id):
            latest[deadline.country] = deadline
    return latest


def question_key(subscriber_id: int, deadline_id: str) -> str:
    """The outbox key of a question: one per subscriber and step, ever."""
    return f"s{subscriber_id}|question|{deadline_id}"


def plan_questions(
    deadlines: Iterable[Deadline],
    subscribers: Iterable[Preferences],
    asked: Mapping[int, Asked],
    now: dt.datetime,
    today: dt.date,
) -> list[Planned]:
    """The questions to send now, one outbox row each."""
    steps = unrecorded_steps(deadlines, today)
    if not steps:
        return []
    planned = []
    for prefs in subscribers:
        before = asked.get(prefs.subscriber_id, Asked())
        for country in sorted(prefs.selection.countries):
            step = steps.get(country)
            if step is None or country in before.open_countries:
                continue
            if step.id in before.deadline_ids or step.id in prefs.acknowledged:
                continue
            planned.append(
                Planned(
                    key=question_key(prefs.subscriber_id, step.id),
                    subscriber_id=prefs.subscriber_id,
                    kind=QUESTION_KIND,
                    at=now,
                    deadline_id=step.id,
                    payload={"country": country},
                )
            )
    return planned
