"""Projections of the mechanism's rhythm: windows, best guesses, and one identity to the announcement."""

from __future__ import annotations

import copy
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.dataset import Event, Registration
from config.dataset_loader import load_dataset
from schedulers.rhythm import project

VIENNA = ZoneInfo("Europe/Vienna")
DECEMBER_2026 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
EVENT_KINDS = {
    "cop": "cop",
    "working-group": "working-group",
    "constructive-dialogue": "constructive-dialogue",
    "preparation-day": "preparation-day",
}


@pytest.fixture(scope="module")
def data():
    return load_dataset()


def by_id(projections):
    return {p.id: p for p in projections}


def test_as_of_december_2026_the_2027_dialogues_and_their_calls_are_projected(data):
    found = by_id(project(data, DECEMBER_2026))
    firearms = found["e-cd-2027-firearms"]
    assert (firearms.event_id, firearms.series, firearms.kind, firearms.year) == (
        "cd-2027-firearms",
        "cd-firearms",
        "constructive-dialogue",
        2027,
    )
    assert firearms.confidence == "projected"
    # late April or early May, a working day
    assert dt.date(2027, 4, 20) <= firearms.best <= dt.date(2027, 5, 10)
    assert firearms.best.weekday() < 5
    assert firearms.window == (dt.date(2027, 3, 29), dt.date(2027, 5, 14))
    assert firearms.basis.startswith("held 6 May 2022, 5 May 2023, 5 April 2024, 30 April 2025")
    assert firearms.held == (
        dt.date(2022, 5, 6),
        dt.date(2023, 5, 5),
        dt.date(2024, 4, 5),
        dt.date(2025, 4, 30),
    )
    assert "not yet announced" in firearms.describe()
    # 2027 has no COP session (COP 13 is in 2026): TIP and SOM are in October
    for theme in ("tip", "som"):
        dialogue = found[f"e-cd-2027-{theme}"]
        assert dialogue.best.month == 10
        assert dialogue.earliest >= dt.date(2027, 9, 1)
        assert "years without a COP session" in dialogue.basis
    assert found["e-cd-2027-tip"].best < found["e-cd-2027-som"].best
    assert (found["e-cd-2027-som"].best - found["e-cd-2027-tip"].best).days <= 14
    # each dialogue's application window, before it, closing at midnight Vienna time
    for theme in ("firearms", "cooperation-technical-assistance", "tip", "som"):
        call = found[f"r-cd-2027-{theme}"]
        dialogue = found[f"e-cd-2027-{theme}"]
        assert (call.kind, call.event_id, call.anchor) == (
            "application-call",
            f"cd-2027-{theme}",
            f"cd-2027-{theme}",
        )
        assert call.earliest <= call.best <= call.latest < dialogue.latest
        assert dt.timedelta(weeks=7) <= dialogue.best - call.best <= dt.timedelta(weeks=15)
        assert call.watch_from is not None and call.watch_from <= call.earliest
        assert call.zone == "Europe/Vienna"
        assert "midnight Vienna time" in call.basis
    firearms_call = found["r-cd-2027-firearms"]
    assert firearms_call.best.month in (2, 3)  # "applications usually close in February"
    assert "17 March 2022 for 6 May 2022, 12 February 2023 for 5 May 2023" in firearms_call.basis
    # the Working Group ends the working day before its dialogue; the preparation day too
    wg = found["e-wg-2027-firearms"]
    prep = found["e-prep-2027-firearms"]
    assert wg.best_end < firearms.best and prep.best < firearms.best
    assert prep.best == wg.best_end
    assert wg.anchor == "cd-2027-firearms"


def test_the_next_cop_is_cop_14_in_october_2028_and_cop_13_is_not_projected(data):
    found = by_id(project(data, DECEMBER_2026))
    cop = found["e-cop-14"]
    assert (cop.event_id, cop.year, cop.kind) == ("cop-14", 2028, "cop")
    assert cop.earliest.month == cop.latest.month == 10
    assert cop.best.weekday() == 0 and cop.best_end - cop.best == dt.timedelta(days=4)
    assert "e-cop-13" not in found  # reported for October 2026: announced, if only to the month
    in_2028 = {p.id for p in found.values() if p.year == 2028}
    assert {"e-cd-2028-tip", "e-cd-2028-som", "e-cd-2028-firearms"} <= in_2028
    assert found["e-cd-2028-tip"].best.month in (6, 7)  # a COP year


def test_projections_reach_at_least_18_months_ahead(data):
    found = project(data, DECEMBER_2026)
    assert max(p.earliest for p in found) >= dt.date(2028, 6, 1)
    assert all(p.year >= 2027 for p in found)  # nothing before today survives in 2026


