"""Query parsing: durations, and links that reproduce a query."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.filters.query import QueryError, parse_duration, parse_query, query_string
from bot.filters.vocabulary import Vocabulary
from bot.text.i18n import Texts
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


# The words an NGO types, in each of our languages: the page's query reads them with the
# same vocabulary as Telegram's /subscribe and Slack's /untoc subscribe.
AUSTRIA_AND_TRAFFICKING = {
    "en": ("Austria", "trafficking in persons"),
    "fr": ("Autriche", "traite"),
    "es": ("Austria", "trata de personas"),
    "ru": ("Австрия", "торговля людьми"),
    "zh": ("奥地利", "人口贩运"),
    "ar": ("النمسا", "الاتجار بالبشر"),
}


@pytest.mark.parametrize("language", sorted(AUSTRIA_AND_TRAFFICKING))
def test_the_query_reads_countries_and_themes_in_every_language(language):
    data = load_dataset()
    country, theme = AUSTRIA_AND_TRAFFICKING[language]
    query = parse_query([("country", country), ("theme", theme)], data, ALL)
    assert query.selection.countries == {"AT"} and query.selection.themes == {"tip"}
    typed = Vocabulary(data).parse(f"{country}, {theme}", Texts(language))
    assert typed.countries == query.selection.countries and typed.themes == query.selection.themes


def test_the_query_reads_kinds_and_clusters_by_their_words_and_still_refuses_the_rest():
    data = load_dataset()
    query = parse_query([("kind", "inscriptions"), ("cluster", "c2")], data, ALL)
    assert query.selection.kinds == {"registration"} and query.selection.clusters == {2}
    with pytest.raises(QueryError, match="theme 'Austria' is unknown"):
        parse_query([("theme", "Austria")], data, ALL)  # a country is not a theme
    with pytest.raises(QueryError, match="names in any of the six UN languages"):
        parse_query([("country", "Atlantis")], data, ALL)
