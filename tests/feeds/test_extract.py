"""Extraction on real-world phrasings: each with the events and deadline instants expected.

Every phrasing is written the way UNODC, GI-TOC and NGO pages write them (DOMAIN.md
sections 3 to 5). A finding is reduced to facts: "event <start>[..<end>]" (dates, or UTC
instants when the page gives hours) and "deadline <UTC instant>". The table's precision
and recall are printed with the test output; a case marked `hard` only counts in them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from feeds.extract import Finding, extract_findings


@dataclass(frozen=True)
class Case:
    text: str
    expected: frozenset[str]
    reference: dt.date = dt.date(2022, 2, 1)
    hard: bool = False


def case(text: str, *expected: str, reference: str = "2022-02-01", hard: bool = False) -> Case:
    return Case(text, frozenset(expected), dt.date.fromisoformat(reference), hard)


CASES = [
    # The UNODC "Key dates and deadlines" bullets (seed 004), winter and summer time.
    case(
        "Constructive Dialogue on Firearms: 6 May 2022. Register here until 17 March 2022 midnight Vienna time.",
        "event 2022-05-06",
        "deadline 2022-03-17T23:00Z",
    ),
    case(
        "Constructive Dialogue on International Cooperation and Technical Assistance: 27 May 2022. Register here until 17 March 2022 midnight Vienna time.",
        "event 2022-05-27",
        "deadline 2022-03-17T23:00Z",
    ),
    case(
        "Constructive Dialogues on Smuggling of Migrants and Trafficking in Persons: 1 July 2022. Register here until 8 May 2022 midnight Vienna time.",
        "event 2022-07-01",
        "deadline 2022-05-08T22:00Z",
    ),
    case("Register here until 8 May 2022 midnight Vienna time", "deadline 2022-05-08T22:00Z"),
    case(
        "UNODC SE4U self-paced course (Arabic, French, Spanish; about 18 hours): 15 March 2022-30 April 2022. Please register by 6 March 2022.",
        "event 2022-03-15..2022-04-30",
        "deadline 2022-03-06T23:00Z",
    ),
    case(
        "SE4U online workshop (English, Arabic, French, Spanish): 4 April to 6 April 2022",
        "event 2022-04-04..2022-04-06",
    ),
    case(
        "Conference of the Parties, eleventh session: 17 - 21 October 2022, Vienna",
        "event 2022-10-17..2022-10-21",
    ),
    case(
        "COP 12 will take place in Vienna from 14 to 18 October 2024.",
        "event 2024-10-14..2024-10-18",
    ),
    case(
        "Constructive Dialogue on Firearms, 5 May 2023. Deadline for applications: 12 February 2023.",
        "event 2023-05-05",
        "deadline 2023-02-12T23:00Z",
    ),
    case(
        "Constructive dialogue on technical assistance \u2013 31 May 2023 (applications by 12 February 2023)",
        "event 2023-05-31",
        "deadline 2023-02-12T23:00Z",
    ),
    case(
        "Constructive Dialogue on Trafficking in Persons: Wednesday, 4 October 2023",
        "event 2023-10-04",
    ),
    case(
        "Constructive Dialogue on Smuggling of Migrants: Monday 9 October 2023", "event 2023-10-09"
    ),
    case(
        "Constructive Dialogue on Smuggling of Migrants, 15 July 2024, 10:00-13:00 and 15:00-18:00 (CEST, Vienna time)",
        "event 2024-07-15T08:00Z..2024-07-15T16:00Z",
    ),
    case("Multistakeholder Preparation Day: 29 April 2025", "event 2025-04-29"),
    case(
        "Constructive Dialogue on Firearms: 30 April 2025 (preceded by a preparation day on 29 April 2025)",
        "event 2025-04-30",
        "event 2025-04-29",
    ),
    case("Constructive Dialogue on Trafficking in Persons, 8 October 2025", "event 2025-10-08"),
    # Times with zones, and the two daylight-saving changes in Vienna.
    case(
        "Applications must be received by 11:55 p.m. CET on 17 March 2022.",
        "deadline 2022-03-17T22:55Z",
    ),
    case(
        "Registration closes at 11:55 p.m. CET on Sunday, 27 March 2022.",
        "deadline 2022-03-27T21:55Z",
    ),
    case(
        "Register by 02:30 (Vienna time) on 27 March 2022",
        "deadline 2022-03-27T01:30Z",
    ),
    case(
        "Registration deadline: 30 October 2022, 02:30 Vienna time",
        "deadline 2022-10-30T00:30Z",
    ),
    case("register by 6 March 2022", "deadline 2022-03-06T23:00Z"),
    case(
        "Registration is open until March 17, 2022 at 23:59 CET",
        "deadline 2022-03-17T22:59Z",
    ),
    case(
        "Deadline: Friday, April 8, 2022, 5 p.m. New York time",
        "deadline 2022-04-08T21:00Z",
    ),
    case("Register by 12 noon GMT on 1 December 2022", "deadline 2022-12-01T12:00Z"),
    case(
        "Applications close on 15 June 2022 at 17:00 (UTC+2)",
        "deadline 2022-06-15T15:00Z",
    ),
    case(
        "Deadline: 15 January 2023, 11:59 p.m. EST",
        "deadline 2023-01-16T04:59Z",
    ),
    case(
        "Register here until 17 March 2022, 11:55 p.m. (Vienna time)",
        "deadline 2022-03-17T22:55Z",
    ),
    case(
        "Register before 30 September 2024 (23:59 CEST)",
        "deadline 2024-09-30T21:59Z",
    ),
    case(
        "Submit your application no later than 1 September 2022, 12:00 Geneva time",
        "deadline 2022-09-01T10:00Z",
    ),
    case(
        "Registration closes on Friday 6 May at 17:00 CEST.",
        "deadline 2022-05-06T15:00Z",
    ),
    case(
        "The webinar on 12 September 2022 starts at 2 p.m. CEST",
        "event 2022-09-12T12:00Z",
    ),
    # Years left out, month-day order, ranges written every way.
    case(
        "Constructive Dialogue on Firearms: 5 April. Register by 12 February.",
        "event 2024-04-05",
        "deadline 2024-02-12T23:00Z",
        reference="2024-01-10",
    ),
    case("Register by 15 January", "deadline 2023-01-15T23:00Z", reference="2022-11-20"),
    case("UNODC course, 15 March - 30 April 2022", "event 2022-03-15..2022-04-30"),
    case(
        "Working Group on Trafficking in Persons, 23 to 27 May 2022",
        "event 2022-05-23..2022-05-27",
    ),
    case(
        "Working Group on Smuggling of Migrants: May 23-27, 2022",
        "event 2022-05-23..2022-05-27",
    ),
    case("The workshop runs May 23 to June 2, 2022", "event 2022-05-23..2022-06-02"),
    case("Working Group on Firearms, 6th May 2022", "event 2022-05-06"),
    case("COP 10 (12-16 October 2020) launched the reviews.", "event 2020-10-12..2020-10-16"),
    case(
        "Constructive Dialogue on Firearms: Thursday, 6 May 2022",
        "event 2022-05-06",
    ),
    case(
        "Constructive Dialogue on Firearms | 2024-04-05 | registration deadline 2024-02-12",
        "event 2024-04-05",
        "deadline 2024-02-12T23:00Z",
    ),
    case(
        "Constructive Dialogue on Trafficking in Persons | 10 July 2024 | Register by 2 May 2024, 23:59 CEST",
        "event 2024-07-10",
        "deadline 2024-05-02T21:59Z",
    ),
    case("Deadline for nominations: 17.03.2022", "deadline 2022-03-17T23:00Z"),
    case(
        "New developments may affect the 27 May and 1 July 2022 dialogues; stay tuned until further notice.",
        "event 2022-05-27",
        "event 2022-07-01",
    ),
    # French and Spanish date words.
    case(
        "Dialogue constructif sur les armes \u00e0 feu : le vendredi 5 avril 2024. Inscriptions jusqu'au 12 f\u00e9vrier 2024 \u00e0 minuit (heure de Vienne).",
        "event 2024-04-05",
        "deadline 2024-02-12T23:00Z",
    ),
    case("Atelier en ligne du 4 au 6 avril 2022", "event 2022-04-04..2022-04-06"),
    case(
        "Date limite d'inscription : 17 mars 2022 \u00e0 23 h 59 (heure de Vienne)",
        "deadline 2022-03-17T22:59Z",
    ),
    case(
        "Di\u00e1logo constructivo sobre la trata de personas: 10 de julio de 2024. Fecha l\u00edmite de inscripci\u00f3n: 2 de mayo de 2024.",
        "event 2024-07-10",
        "deadline 2024-05-02T22:00Z",
    ),
    case("Taller en l\u00ednea del 4 al 6 de abril de 2022", "event 2022-04-04..2022-04-06"),
    case(
        "Inscripciones hasta el 8 de mayo de 2022 a medianoche, hora de Viena",
        "deadline 2022-05-08T22:00Z",
    ),
    # Sentences in running text, moved and extended dates.
    case(
        "The 2024 constructive dialogue on firearms will be held on 5 April 2024 in Vienna; civil society organizations wishing to participate should register by 15 February 2024.",
        "event 2024-04-05",
        "deadline 2024-02-15T23:00Z",
    ),
    case(
        "Thematic session on firearms, 10\u201312 June 2024 (UNODC, Vienna International Centre)",
        "event 2024-06-10..2024-06-12",
    ),
    case(
        "Le dialogue constructif sur la traite des personnes aura lieu le 10 juillet 2024.",
        "event 2024-07-10",
    ),
    case(
        "El di\u00e1logo constructivo sobre tr\u00e1fico il\u00edcito de migrantes se celebrar\u00e1 el 15 de julio de 2024 de 10:00 a 13:00 (hora de Viena).",
        "event 2024-07-15T08:00Z..2024-07-15T11:00Z",
    ),
    case("Deadline extended to 17 May 2022!", "deadline 2022-05-17T22:00Z"),
    case("Online registration will remain open through 8 May 2022.", "deadline 2022-05-08T22:00Z"),
    case(
        "The application period closes 12 February 2023 at midnight CET.",
        "deadline 2023-02-12T23:00Z",
    ),
    case(
        "The Constructive Dialogue on Firearms has been postponed to 13 May 2022.",
        "event 2022-05-13",
    ),
    case(
        "Call for participation: NGOs may apply until 17 March 2022 to attend the dialogues of 6 May and 27 May 2022.",
        "deadline 2022-03-17T23:00Z",
        "event 2022-05-06",
        "event 2022-05-27",
    ),
    case(
        "Expressions of interest should be sent to unodc-ngo@un.org by 30 April 2024.",
        "deadline 2024-04-30T22:00Z",
    ),
    case(
        "Sesi\u00f3n informativa para la sociedad civil: jueves 2 de mayo de 2024, 15:00 CEST",
        "event 2024-05-02T13:00Z",
    ),
    case(
        "R\u00e9union d'information : mardi 14 mai 2024 \u00e0 14 h (heure de Vienne)",
        "event 2024-05-14T12:00Z",
    ),
    case(
        "Working Group on Trafficking in Persons, 8-9 July 2024, and Constructive Dialogue on 10 July 2024",
        "event 2024-07-08..2024-07-09",
        "event 2024-07-10",
    ),
    # Known gaps, counted in the figure only: a registration window with no deadline
    # word, and a meridiem written once for two times.
    case("Registration: 1 February \u2013 15 March 2024", "deadline 2024-03-15T23:00Z", hard=True),
    case(
        "Join our webinar on Tuesday 14 June 2022 from 2 to 3.30 p.m. CEST",
        "event 2022-06-14T12:00Z..2022-06-14T13:30Z",
        hard=True,
    ),
    # Text with numbers and dates that are not events or deadlines.
    case("Posted on 12 January 2024 by the Civil Society Unit"),
    case("Copyright 2024 United Nations. All rights reserved."),
    case("Article 5 may apply to all 193 States parties; see resolution 9/1."),
    case("Reviews run from December 2020 to December 2030 in four clusters."),
    case("Last updated: 3 March 2022"),
    case("Stay tuned until further notice."),
    case("Group 2 reviews started on 1 November 2021 for 63 countries."),
    case("Paragraph 53 of the procedures allows 2 to 3 speakers per organization."),
]


def _z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def facts(finding: Finding) -> set[str]:
    """The checkable facts of a finding: its dates or instants, its deadline's instant."""
    found = set()
    if finding.start is not None:
        if finding.starts_at is not None:
            begin = _z(finding.starts_at)
            end = _z(finding.ends_at) if finding.ends_at is not None else None
        else:
            begin = finding.start.isoformat()
            end = finding.end.isoformat() if finding.end is not None else None
        found.add(f"event {begin}" + (f"..{end}" if end else ""))
    if finding.closing is not None:
        found.add(f"deadline {_z(finding.closing.instant)}")
    return found