def test_an_announced_dialogue_replaces_its_projection_and_anchors_the_rest(data):
    announced = Event(
        id="cd-2027-firearms",
        kind="constructive-dialogue",
        title="Constructive Dialogue on Firearms",
        themes=["firearms"],
        start=dt.date(2027, 4, 23),
        source="https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html",
        confidence="confirmed",
    )
    found = by_id(project(data.with_facts(events=[announced]), DECEMBER_2026))
    assert "e-cd-2027-firearms" not in found
    wg = found["e-wg-2027-firearms"]
    assert (wg.best, wg.best_end) == (dt.date(2027, 4, 21), dt.date(2027, 4, 22))
    assert "announced for 23 April 2027" in wg.basis
    call = found["r-cd-2027-firearms"]  # no registration announced yet: still projected
    assert call.latest == dt.date(2027, 4, 23) - dt.timedelta(weeks=7)
    with_call = announced.model_copy(
        update={"registration": Registration(deadline=dt.date(2027, 2, 14))}
    )
    assert "r-cd-2027-firearms" not in by_id(
        project(data.with_facts(events=[with_call]), DECEMBER_2026)
    )


def test_an_event_names_its_series_by_the_series_field(data):
    named = Event(
        id="wg-2027-firearms-13th-session",
        kind="working-group",
        title="Working Group on Firearms",
        themes=["firearms", "general"],
        start=dt.date(2027, 4, 28),
        series=["wg-firearms"],
        source="s",
        confidence="reported",
    )
    found = by_id(project(data.with_facts(events=[named]), DECEMBER_2026))
    assert "e-wg-2027-firearms" not in found
    assert "e-wg-2028-firearms" in found


def test_a_window_that_has_begun_is_cut_to_today(data):
    now = dt.datetime(2027, 4, 20, 12, tzinfo=dt.UTC)
    found = by_id(project(data, now))
    firearms = found["e-cd-2027-firearms"]
    assert firearms.earliest == dt.date(2027, 4, 20)
    assert firearms.best >= dt.date(2027, 4, 20)
    later = by_id(project(data, dt.datetime(2027, 5, 20, tzinfo=dt.UTC)))
    assert "e-cd-2027-firearms" not in later  # the window is over: no claim about the past


def test_now_must_be_aware(data):
    with pytest.raises(ValueError, match="aware"):
        project(data, dt.datetime(2026, 12, 1))


moments = st.datetimes(
    min_value=dt.datetime(2023, 1, 1),
    max_value=dt.datetime(2034, 12, 31),
    timezones=st.just(dt.UTC),
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(now=moments)
def test_projections_depend_only_on_the_dataset_and_now(data, now):
    first = project(data, now)
    assert project(copy.deepcopy(data), now) == first
    assert project(data, now.astimezone(VIENNA)) == first


@FAST
@given(now=moments)
def test_projections_stay_inside_their_window_and_never_before_now(data, now):
    today = now.astimezone(VIENNA).date()
    found = project(data, now)
    assert found, "the rhythm always says something about the year ahead"
    assert len({p.id for p in found}) == len(found)
    for p in found:
        assert today <= p.earliest <= p.best <= p.best_end <= p.latest, p
        assert p.confidence == "projected"
        assert p.basis
        if p.watch_from is not None:
            assert today <= p.watch_from <= p.earliest


def _announcement(data, projection, use_series_field: bool) -> Event:
    if projection.kind == "application-call":
        existing = data.events.get(projection.anchor)
        dialogue = existing or Event(
            id=projection.anchor,
            kind="constructive-dialogue",
            title=projection.title,
            themes=list(projection.themes),
            start=projection.best + dt.timedelta(weeks=10),
            source="test",
            confidence="reported",
        )
        return dialogue.model_copy(update={"registration": Registration(deadline=projection.best)})
    return Event(
        id=f"announced-{projection.event_id}" if use_series_field else projection.event_id,
        kind=EVENT_KINDS[projection.kind],
        title=projection.title,
        themes=["general"] if use_series_field else list(projection.themes),
        start=projection.best,
        series=[projection.series] if use_series_field else [],
        source="test",
        confidence="reported",
    )


@FAST
@given(now=moments, pick=st.integers(min_value=0), use_series_field=st.booleans())
def test_a_projection_vanishes_once_its_occurrence_is_announced(data, now, pick, use_series_field):
    found = project(data, now)
    projection = found[pick % len(found)]
    event = _announcement(data, projection, use_series_field)
    after = project(data.with_facts(events=[event]), now)
    assert projection.id not in {p.id for p in after}
    if not use_series_field:  # the same identity the announced event has in the timeline
        assert projection.id in {f"e-{event.id}", f"r-{event.id}"}
