"""Reports checked before they reach the queue: the words of /record, hostile input refused."""

from __future__ import annotations

import datetime as dt

import pytest

from config.dataset_loader import load_dataset
from feeds.reports import (
    Draft,
    ReportLimits,
    ReportRefused,
    check_link,
    check_report,
    check_text,
    mask,
    parse_line,
)

TODAY = dt.date(2027, 1, 20)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def check(dataset, draft, **kw):
    return check_report(
        draft,
        dataset=dataset,
        country_of=lambda text: {"at": "AT", "austria": "AT"}.get(text.lower()),
        origin="web",
        reporter="web:abc",
        language="en",
        today=TODAY,
        **kw,
    )


def codes(error: ReportRefused) -> list[str]:
    return [p.code for p in error.problems]


def test_one_line_takes_the_words_of_record(dataset):
    draft = parse_line("AT c1 self-assessment 2027-01-15 https://www.example.org/x sent in January")
    report = check(dataset, draft)
    assert (report.country, report.cluster, report.milestone, report.date) == (
        "AT",
        1,
        "self-assessment",
        dt.date(2027, 1, 15),
    )
    assert (report.url, report.words) == ("https://www.example.org/x", "sent in January")
    assert report.target_id == "m-at-c1-self-assessment" and report.kind == "milestone"
    assert report.payload()["source"] == "https://www.example.org/x sent in January"


def test_an_event_is_reported_by_its_id_and_moves_with_its_end(dataset):
    event = next(iter(dataset.events.values()))
    report = check(dataset, parse_line(f"{event.id} 2027-05-07 https://www.unodc.org/x"))
    assert report.kind == "change" and report.event is not None
    assert report.event.start == dt.date(2027, 5, 7) and report.event.confidence == "reported"
    if event.end is not None:
        assert report.event.end - report.event.start == event.end - event.start


def test_every_problem_is_said_at_once(dataset):
    with pytest.raises(ReportRefused) as refused:
        check(dataset, Draft("Atlantis", "self-asessment", "2030-13-01", ""))
    assert codes(refused.value) == ["not_a_date", "no_evidence", "unknown_country", "unknown_step"]
    with pytest.raises(ReportRefused) as refused:
        check(dataset, Draft("AT", "self-assessment", "2027-02-01", "seen"))
    assert codes(refused.value) == ["future"]
    with pytest.raises(ReportRefused) as refused:
        parse_line("AT self-assessment")
    assert codes(refused.value) == ["usage"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("x" * 501, "too_long"),
        ("bell\x07", "control_characters"),
        ("right\u202eto left", "control_characters"),
        ("<b>bold</b>", "markup"),
        ("<!here> look", "markup"),
        ("&amp; co", "markup"),
    ],
)
def test_hostile_words_are_refused(text, code):
    assert [p.code for p in check_text(text, ReportLimits().max_text)] == [code]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("javascript:alert(1)", "bad_link"),
        ("ftp://example.org/x", "bad_link"),
        ("http://127.0.0.1/admin", "private_link"),
        ("http://10.0.0.8/", "private_link"),
        ("http://[::1]/", "private_link"),
        ("http://169.254.169.254/latest/meta-data", "private_link"),
        ("http://localhost:8000/", "private_link"),
        ("http://intranet/", "private_link"),
        ("http://printer.local/", "private_link"),
    ],
)
def test_links_must_be_public_web_addresses(url, code):
    assert [p.code for p in check_link(url)] == [code]
    assert check_link("https://www.unodc.org/unodc/en/ngos/cst.html") == []


def test_a_reporter_is_shown_masked():
    assert mask("telegram:987654321") == "telegram:98…21"
    assert mask("slack:C0COALITION/U0ADA") == "slack:C0…ON/U…"
    assert mask(None) == "-"
