"""From a guess to an announcement: the same calendar UID with a higher SEQUENCE, and
one "announced" alert for each subscriber, carrying the real dates and the registration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import icalendar

from bot.db.models import Delivery
from bot.delivery.alerts import rebuild_alert
from bot.filters.query import Query
from bot.publishing.publisher import Publisher
from bot.text.i18n import Texts
from bot.text.wording import word
from config.dataset_loader import load_dataset
from schedulers.expected import identities
from schedulers.reminders import Preferences, plan
from schedulers.timeline import Selection

NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 1, 20, 10, tzinfo=dt.UTC)
UID = "e-cd-2027-firearms@untoc-watch"
# The operator's file names the series and lets the year say which occurrence it is; the
# event's own id is not the one the projection had.
ANNOUNCEMENT = """
events:
  - id: firearms-dialogue-vienna
    kind: constructive-dialogue
    series: [cd-firearms]
    title: Constructive Dialogue on Firearms
    themes: [firearms]
    start: 2027-05-07
    place: Vienna (hybrid)
    registration: {deadline: 2027-02-19, time: midnight, zone: Europe/Vienna}
    source: UNODC call for participation
    confidence: confirmed
"""


def _event(feed: bytes, uid: str) -> icalendar.cal.Component:
    calendar = icalendar.Calendar.from_ical(feed)
    found = [e for e in calendar.walk("VEVENT") if str(e["UID"]).startswith(uid.split("@")[0])]
    assert len(found) == 1, [str(e["UID"]) for e in calendar.walk("VEVENT")]
    return found[0]


async def test_an_announcement_keeps_the_uid_raises_sequence_and_is_told_once(
    store, tmp_path: Path
):
    guessing = Publisher(load_dataset(), store, "https://watch.example.org", clock=lambda: NOW)
    before = _event((await guessing.feed(Query())).body, UID)
    assert str(before["STATUS"]) == "TENTATIVE"
    assert int(str(before.get("SEQUENCE", 0))) == 0
    assert [c for c in guessing.changes() if c.deadline_id == "e-cd-2027-firearms"] == []

    (tmp_path / "announced.yaml").write_text(ANNOUNCEMENT, encoding="utf-8")
    data = load_dataset(tmp_path)
    assert identities(data) == {"firearms-dialogue-vienna": "cd-2027-firearms"}
    knowing = Publisher(data, store, "https://watch.example.org", clock=lambda: LATER)
    after = _event((await knowing.feed(Query())).body, UID)
    assert str(after["UID"]) == str(before["UID"])
    assert int(str(after["SEQUENCE"])) > int(str(before.get("SEQUENCE", 0)))
    assert str(after.get("STATUS", "CONFIRMED")) != "TENTATIVE"
    assert after["DTSTART"].dt == dt.date(2027, 5, 7)

    deadlines = await knowing.deadlines()
    by_id = {d.id: d for d in deadlines}
    assert "e-firearms-dialogue-vienna" not in by_id  # one identity, the projection's
    readers = [
        Preferences(subscriber_id=1, selection=Selection(themes={"firearms"})),
        Preferences(subscriber_id=2, selection=Selection()),
        Preferences(subscriber_id=3, selection=Selection(themes={"tip"})),  # not theirs
    ]
    planned = plan(deadlines, readers, LATER, changes=knowing.changes())
    announced = [p for p in planned if p.kind == "announced"]
    assert sorted((p.subscriber_id, p.deadline_id) for p in announced) == [
        (1, "e-cd-2027-firearms"),
        (2, "e-cd-2027-firearms"),
    ]
    assert not [p for p in planned if p.kind == "change" and "2027-firearms" in str(p.deadline_id)]
    again = plan(deadlines, readers, LATER + dt.timedelta(hours=1), changes=knowing.changes())
    assert {p.key for p in again if p.kind == "announced"} == {p.key for p in announced}

    row = Delivery(
        key=announced[0].key,
        kind="announced",
        deadline_id=announced[0].deadline_id,
        payload=dict(announced[0].payload),
    )
    alert = rebuild_alert(row, readers[0].selection, set(), by_id, LATER)
    assert alert is not None and alert.related is not None
    for language, announced_word, registration in (
        ("en", "Announced", "Registration closes"),
        ("fr", "Annoncé", "Les inscriptions sont closes le"),
        ("ar", "أُعلن", "يُغلق التسجيل في"),
    ):
        texts = Texts(language)
        wording = word(alert, texts, "Europe/Vienna", LATER)
        assert announced_word in wording.headline, wording
        closes = f"{registration} {texts.date(dt.date(2027, 2, 19))}"
        assert closes in (wording.note or ""), wording
        assert Texts(language).date(dt.date(2027, 5, 7)) in (wording.when or ""), wording


async def test_the_heads_up_goes_once_when_the_call_is_to_be_watched_for_and_stops_after(
    store, tmp_path: Path
):
    guessing = Publisher(load_dataset(), store, "https://watch.example.org", clock=lambda: NOW)
    deadlines = await guessing.deadlines()
    reader = Preferences(subscriber_id=7, selection=Selection(themes={"firearms"}))
    planned = [p for p in plan(deadlines, [reader], NOW) if p.kind == "heads_up"]
    assert [p.deadline_id for p in planned] == ["r-cd-2027-firearms"]
    by_id = {d.id: d for d in deadlines}
    row = Delivery(key=planned[0].key, kind="heads_up", deadline_id="r-cd-2027-firearms")
    alert = rebuild_alert(row, reader.selection, set(), by_id, NOW)
    assert alert is not None
    wording = word(alert, Texts("en"), "Europe/Vienna", NOW)
    assert wording.headline == "Watch for the call: Constructive Dialogue on Firearms"
    assert "Not announced yet" in (wording.note or "") and "watching" in (wording.note or "")

    (tmp_path / "announced.yaml").write_text(ANNOUNCEMENT, encoding="utf-8")
    knowing = Publisher(
        load_dataset(tmp_path), store, "https://watch.example.org", clock=lambda: NOW
    )
    now_known = {d.id: d for d in await knowing.deadlines()}
    assert rebuild_alert(row, reader.selection, set(), now_known, NOW) is None  # not sent now
    assert not [
        p
        for p in plan(list(now_known.values()), [reader], NOW)
        if p.kind == "heads_up" and p.deadline_id == "r-cd-2027-firearms"
    ]