def extracted(item: Case) -> set[str]:
    return {fact for f in extract_findings([item.text], item.reference) for fact in facts(f)}


def test_the_table_holds_at_least_forty_phrasings():
    assert len([c for c in CASES if c.expected]) >= 40


@pytest.mark.parametrize("item", [c for c in CASES if not c.hard], ids=lambda c: c.text[:60])
def test_each_phrasing_gives_the_expected_instants(item: Case):
    assert extracted(item) == set(item.expected)


def test_precision_and_recall_over_the_table(capsys):
    true_positives = false_positives = false_negatives = 0
    for item in CASES:
        found = extracted(item)
        true_positives += len(found & item.expected)
        false_positives += len(found - item.expected)
        false_negatives += len(item.expected - found)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / (true_positives + false_negatives)
    with capsys.disabled():
        print(
            f"\nextraction over {len(CASES)} phrasings: precision {precision:.3f}, "
            f"recall {recall:.3f} ({true_positives} facts right, {false_positives} spurious, "
            f"{false_negatives} missed)"
        )
    assert precision >= 0.95
    assert recall >= 0.95


def test_a_deadline_on_the_next_line_completes_the_event_above():
    lines = [
        "Constructive Dialogue on Smuggling of Migrants and Trafficking in Persons: 1 July 2022",
        "Register here until 8 May 2022 midnight Vienna time.",
    ]
    (finding,) = extract_findings(lines, dt.date(2022, 2, 1))
    assert finding.themes == ("som", "tip")
    assert finding.closing is not None
    assert _z(finding.closing.instant) == "2022-05-08T22:00Z"
    assert finding.lines == (0, 1)


