"""One State party's review, told honestly: what is known, what is planned, what is not known.

Pure functions over the dataset and a day passed in. Three kinds of statement, kept apart:
- the steps of a review whose start is known (`schedulers.timeline.milestone_deadlines`):
  a step whose date passed with nothing recorded is `no_news`, not `overdue`;
- the plan of the procedures for the later clusters (`PlannedPhase`, status `planned`):
  two-year phases from the group's start, never dates to act on, and `behind` where the
  facts say the reviews are still in cluster 1;
- for a State whose group is unknown, what is known of every review (`WhatIsKnown`): the
  three groups and their starts, the mechanism-wide progress figures with their dates and
  sources, the steps every review goes through, and what an NGO can do now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from config.dataset import Action, Confidence, Dataset, Precision, Progress, weakest
from schedulers.dates import add_offset, day_text, month_text
from schedulers.timeline import Deadline, milestone_deadlines, review_start


@dataclass(frozen=True)
class PlannedPhase:
    """A cluster of one State's review as the procedures plan it, not as it happens.

    `start`/`end` are months (`precision` "month"): the plan counts whole phases from the
    group's start. `behind` is True when the planned start has passed and no source says
    this cluster started for the State; `basis` says why, with the progress figures.
    """

    country: str
    cluster: int
    title: str
    start: dt.date
    end: dt.date
    basis: str
    source: str
    behind: bool
    note: str | None = None
    status: Literal["planned"] = "planned"
    confidence: Confidence = "projected"
    precision: Precision = "month"


@dataclass(frozen=True)
class GroupStart:
    """One of the groups drawn by lot, and when its review of cluster 1 started."""

    number: int
    start: dt.date
    reviews: int | None
    source: str
    confidence: Confidence
    note: str | None = None


@dataclass(frozen=True)
class Step:
    """One step every review goes through, with its rule in words."""

    milestone: str
    title: str
    rule: str
    actor: str
    hint: str


@dataclass(frozen=True)
class WhatIsKnown:
    """What can be said of any State's review when its own group is not known."""

    groups: tuple[GroupStart, ...]
    progress: tuple[Progress, ...]
    steps: tuple[Step, ...]
    actions: tuple[Action, ...]
    plan: str | None
    summary: str


@dataclass(frozen=True)
class CountryReview:
    """Everything the service can honestly say about one State party's review on a day.

    `group` is None when the State's group is unknown; then `milestones` and `phases` are
    empty unless an operator recorded a review start, and `known` says what is known.
    """

    country: str
    group: int | None
    group_source: str | None
    milestones: tuple[Deadline, ...]
    phases: tuple[PlannedPhase, ...]
    known: WhatIsKnown | None


def _rule_words(data: Dataset, milestone: str) -> str:
    rule = data.milestones[milestone]
    parts = [
        f"{n} {unit}{'s' if n != 1 else ''}"
        for n, unit in (
            (rule.offset.months, "month"),
            (rule.offset.weeks, "week"),
            (rule.offset.days, "day"),
        )
        if n
    ]
    after = (
        "the start of the review"
        if rule.after == "start"
        else f"the {data.milestones[rule.after].title.lower()}"
    )
    return f"within {' and '.join(parts)} of {after}"


def _progress_words(data: Dataset, today: dt.date) -> str:
    said = [p for p in sorted(data.progress.values(), key=lambda p: p.date) if p.date <= today]
    if not said:
        return "no progress figure is known"
    latest = said[-1]
    when = month_text(latest.date) if latest.precision == "month" else day_text(latest.date)
    return f'"{latest.quote}" (as of {when}; {latest.source})'


def planned_phases(data: Dataset, country: str, today: dt.date) -> list[PlannedPhase]:
    """The later clusters of one State's review as planned: `planned`, never to act on.

    Counted from the State's cluster-1 start in phases of the plan's `phase_months`. A
    cluster whose start is recorded for the State (`review_starts`) is not a plan any more:
    its steps are in `milestone_deadlines`.
    """
    plan = data.review_plan.get("phases")
    first = review_start(data, country, 1)
    if plan is None or first is None:
        return []
    start_date, start_confidence, start_source = first
    phases = []
    for number, cluster in data.clusters.items():
        if number == 1 or (country, number) in data.review_starts:
            continue
        begins = add_offset(start_date, months=plan.phase_months * (number - 1)).replace(day=1)
        ends = min(add_offset(begins, months=plan.phase_months), plan.ends)
        behind = today >= begins
        basis = (
            f"planned: phase {number} of the review that started {day_text(start_date)}, "
            f"{plan.phase_months} months a phase, all to end by {month_text(plan.ends)}"
        )
        if behind:
            basis += (
                f"; no start of cluster {number} is recorded, and the latest figure says "
                f"{_progress_words(data, today)}"
            )
        phases.append(
            PlannedPhase(
                country=country,
                cluster=number,
                title=cluster.title,
                start=begins,
                end=ends,
                basis=basis,
                source=f"{plan.source}; review start: {start_source}",
                behind=behind,
                note=cluster.note,
                confidence=weakest("projected", start_confidence),
            )
        )
    return phases


def what_is_known(data: Dataset, today: dt.date) -> WhatIsKnown:
    """What is known of every State's review, for a State whose group is not known.

    Every party was drawn into one of three groups that started in consecutive years;
    the progress figures say how far the mechanism as a whole had got, as of their dates.
    """
    groups = tuple(
        GroupStart(
            number=g.number,
            start=s.date,
            reviews=g.reviews,
            source=s.source,
            confidence=s.confidence,
            note=s.note,
        )
        for g in data.groups.values()
        for s in g.cluster_starts
        if s.cluster == 1
    )
    steps = tuple(
        Step(
            milestone=rule.id,
            title=rule.title,
            rule=_rule_words(data, rule.id),
            actor=rule.actor,
            hint=rule.hint,
        )
        for rule in data.milestones.values()
    )
    progress = tuple(
        p for p in sorted(data.progress.values(), key=lambda p: p.date) if p.date <= today
    )
    years = ", ".join(str(g.start.year) for g in groups)
    summary = (
        f"Every State party is in one of {len(groups)} groups drawn by lot "
        f"(reviews started in {years}); which one is not known to us for this State. "
        f"The latest figure: {_progress_words(data, today)}."
    )
    plan = data.review_plan.get("phases")
    return WhatIsKnown(
        groups=groups,
        progress=progress,
        steps=steps,
        actions=tuple(data.ngo_actions.values()),
        plan=plan.note if plan is not None else None,
        summary=summary,
    )


def country_review(data: Dataset, country: str, today: dt.date) -> CountryReview:
    """One State party's review on `today`: its steps, its planned phases, or what is known."""
    found = data.group_of(country)
    milestones = tuple(
        d for cluster in data.clusters for d in milestone_deadlines(data, country, cluster, today)
    )
    known_start = review_start(data, country, 1) is not None
    return CountryReview(
        country=country,
        group=found[0].number if found is not None else None,
        group_source=found[1].source if found is not None else None,
        milestones=milestones,
        phases=tuple(planned_phases(data, country, today)),
        known=None if known_start else what_is_known(data, today),
    )
