"""An expected occurrence in iCal: all-day, tentative, transparent, saying it is expected,
with its window and basis and no alarms, under the UID the announcement will keep."""

from __future__ import annotations

import datetime as dt

import icalendar
import vobject

from bot.text.i18n import Texts
from config.dataset_loader import load_dataset
from feeds.ical import CalendarBuilder, Words
from schedulers.expected import expected_deadlines

NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
WORDS = Words(gettext=lambda text: text, country_name=lambda code: code)


def test_an_expected_event_in_icalendar_vobject_is_tentative_transparent_and_says_so():
    (dialogue,) = [
        d for d in expected_deadlines(load_dataset(), NOW) if d.id == "e-cd-2027-firearms"
    ]
    body = CalendarBuilder("https://watch.example.org").build(
        [dialogue], {}, WORDS, name="x", language="en", alarms=(dt.timedelta(days=7),)
    )
    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["STATUS"]) == "TENTATIVE" and str(event["TRANSP"]) == "TRANSPARENT"
    assert event.decoded("DTSTART") == dialogue.due and not isinstance(
        event.decoded("DTSTART"), dt.datetime
    )
    assert str(event["SUMMARY"]).startswith("Expected: ")
    text = str(event["DESCRIPTION"])
    assert f"between {dialogue.earliest.isoformat()} and {dialogue.latest.isoformat()}" in text
    assert "not announced yet" in text and "held 6 May 2022" in text
    assert not event.walk("VALARM")  # no countdown to a guess
    assert str(event["UID"]) == "e-cd-2027-firearms@untoc-watch"
    parsed = vobject.readOne(body.decode())
    assert parsed.vevent.status.value == "TENTATIVE"


def test_the_expected_summary_is_translated():
    (dialogue,) = [
        d for d in expected_deadlines(load_dataset(), NOW) if d.id == "e-cd-2027-firearms"
    ]
    texts = Texts("fr")
    words = Words(gettext=texts, country_name=texts.country)
    body = CalendarBuilder("https://watch.example.org").build(
        [dialogue], {}, words, name="x", language="fr"
    )
    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Prévu : Dialogue constructif sur les armes à feu"