def test_a_heading_names_the_event_of_the_dates_below_it():
    lines = [
        "Constructive Dialogue on Firearms",
        "Date: 5 April 2024 (hybrid, Vienna)",
        "Register by 12 February 2024",
    ]
    (finding,) = extract_findings(lines, dt.date(2024, 1, 1))
    assert finding.kind == "constructive-dialogue"
    assert finding.title == "Constructive Dialogue on Firearms"
    assert finding.start == dt.date(2024, 4, 5)
    assert finding.closing is not None and finding.closing.day == dt.date(2024, 2, 12)
    assert finding.lines == (0, 1, 2)


def test_assumptions_are_said_and_lower_the_certainty():
    (stated,) = extract_findings(
        [
            "Constructive Dialogue on Firearms: 6 May 2022. Register here until 17 March 2022 midnight Vienna time."
        ],
        dt.date(2022, 2, 1),
    )
    (assumed,) = extract_findings(
        ["Constructive Dialogue on Firearms: 6 May. Register by 17 March."], dt.date(2022, 2, 1)
    )
    assert stated.notes == ()
    assert any("no year" in note for note in assumed.notes)
    assert any("no time or zone" in note for note in assumed.notes)
    assert assumed.certainty < stated.certainty
    (wrong_day,) = extract_findings(
        ["Constructive Dialogue on Firearms: Thursday, 6 May 2022"], dt.date(2022, 2, 1)
    )
    assert wrong_day.certainty < stated.certainty
    assert any("Friday" in note for note in wrong_day.notes)


