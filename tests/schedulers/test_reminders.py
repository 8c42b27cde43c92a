"""The reminder planner: lead times at the reader's morning, quiet hours, last calls,
overdue notices, digests, late sends within grace, and no stale bursts."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from config.dataset import Delay
from config.dataset_loader import load_dataset
from schedulers.reminders import GRACE, Change, Planned, Preferences, plan
from schedulers.timeline import Selection, compute_deadlines, fingerprint

UTC = dt.UTC


@pytest.fixture(scope="module")
def data():
    return load_dataset()


def deadlines_at(data, now):
    return compute_deadlines(data, now)


def only(planned, deadline_id, kind="reminder"):
    return [p for p in planned if p.deadline_id == deadline_id and p.kind == kind]


def test_reminders_at_each_lead_time_at_the_readers_morning(data):
    prefs = Preferences(
        subscriber_id=1, timezone="Africa/Lagos", selection=Selection(kinds={"registration"})
    )
    moments: dict[str, Planned] = {}
    # walk the planner day by day, as the service does, and collect every reminder once
    now = dt.datetime(2022, 4, 1, 0, tzinfo=UTC)
    while now < dt.datetime(2022, 5, 9, tzinfo=UTC):
        for item in only(plan(deadlines_at(data, now), [prefs], now), "r-cd-2022-som-tip"):
            moments.setdefault(item.key, item)
        now += dt.timedelta(hours=12)
    by_lead = {p.lead_days: p.at for p in moments.values()}
    lagos = ZoneInfo("Africa/Lagos")
    # closes 8 May 24:00 Vienna = 8 May 23:00 in Lagos: lead days count from 8 May
    assert by_lead[30] == dt.datetime(2022, 4, 8, 9, tzinfo=lagos).astimezone(UTC)
    assert by_lead[7] == dt.datetime(2022, 5, 1, 9, tzinfo=lagos).astimezone(UTC)
    assert by_lead[0] == dt.datetime(2022, 5, 8, 9, tzinfo=lagos).astimezone(UTC)
    assert set(by_lead) == {30, 14, 7, 1, 0}
    assert not any(p.late for p in moments.values())


def test_quiet_hours_move_a_reminder_to_their_end(data):
    now = dt.datetime(2022, 4, 30, 12, tzinfo=UTC)
    prefs = Preferences(
        subscriber_id=1, morning_hour=6, quiet=(22, 8), selection=Selection(kinds={"registration"})
    )
    (item,) = [
        p
        for p in only(plan(deadlines_at(data, now), [prefs], now), "r-cd-2022-som-tip")
        if p.lead_days == 7
    ]
    assert item.at == dt.datetime(2022, 5, 1, 8, tzinfo=ZoneInfo("Europe/Vienna")).astimezone(UTC)


def test_a_timed_deadline_gets_a_last_call_hours_before_it_closes(data):
    now = dt.datetime(2022, 5, 8, 10, tzinfo=UTC)
    prefs = Preferences(subscriber_id=1, selection=Selection(kinds={"registration"}))
    (last,) = only(plan(deadlines_at(data, now), [prefs], now), "r-cd-2022-som-tip", "last_call")
    assert last.at == dt.datetime(2022, 5, 8, 16, tzinfo=UTC)  # 6 hours before 22:00Z


def test_planning_twice_gives_the_same_keys_and_a_moved_date_new_ones(data):
    now = dt.datetime(2022, 4, 30, 12, tzinfo=UTC)
    prefs = Preferences(subscriber_id=7)
    deadlines = deadlines_at(data, now)
    wide = dt.timedelta(days=60)
    first = plan(deadlines, [prefs], now, horizon=wide)
    assert [p.key for p in plan(deadlines, [prefs], now, horizon=wide)] == [p.key for p in first]
    som = next(d for d in deadlines if d.id == "r-cd-2022-som-tip")
    moved = replace(som, due=som.due + dt.timedelta(days=9), local=som.local + dt.timedelta(days=9))
    replanned = plan(
        [moved if d.id == som.id else d for d in deadlines], [prefs], now, horizon=wide
    )
    old_keys = {p.key for p in only(first, som.id)}
    new_keys = {p.key for p in only(replanned, som.id)}
    assert old_keys and new_keys and old_keys.isdisjoint(new_keys)
    assert all(fingerprint(moved) in key for key in new_keys)


def test_late_within_grace_is_sent_and_says_so_but_older_is_dropped(data):
    prefs = Preferences(subscriber_id=1, selection=Selection(kinds={"registration"}))
    planned_at = dt.datetime(2022, 5, 1, 9, tzinfo=ZoneInfo("Europe/Vienna")).astimezone(
        UTC
    )  # 7 days before
    soon_after = planned_at + dt.timedelta(hours=3)
    (late,) = [
        p
        for p in only(
            plan(deadlines_at(data, soon_after), [prefs], soon_after), "r-cd-2022-som-tip"
        )
        if p.lead_days == 7
    ]
    assert late.late and late.at == soon_after and late.payload["late"] is True
    much_later = planned_at + GRACE + dt.timedelta(minutes=1)
    leads = {
        p.lead_days
        for p in only(
            plan(deadlines_at(data, much_later), [prefs], much_later), "r-cd-2022-som-tip"
        )
    }
    assert 7 not in leads


def test_a_restart_after_a_long_outage_sends_no_burst(data):
    now = dt.datetime(2022, 5, 9, 12, tzinfo=UTC)  # after the 8 May deadline
    prefs = Preferences(subscriber_id=1)
    planned = plan(deadlines_at(data, now), [prefs], now)
    assert not only(planned, "r-cd-2022-som-tip") and not only(
        planned, "r-cd-2022-som-tip", "last_call"
    )
    assert all(p.at >= now - GRACE for p in planned)


def test_done_deadlines_are_not_reminded(data):
    now = dt.datetime(2022, 4, 30, 12, tzinfo=UTC)
    prefs = Preferences(subscriber_id=1, acknowledged=frozenset({"r-cd-2022-som-tip"}))
    assert not only(plan(deadlines_at(data, now), [prefs], now), "r-cd-2022-som-tip")


def test_overdue_notices_the_day_after_then_weekly_three_times(data):
    # only a step a source says is late is overdue (and noticed)
    reported = replace(
        data,
        delays={
            ("AT", 1, "self-assessment"): Delay(
                country="AT",
                cluster=1,
                milestone="self-assessment",
                reported_on=dt.date(2022, 4, 1),
                source="https://example.org/ngo-report",
                confidence="reported",
            )
        },
    )
    prefs = Preferences(subscriber_id=1, selection=Selection(countries={"AT"}, kinds={"milestone"}))
    seen: dict[str, Planned] = {}
    now = dt.datetime(2022, 5, 1, tzinfo=UTC)
    while now < dt.datetime(2022, 6, 15, tzinfo=UTC):
        for item in only(
            plan(deadlines_at(reported, now), [prefs], now), "m-at-c1-self-assessment", "overdue"
        ):
            seen.setdefault(item.key, item)
        now += dt.timedelta(hours=12)
    vienna = ZoneInfo("Europe/Vienna")
    assert sorted(p.at for p in seen.values()) == [
        dt.datetime(2022, 5, 2, 9, tzinfo=vienna).astimezone(UTC),
        dt.datetime(2022, 5, 9, 9, tzinfo=vienna).astimezone(UTC),
        dt.datetime(2022, 5, 16, 9, tzinfo=vienna).astimezone(UTC),
    ]


def test_a_step_with_no_news_gets_no_overdue_notice(data):
    prefs = Preferences(subscriber_id=1, selection=Selection(countries={"AT"}, kinds={"milestone"}))
    now = dt.datetime(2022, 5, 2, 12, tzinfo=UTC)
    assert not [p for p in plan(deadlines_at(data, now), [prefs], now) if p.kind == "overdue"]


def test_change_alerts_follow_recent_changes_to_followed_deadlines(data):
    now = dt.datetime(2022, 4, 30, 12, tzinfo=UTC)
    follows_tip = Preferences(subscriber_id=1, selection=Selection(themes={"tip"}))
    follows_firearms = Preferences(subscriber_id=2, selection=Selection(themes={"firearms"}))
    changes = [
        Change(
            "r-cd-2022-som-tip",
            1,
            now - dt.timedelta(hours=1),
            {"due": "2022-05-08T22:00:00+00:00"},
        ),
        Change("r-cd-2022-firearms", 2, now - dt.timedelta(days=10)),  # too old to announce
    ]
    planned = [
        p
        for p in plan(
            deadlines_at(data, now), [follows_tip, follows_firearms], now, changes=changes
        )
        if p.kind == "change"
    ]
    assert [(p.subscriber_id, p.deadline_id, p.key) for p in planned] == [
        (1, "r-cd-2022-som-tip", "s1|r-cd-2022-som-tip|change|1")
    ]


def test_digests_replace_reminders_at_the_chosen_hour(data):
    now = dt.datetime(2022, 4, 30, 12, tzinfo=UTC)
    prefs = Preferences(
        subscriber_id=3, digest="weekly", digest_weekday=0, digest_hour=8, timezone="America/Bogota"
    )
    planned = plan(deadlines_at(data, now), [prefs], now, horizon=dt.timedelta(days=3))
    assert not [p for p in planned if p.kind == "reminder"]
    (digest,) = [p for p in planned if p.kind == "digest"]
    assert digest.at == dt.datetime(2022, 5, 2, 8, tzinfo=ZoneInfo("America/Bogota")).astimezone(
        UTC
    )
    assert digest.key == "s3|digest|weekly|2022-05-02"


def test_reminders_across_the_dst_change_keep_the_local_hour(data):
    prefs = Preferences(
        subscriber_id=1, selection=Selection(kinds={"registration"}), lead_days=(14,)
    )
    seen: dict[str, Planned] = {}
    now = dt.datetime(2022, 3, 1, tzinfo=UTC)
    while now < dt.datetime(2022, 4, 30, tzinfo=UTC):
        for item in only(plan(deadlines_at(data, now), [prefs], now), "r-cd-2022-firearms") + only(
            plan(deadlines_at(data, now), [prefs], now), "r-cd-2022-som-tip"
        ):
            seen.setdefault(item.key, item)
        now += dt.timedelta(hours=12)
    hours = sorted(
        (p.deadline_id, p.at.astimezone(ZoneInfo("Europe/Vienna")).hour, p.at.hour)
        for p in seen.values()
    )
    # 3 March (winter, UTC+1) and 24 April (summer, UTC+2): 09:00 local both times
    assert hours == [("r-cd-2022-firearms", 9, 8), ("r-cd-2022-som-tip", 9, 7)]


def test_page_changes_go_to_subscribers_of_their_themes_once():
    from schedulers.reminders import PageChange, plan_page_changes

    now = dt.datetime(2022, 4, 30, 12, tzinfo=UTC)
    changes = [
        PageChange(
            5,
            "unodc-constructive-dialogues",
            "https://example.org/cd",
            "Added: CD on TIP, 10 July",
            now,
            frozenset({"tip", "som"}),
        ),
        PageChange(
            6, "old", "https://example.org/old", "old news", now - dt.timedelta(days=9), frozenset()
        ),
    ]
    tip = Preferences(subscriber_id=1, selection=Selection(themes={"tip"}))
    firearms = Preferences(subscriber_id=2, selection=Selection(themes={"firearms"}))
    everything = Preferences(subscriber_id=3)
    planned = plan_page_changes(changes, [tip, firearms, everything], now)
    assert [(p.subscriber_id, p.key) for p in planned] == [(1, "s1|page|5"), (3, "s3|page|5")]
    assert planned[0].payload["link"] == "https://example.org/cd"
    assert [p.key for p in plan_page_changes(changes, [tip], now)] == [
        "s1|page|5"
    ]  # same key again
