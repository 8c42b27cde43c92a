"""When the service asks whether a step happened: once, late enough, the latest step."""

from __future__ import annotations

import datetime as dt

from config.dataset_loader import load_dataset
from schedulers.questions import Asked, plan_questions, unrecorded_steps
from schedulers.reminders import Preferences
from schedulers.timeline import Selection, compute_deadlines

NOW = dt.datetime(2022, 6, 1, 9, tzinfo=dt.UTC)


def deadlines(now=NOW):
    return compute_deadlines(load_dataset(), now)


def follower(subscriber_id: int, *countries: str) -> Preferences:
    return Preferences(subscriber_id, Selection(countries=set(countries)))


def test_the_most_recent_step_past_a_week_is_asked_about():
    steps = unrecorded_steps(deadlines(), NOW.date())
    assert steps["AT"].id == "m-at-c1-self-assessment"  # 1 May 2022; the older ones are long gone
    assert "AT" not in unrecorded_steps(deadlines(), dt.date(2022, 5, 6))  # not a week yet


def test_only_followers_of_the_state_are_asked_and_never_twice():
    planned = plan_questions(deadlines(), [follower(1, "AT"), Preferences(2)], {}, NOW, NOW.date())
    assert [(p.subscriber_id, p.deadline_id, p.key) for p in planned] == [
        (1, "m-at-c1-self-assessment", "s1|question|m-at-c1-self-assessment")
    ]
    asked = {1: Asked(frozenset({"m-at-c1-self-assessment"}))}
    assert plan_questions(deadlines(), [follower(1, "AT")], asked, NOW, NOW.date()) == []


def test_an_open_question_about_the_state_holds_back_the_next():
    asked = {1: Asked(frozenset({"m-at-c1-consultations"}), frozenset({"AT"}))}
    assert plan_questions(deadlines(), [follower(1, "AT")], asked, NOW, NOW.date()) == []
