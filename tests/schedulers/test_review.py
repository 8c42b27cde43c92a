"""A State's review told honestly: steps with no news, clusters 2-4 as a plan, and what is known."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from config.dataset import ReviewStart
from config.dataset_loader import load_dataset
from schedulers.review import country_review, planned_phases, what_is_known

DECEMBER_2026 = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def data():
    return load_dataset()


def test_austria_has_no_step_overdue_and_clusters_2_to_4_as_a_plan_behind_schedule(data):
    review = country_review(data, "AT", DECEMBER_2026)
    assert review.group == 2 and review.group_source
    assert [d.milestone for d in review.milestones][:1] == ["focal-points"]
    assert all(d.status != "overdue" for d in review.milestones)
    assert {d.status for d in review.milestones} == {"no_news"}
    assert review.known is None
    phases = {p.cluster: p for p in review.phases}
    assert sorted(phases) == [2, 3, 4]
    assert all(p.status == "planned" and p.precision == "month" for p in phases.values())
    assert (phases[2].start, phases[2].end) == (dt.date(2023, 11, 1), dt.date(2025, 11, 1))
    assert phases[2].behind and phases[3].behind and not phases[4].behind
    assert "84 country reviews have already started" in phases[2].basis
    assert phases[4].end <= dt.date(2030, 10, 1)  # the whole review is to end by October 2030
    assert phases[2].note and "disagree" in phases[2].note
    assert phases[2].confidence == "projected"


def test_the_plan_is_not_behind_before_its_phase_begins(data):
    phases = planned_phases(data, "GB", dt.date(2022, 6, 1))  # group 1, December 2020
    assert [(p.cluster, p.start, p.behind) for p in phases] == [
        (2, dt.date(2022, 12, 1), False),
        (3, dt.date(2024, 12, 1), False),
        (4, dt.date(2026, 12, 1), False),
    ]


def test_a_recorded_start_of_cluster_2_takes_it_out_of_the_plan(data):
    started = replace(
        data,
        review_starts={
            ("AT", 2): ReviewStart(
                country="AT",
                cluster=2,
                date=dt.date(2026, 6, 1),
                source="https://example.org/report",
                confidence="reported",
            )
        },
    )
    review = country_review(started, "AT", DECEMBER_2026)
    assert 2 not in {p.cluster for p in review.phases}
    assert 2 in {d.cluster for d in review.milestones}


def test_a_state_whose_group_is_unknown_gets_what_is_known(data):
    review = country_review(data, "FR", DECEMBER_2026)
    assert (review.group, review.milestones, review.phases) == (None, (), ())
    known = review.known
    assert known is not None
    assert [(g.number, g.start.year) for g in known.groups] == [(1, 2020), (2, 2021), (3, 2022)]
    assert "one of 3 groups" in known.summary and "2020, 2021, 2022" in known.summary
    figures = [(p.date, p.started, p.not_started) for p in known.progress]
    assert figures == [
        (dt.date(2024, 4, 1), 73, None),
        (dt.date(2024, 9, 30), 81, 108),
        (dt.date(2024, 10, 16), 84, None),
    ]
    assert all(p.source for p in known.progress)
    assert known.steps[0].milestone == "focal-points"
    assert known.steps[0].rule == "within 2 weeks of the start of the review"
    assert "self-assessment" in known.steps[4].rule
    assert any("focal point" in a.title for a in known.actions)
    assert len(known.actions) == 5 and all(a.source for a in known.actions)
    assert known.plan and "October 2030" in known.plan


def test_progress_figures_are_only_those_said_by_the_day_asked(data):
    known = what_is_known(data, dt.date(2024, 6, 1))
    assert [p.started for p in known.progress] == [73]
