"""Projections as deadlines: one identity from the guess to the announcement."""

from __future__ import annotations

import datetime as dt

from config.dataset_loader import load_dataset
from schedulers.expected import expected_deadlines
from schedulers.timeline import compute_deadlines

NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
ANNOUNCED = """
events:
  - id: cd-2027-firearms
    kind: constructive-dialogue
    title: Constructive Dialogue on Firearms
    themes: [firearms]
    start: 2027-05-07
    place: Vienna (hybrid)
    registration: {deadline: 2027-02-19, time: midnight, zone: Europe/Vienna}
    source: UNODC call for participation
    confidence: confirmed
"""


def test_the_2027_dialogues_and_their_calls_are_expected_with_a_window_and_a_basis():
    expected = {d.id: d for d in expected_deadlines(load_dataset(), NOW)}
    for key in ("e-cd-2027-firearms", "r-cd-2027-firearms", "e-cd-2027-tip", "e-cd-2027-som"):
        deadline = expected[key]
        assert deadline.status == "expected" and deadline.confidence == "projected"
        assert deadline.earliest is not None and deadline.latest is not None
        assert deadline.earliest <= deadline.due <= deadline.latest
        assert deadline.basis
    assert expected["r-cd-2027-firearms"].kind == "registration"
    assert expected["e-cd-2027-firearms"].earliest.month in {3, 4}


def test_an_announcement_takes_the_projections_place_with_the_same_id(tmp_path):
    (tmp_path / "announced.yaml").write_text(ANNOUNCED)
    data = load_dataset(tmp_path)
    expected = {d.id for d in expected_deadlines(data, NOW)}
    announced = {d.id: d for d in compute_deadlines(data, NOW)}
    for key in ("e-cd-2027-firearms", "r-cd-2027-firearms"):
        assert key not in expected  # the guess is gone ...
        assert announced[key].status != "expected"  # ... and the real one has its id
    before = {d.id for d in expected_deadlines(load_dataset(), NOW)}
    assert {"e-cd-2027-firearms", "r-cd-2027-firearms"} <= before


def test_no_countdown_reminder_is_planned_for_a_guessed_day():
    from schedulers.reminders import Preferences, plan
    from schedulers.timeline import Selection

    expected = expected_deadlines(load_dataset(), NOW)
    everyone = Preferences(subscriber_id=1, selection=Selection(), lead_days=(30, 14, 7, 1))
    days = [NOW + dt.timedelta(days=n) for n in range(0, 400, 15)]
    planned = [p for day in days for p in plan(expected, [everyone], day)]
    assert all(p.kind == "heads_up" for p in planned)  # never a countdown to a guess
    last = days[-1].date() + dt.timedelta(days=1)
    calls = {d.id for d in expected if d.watch_from is not None and d.watch_from <= last}
    assert {p.deadline_id for p in planned} == calls  # one heads-up per call to watch for
