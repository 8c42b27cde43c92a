"""From pages to the text that matters: selectors, heuristics, volatile parts, diffs, flaps."""

from __future__ import annotations

from feeds.normalise import (
    FLAP_WINDOW,
    added_lines,
    content_hash,
    decode_body,
    is_flap,
    normalise_lines,
    page_text,
    remember,
    summarise_change,
)
from tests.fakes.unodc_site import fixture

URL = "https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html"


def text_of(name: str, selector: str | None = None) -> tuple[str, ...]:
    return normalise_lines(page_text(decode_body(fixture(name)), selector).lines)


def test_the_main_content_is_kept_and_the_site_furniture_dropped():
    lines = text_of("constructive-dialogues-v1.html")
    assert lines[0] == "Constructive dialogues under the UNTOC Review Mechanism"
    assert (
        "Constructive Dialogue on Firearms: 6 May 2022. Register here until 17 March 2022 "
        "midnight Vienna time." in lines
    )
    joined = "\n".join(lines)
    for furniture in ("Search", "Drugs and Crime", "All rights reserved", "a81f0c2d", "visits"):
        assert furniture not in joined


def test_a_selector_keeps_only_what_it_names():
    lines = text_of("constructive-dialogues-v1.html", "ul.key-dates")
    assert len(lines) == 3 and all(line.startswith("Constructive Dialogue") for line in lines)
    assert (
        page_text(decode_body(fixture("constructive-dialogues-v1.html")), "#gone").selector_matched
        is False
    )


def test_volatile_parts_do_not_change_the_hash():
    assert content_hash(text_of("constructive-dialogues-v1.html")) == content_hash(
        text_of("constructive-dialogues-v1-volatile.html")
    )
    assert content_hash(text_of("constructive-dialogues-v1.html")) != content_hash(
        text_of("constructive-dialogues-v2.html")
    )


def test_volatile_phrases_are_removed_and_dates_kept():
    lines = normalise_lines(
        [
            "Page last updated on 12 March 2024",
            "Constructive Dialogue on Firearms: 5 April 2024 | 1,234 views",
            "Generated at 10:22:31 UTC",
            "Share: https://x.example/?utm_source=mail&sid=4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
            "Visits: 5 678",
        ]
    )
    assert lines == (
        "Constructive Dialogue on Firearms: 5 April 2024",
        "Generated at",
        "Share: https://x.example/",
    )


def test_ignore_patterns_of_the_source_apply():
    lines = normalise_lines(
        ["Next review: 17 May 2024", "Weather in Vienna: 21°C"], [r"Weather in Vienna:.*"]
    )
    assert lines == ("Next review: 17 May 2024",)


def test_pages_are_decoded_by_header_meta_or_guess():
    latin = "Date limite : 12 février 2030".encode("iso-8859-1")
    assert "février" in decode_body(latin)  # not UTF-8 and nothing declared: Windows-1252
    assert "février" in decode_body(latin, "text/html; charset=ISO-8859-1")
    assert "février" in decode_body(fixture("cst-latin1.html"))  # <meta http-equiv> charset
    assert decode_body("\ufeffé".encode("utf-8")) == "é"
    assert decode_body("é".encode(), "text/html; charset=no-such-codec") == "é"


def test_malformed_html_is_read_as_a_browser_would():
    lines = text_of("malformed.html")
    assert "Constructive Dialogue on Trafficking in Persons: 10 July 2030" in lines
    assert "Register by 2 May 2030, 23:59 CEST" in lines
    assert not any("tracking" in line or "comment" in line for line in lines)


def test_table_rows_stay_one_line():
    lines = text_of("review-mechanism-home.html")
    assert "Working Group on Trafficking in Persons | 23 to 27 May 2022" in lines


def test_a_change_is_summarised_with_what_was_added_and_removed_and_the_link():
    old = text_of("constructive-dialogues-v1.html")
    new = text_of("constructive-dialogues-v2.html")
    summary = summarise_change(old, new, URL)
    assert summary.added == (
        "Constructive Dialogues on Smuggling of Migrants and Trafficking in Persons: 1 July 2022. "
        "Register here until 17 May 2022 midnight Vienna time.",
    )
    assert len(summary.removed) == 1 and "8 May 2022" in summary.removed[0]
    assert summary.text.startswith("1 line added, 1 line removed:")
    assert summary.text.endswith(URL)
    assert added_lines(old, new) == {new.index(summary.added[0])}


def test_long_changes_are_cut_short():
    summary = summarise_change([], [f"line {i}" for i in range(12)], URL)
    assert "+ ... and 7 more" in summary.text and len(summary.text.splitlines()) == 8


def test_content_going_back_to_a_recent_version_is_a_flap():
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    recent = remember(remember((), a), b)
    assert is_flap(a, b, recent)
    assert not is_flap(c, b, recent)
    assert not is_flap(b, b, recent)
    many: tuple[str, ...] = ()
    for i in range(FLAP_WINDOW + 2):
        many = remember(many, str(i))
    assert "0" not in many and len(many) == FLAP_WINDOW