def test_a_weekday_chooses_the_year_when_none_is_written():
    (finding,) = extract_findings(
        ["Constructive Dialogue on Firearms: Friday 5 April"], dt.date(2023, 11, 1)
    )
    assert finding.start == dt.date(2024, 4, 5)
    assert not any("no year" in note for note in finding.notes)


def test_a_cancelled_event_is_marked():
    (finding,) = extract_findings(
        ["The Constructive Dialogue on Firearms of 27 May 2022 is cancelled."], dt.date(2022, 2, 1)
    )
    assert finding.cancelled


def test_a_deadline_alone_keeps_what_it_is_for():
    (finding,) = extract_findings(
        ["Registration for the dialogue on firearms closes on 17 March 2022."], dt.date(2022, 2, 1)
    )
    assert finding.kind is None
    assert finding.named_kind == "constructive-dialogue"
    assert finding.themes == ("firearms",)
    assert finding.title.startswith("Deadline: Registration for the dialogue on firearms")


def test_long_noisy_lines_stay_fast():
    import time

    line = " ".join(["1 2 3 10:00 May June - to and 2022 CET Vienna"] * 200)
    started = time.perf_counter()
    extract_findings([line] * 5, dt.date(2022, 2, 1))
    assert time.perf_counter() - started < 2.0
