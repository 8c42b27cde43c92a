"""The timeline engine: milestones from rules, chaining on actual dates, statuses, filters."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from config.dataset import Delay, MilestoneDate
from config.dataset_loader import load_dataset
from schedulers.timeline import (
    Selection,
    compute_deadlines,
    country_timeline,
    milestone_deadlines,
    status_words,
    upcoming,
)

VIENNA = ZoneInfo("Europe/Vienna")
MARCH_2022 = dt.datetime(2022, 3, 1, tzinfo=VIENNA)


@pytest.fixture(scope="module")
def data():
    return load_dataset()


def by_id(deadlines):
    return {d.id: d for d in deadlines}


def recorded(milestone, day, country="AT", cluster=1):
    return MilestoneDate(
        country=country,
        cluster=cluster,
        milestone=milestone,
        date=day,
        source="https://example.org/report",
        confidence="confirmed",
    )


def test_austria_cluster_1_as_of_march_2022(data):
    found = milestone_deadlines(data, "AT", 1, dt.date(2022, 3, 1))
    assert [(d.milestone, d.due, d.status, d.confidence) for d in found] == [
        ("focal-points", dt.date(2021, 11, 15), "no_news", "reported"),
        ("governmental-experts", dt.date(2021, 11, 29), "no_news", "reported"),
        ("consultations", dt.date(2021, 12, 13), "no_news", "reported"),
        ("self-assessment", dt.date(2022, 5, 1), "upcoming", "reported"),
        ("written-feedback", dt.date(2022, 11, 1), "upcoming", "projected"),
        ("lists-of-observations", dt.date(2023, 5, 1), "upcoming", "projected"),
    ]
    assert found[0].id == "m-at-c1-focal-points"
    assert found[0].hint and "focal point" in found[0].hint
    assert found[0].themes == ("criminalization", "tip", "som", "firearms")


def test_a_recorded_late_self_assessment_moves_the_chained_steps(data):
    late = data.with_facts([recorded("self-assessment", dt.date(2022, 8, 31))])
    found = by_id(milestone_deadlines(late, "AT", 1, dt.date(2022, 9, 1)))
    saq = found["m-at-c1-self-assessment"]
    assert (saq.status, saq.actual, saq.due) == ("done", dt.date(2022, 8, 31), dt.date(2022, 5, 1))
    feedback = found["m-at-c1-written-feedback"]
    # six calendar months after 31 August is the last day of February
    assert feedback.due == dt.date(2023, 2, 28)
    assert feedback.basis == "actual:self-assessment"
    assert (
        feedback.confidence == "reported"
    )  # as sure as the start and the rule, no longer projected
    observations = found["m-at-c1-lists-of-observations"]
    assert observations.due == dt.date(2023, 8, 28)
    assert observations.confidence == "projected"


def test_a_date_recorded_after_the_as_of_moment_is_not_yet_known(data):
    late = data.with_facts([recorded("self-assessment", dt.date(2022, 8, 31))])
    found = by_id(milestone_deadlines(late, "AT", 1, dt.date(2022, 6, 1)))
    assert found["m-at-c1-self-assessment"].status == "no_news"
    assert found["m-at-c1-written-feedback"].due == dt.date(2022, 11, 1)


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (dt.date(2022, 3, 31), "upcoming"),  # 31 days before
        (dt.date(2022, 4, 1), "due_soon"),  # 30 days before
        (dt.date(2022, 5, 1), "due_soon"),  # due today
        (dt.date(2022, 5, 2), "no_news"),  # passed, and nobody said anything
    ],
)
def test_milestone_status_boundaries(data, today, status):
    found = by_id(milestone_deadlines(data, "AT", 1, today))
    assert found["m-at-c1-self-assessment"].status == status


def test_registration_deadlines_are_instants_at_the_end_of_the_vienna_day(data):
    found = by_id(compute_deadlines(data, MARCH_2022))
    som = found["r-cd-2022-som-tip"]
    assert som.due == dt.datetime(2022, 5, 8, 22, 0, tzinfo=dt.UTC)
    assert som.end_of_day and som.zone == "Europe/Vienna"
    assert som.local == dt.datetime(2022, 5, 9, 0, 0, tzinfo=VIENNA)
    firearms = found["r-cd-2022-firearms"]
    assert firearms.due == dt.datetime(2022, 3, 17, 23, 0, tzinfo=dt.UTC)
    assert firearms.status == "due_soon"
    assert som.status == "upcoming"


def test_a_registration_closes_at_its_instant_not_at_the_utc_date(data):
    just_before = dt.datetime(2022, 5, 8, 21, 59, 59, tzinfo=dt.UTC)
    at_close = dt.datetime(2022, 5, 8, 22, 0, tzinfo=dt.UTC)
    assert by_id(compute_deadlines(data, just_before))["r-cd-2022-som-tip"].status == "due_soon"
    assert by_id(compute_deadlines(data, at_close))["r-cd-2022-som-tip"].status == "done"


def test_events_are_whole_days_or_instants_and_finish_at_their_end(data):
    found = by_id(compute_deadlines(data, dt.datetime(2022, 10, 18, 12, tzinfo=dt.UTC)))
    cop = found["e-cop-11"]
    assert (cop.due, cop.end, cop.status, cop.all_day) == (
        dt.date(2022, 10, 17),
        dt.date(2022, 10, 21),
        "due_soon",
        True,
    )
    som_2024 = by_id(compute_deadlines(data, dt.datetime(2024, 7, 15, 15, tzinfo=dt.UTC)))[
        "e-cd-2024-som"
    ]
    assert som_2024.due == dt.datetime(2024, 7, 15, 8, 0, tzinfo=dt.UTC)  # 10:00 CEST
    assert som_2024.end == dt.datetime(2024, 7, 15, 16, 0, tzinfo=dt.UTC)
    assert som_2024.status == "due_soon"
    after = by_id(compute_deadlines(data, dt.datetime(2024, 7, 15, 16, tzinfo=dt.UTC)))
    assert after["e-cd-2024-som"].status == "done"


def test_a_cancelled_event_and_its_registration_say_so(tmp_path):
    (tmp_path / "x.yaml").write_text(
        textwrap.dedent(
            """\
            events:
              - id: cd-2022-firearms
                kind: constructive-dialogue
                title: Constructive Dialogue on Firearms
                start: 2022-05-06
                status: cancelled
                registration: {deadline: 2022-03-17}
                source: test
                confidence: confirmed
            """
        )
    )
    found = by_id(compute_deadlines(load_dataset(tmp_path), MARCH_2022))
    assert found["e-cd-2022-firearms"].status == "cancelled"
    assert found["r-cd-2022-firearms"].status == "cancelled"


def test_ids_are_stable_and_unique(data):
    first = compute_deadlines(data, MARCH_2022)
    later = compute_deadlines(data, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert len({d.id for d in first}) == len(first)
    assert {d.id for d in first} == {d.id for d in later}
    # 37 States with a known group x 6 steps of cluster 1, plus every event and registration
    assert sum(d.kind == "milestone" for d in first) == 37 * 6


def test_no_milestones_are_invented_for_states_whose_group_is_unknown(data):
    assert milestone_deadlines(data, "FR", 1, dt.date(2022, 3, 1)) == []
    assert milestone_deadlines(data, "AT", 2, dt.date(2022, 3, 1)) == []


def test_upcoming_lists_open_deadlines_in_the_window_soonest_first(data):
    found = upcoming(compute_deadlines(data, MARCH_2022), MARCH_2022, 90)
    ids = [d.id for d in found]
    assert ids.index("r-cd-2022-firearms") < ids.index("r-cd-2022-som-tip")
    assert "r-cd-2022-som-tip" in ids
    assert "e-cd-2022-som-tip" not in ids  # 1 July is beyond 90 days
    assert all(d.status in {"due_soon", "upcoming"} for d in found)
    assert [d.sort_key for d in found] == sorted(d.sort_key for d in found)
    with_overdue = upcoming(
        compute_deadlines(data, MARCH_2022), MARCH_2022, 90, include_overdue=True
    )
    assert "m-at-c1-focal-points" in {d.id for d in with_overdue}


def test_a_filter_narrows_only_the_dimension_a_deadline_has(data):
    deadlines = compute_deadlines(data, MARCH_2022)
    austria = upcoming(deadlines, MARCH_2022, 90, Selection(countries={"AT"}))
    countries = {d.country for d in austria}
    assert countries == {"AT", None}  # events concern every country
    firearms = upcoming(
        deadlines, MARCH_2022, 90, Selection(themes={"firearms"}, kinds={"registration"})
    )
    assert [d.id for d in firearms] == ["r-cd-2022-firearms"]  # the SE4U ones are 'general'
    milestones = upcoming(deadlines, MARCH_2022, 90, Selection(kinds={"milestone"}, clusters={2}))
    assert milestones == []


def test_country_timeline_holds_only_that_country(data):
    found = country_timeline(compute_deadlines(data, MARCH_2022), "GB")
    assert {d.country for d in found} == {"GB"}
    assert found[0].due == dt.date(2020, 12, 15)


def test_now_must_be_aware(data):
    with pytest.raises(ValueError, match="aware"):
        compute_deadlines(data, dt.datetime(2022, 3, 1))


def test_an_event_known_to_the_month_spans_the_month_and_says_so(data):
    found = by_id(compute_deadlines(data, dt.datetime(2026, 9, 1, tzinfo=dt.UTC)))
    cop = found["e-cop-13"]
    assert (cop.due, cop.end, cop.precision, cop.confidence) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 31),
        "month",
        "reported",
    )
    assert found["e-cop-12"].precision == "day"


def late(milestone, reported_on, country="AT", cluster=1):
    return Delay(
        country=country,
        cluster=cluster,
        milestone=milestone,
        reported_on=reported_on,
        note="The focal point was not appointed.",
        source="https://example.org/ngo-report",
        confidence="reported",
    )


def test_as_of_december_2026_no_step_of_austria_is_overdue_without_a_source(data):
    found = milestone_deadlines(data, "AT", 1, dt.date(2026, 12, 1))
    assert {d.status for d in found} == {"no_news"}
    assert status_words(found[0]) == (
        "due 15 November 2021 (projected from the group's start), no news since"
    )
    assert "from the due date of self assessment" in status_words(found[4])


def test_only_a_source_saying_a_step_is_late_makes_it_overdue(data):
    reported = replace(
        data, delays={("AT", 1, "focal-points"): late("focal-points", dt.date(2022, 1, 10))}
    )
    before = by_id(milestone_deadlines(reported, "AT", 1, dt.date(2022, 1, 9)))
    assert before["m-at-c1-focal-points"].status == "no_news"  # not yet said
    after = by_id(milestone_deadlines(reported, "AT", 1, dt.date(2022, 1, 10)))
    step = after["m-at-c1-focal-points"]
    assert (step.status, step.reported_late) == ("overdue", "https://example.org/ngo-report")
    assert "late, as reported: https://example.org/ngo-report" in status_words(step)
    assert after["m-at-c1-consultations"].status == "no_news"


def test_a_reported_delay_does_not_outlive_a_recorded_completion(data):
    facts = replace(
        data.with_facts([recorded("focal-points", dt.date(2022, 2, 1))]),
        delays={("AT", 1, "focal-points"): late("focal-points", dt.date(2022, 1, 10))},
    )
    step = by_id(milestone_deadlines(facts, "AT", 1, dt.date(2022, 3, 1)))["m-at-c1-focal-points"]
    assert (step.status, step.reported_late) == ("done", None)


def test_include_overdue_also_lists_the_steps_with_no_news(data):
    deadlines = compute_deadlines(data, MARCH_2022)
    with_passed = upcoming(deadlines, MARCH_2022, 90, include_overdue=True)
    assert by_id(with_passed)["m-at-c1-focal-points"].status == "no_news"
    assert "m-at-c1-focal-points" not in by_id(upcoming(deadlines, MARCH_2022, 90))
