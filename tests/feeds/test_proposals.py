"""Findings against known events: new events, moved dates and deadlines, nothing twice."""

from __future__ import annotations

import datetime as dt

from config.dataset import Event
from config.dataset_loader import load_dataset
from feeds.extract import extract_findings
from feeds.proposals import draft_proposals, event_id, is_past, match_known

URL = "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html"
REFERENCE = dt.date(2022, 2, 1)


def known() -> dict[str, Event]:
    return load_dataset().events


def drafts_for(*lines: str, events: dict[str, Event] | None = None):
    findings = extract_findings(list(lines), REFERENCE)
    return draft_proposals(findings, known() if events is None else events, url=URL, source_id="cd")


def test_what_the_dataset_already_says_proposes_nothing():
    assert (
        drafts_for(
            "Constructive Dialogue on Firearms: 6 May 2022. Register here until 17 March 2022 midnight Vienna time."
        )
        == []
    )


def test_a_moved_registration_deadline_is_a_change_of_the_known_event():
    (draft,) = drafts_for(
        "Constructive Dialogues on Smuggling of Migrants and Trafficking in Persons: 1 July 2022. "
        "Register here until 17 May 2022 midnight Vienna time."
    )
    assert draft.kind == "change" and draft.target_id == "cd-2022-som-tip"
    assert draft.summary.endswith("registration deadline moved from 8 May 2022 to 17 May 2022")
    event = Event.model_validate(draft.payload())
    assert event.id == "cd-2022-som-tip"
    assert event.registration is not None and event.registration.deadline == dt.date(2022, 5, 17)
    assert (event.source, event.confidence) == (URL, "reported")
    assert event.title == known()["cd-2022-som-tip"].title  # the rest of the event is kept


def test_a_moved_dialogue_is_matched_by_its_kind_theme_and_year():
    (draft,) = drafts_for("Constructive Dialogue on Firearms: 13 May 2022.")
    assert (draft.kind, draft.target_id) == ("change", "cd-2022-firearms")
    assert "date moved from 6 May 2022 to 13 May 2022" in draft.summary
    assert draft.event.registration == known()["cd-2022-firearms"].registration


def test_a_new_dialogue_is_a_new_event_with_an_id_in_the_dataset_style():
    (draft,) = drafts_for(
        "Constructive Dialogue on Firearms: 5 April 2027. Register by 12 February 2027, 23:59 CET."
    )
    assert (draft.kind, draft.target_id, draft.event.id) == ("event", None, "cd-2027-firearms")
    assert draft.event.registration is not None and draft.event.registration.time == "23:59"
    assert draft.summary.startswith("New: Constructive Dialogue on Firearms, 5 April 2027")
    assert 0 < draft.certainty <= 100


def test_a_deadline_for_a_known_event_without_one_proposes_its_registration():
    events = known()
    cop = events["cop-11"]
    assert cop.registration is None
    (draft,) = drafts_for(
        "Conference of the Parties (COP 11): 17 - 21 October 2022. Registration closes on 30 September 2022.",
        events=events,
    )
    assert (draft.kind, draft.target_id) == ("registration", "cop-11")
    assert (
        "registration deadline added: 30 September 2022, midnight (Europe/Vienna)" in draft.summary
    )


def test_a_deadline_alone_finds_the_one_event_it_can_belong_to():
    (draft,) = drafts_for(
        "Registration for the dialogues on smuggling of migrants and trafficking in persons is open until 17 May 2022."
    )
    assert (draft.kind, draft.target_id) == ("change", "cd-2022-som-tip")


def test_the_same_finding_always_has_the_same_key():
    line = "Constructive Dialogue on Firearms: 5 April 2027. Register by 12 February 2027."
    (first,) = drafts_for(line)
    (again,) = drafts_for(line.replace("Register", "Please register"))
    assert first.key == again.key
    (other,) = drafts_for(line.replace("12 February", "19 February"))
    assert other.key != first.key


def test_two_pages_saying_the_same_make_one_proposal():
    line = "Constructive Dialogue on Firearms: 5 April 2027."
    findings = extract_findings([line, line], REFERENCE)
    assert len(draft_proposals(findings, known(), url=URL, source_id=None)) == 1


def test_a_cancellation_is_a_change_of_status():
    (draft,) = drafts_for("The Constructive Dialogue on Firearms of 6 May 2022 is cancelled.")
    assert draft.event.status == "cancelled" and draft.summary.endswith("cancelled")


def test_uncertain_findings_are_not_proposed():
    assert drafts_for("New developments may affect the 2 June 2022 dialogues.", events={}) == []


def test_past_findings_are_recognised():
    (finding,) = extract_findings(["Constructive Dialogue on Firearms: 6 May 2022."], REFERENCE)
    assert not is_past(finding, dt.datetime(2022, 5, 6, 21, 59, tzinfo=dt.UTC))
    assert is_past(finding, dt.datetime(2022, 5, 6, 22, 0, tzinfo=dt.UTC))


def test_ids_follow_the_dataset():
    (cop,) = extract_findings(["COP 19 will take place from 14 to 18 October 2027."], REFERENCE)
    (training,) = extract_findings(["SE4U online workshop: 4 April to 6 April 2022"], REFERENCE)
    assert event_id(cop) == "cop-19"
    assert event_id(training) == "training-2022-04-04-se4u-online-workshop"
    assert match_known(cop, known()) is None


def test_a_calendar_link_that_is_not_http_is_dropped_for_the_page_it_was_read_on():
    import dataclasses

    (finding,) = extract_findings(
        ["Constructive Dialogue on Firearms: 5 May 2027"], dt.date(2027, 1, 1)
    )
    for link in ("javascript:alert(1)", "data:text/html,<script>x</script>"):
        hostile = dataclasses.replace(finding, url=link)
        (draft,) = draft_proposals([hostile], known(), url="https://example.org/cd", source_id="cd")
        assert draft.url == "https://example.org/cd"
        assert draft.event.url == "https://example.org/cd"
