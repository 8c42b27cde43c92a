"""Query parsing: durations, and links that reproduce a query."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.filters.query import QueryError, parse_duration, parse_query, query_string
from config.dataset_loader import load_dataset

ALL = frozenset({"country", "cluster", "kind", "theme", "lang", "alarms", "days"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", dt.timedelta(days=7)),
        ("p1w", dt.timedelta(weeks=1)),
        ("PT2H", dt.timedelta(hours=2)),
        ("PT90M", dt.timedelta(minutes=90)),
        ("P1DT12H", dt.timedelta(days=1, hours=12)),
    ],
)
def test_iso_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "7D", "P-1D", "P1Y", "PT1S", "P1.5D"])
def test_durations_we_refuse(text):
    with pytest.raises(QueryError):
        parse_duration(text)


def test_a_query_string_reproduces_its_query():
    data = load_dataset()
    params = [
        ("country", "austria,GB"),
        ("theme", "tip"),
        ("lang", "fr"),
        ("alarms", "PT2H,P7D"),
        ("days", "30"),
    ]
    query = parse_query(params, data, ALL)
    again = parse_query(query_string(query, with_days=True), data, ALL)
    assert again == query
    assert query_string(query) == [
        ("country", "AT"),
        ("country", "GB"),
        ("theme", "tip"),
        ("lang", "fr"),
        ("alarms", "P7D,PT2H"),
    ]
