"""The one vocabulary (config/vocabulary.py) and the one parser that reads it.

Every word in the table reads as its theme or kind, in every language, whichever
language the reader uses; the Literals and the table hold the same ids.
"""

from __future__ import annotations

from typing import get_args

import pytest

from bot.filters import deeplink
from bot.filters.vocabulary import NotUnderstood, Vocabulary
from bot.text.i18n import LANGUAGES, Texts
from bot.text.render import KIND_NAMES, THEME_NAMES
from config.dataset import Theme
from config.dataset_loader import load_dataset
from config.vocabulary import CLUSTER_WORDS, KIND_TERMS, KINDS, THEME_TERMS, THEMES
from config.vocabulary import LANGUAGES as WORD_LANGUAGES
from schedulers.timeline import Kind, Selection


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def test_the_literals_the_table_and_what_is_derived_hold_the_same_ids():
    assert set(get_args(Theme)) == set(THEME_TERMS) == set(THEMES) == set(THEME_NAMES)
    assert set(get_args(Kind)) == set(KIND_TERMS) == set(KINDS) == set(KIND_NAMES)
    assert set(WORD_LANGUAGES) == set(LANGUAGES) == set(CLUSTER_WORDS)
    for term in (*THEME_TERMS.values(), *KIND_TERMS.values()):
        assert set(term.words) == set(LANGUAGES), term.id
    codes = [t.code for t in THEME_TERMS.values()] + [t.code for t in KIND_TERMS.values()]
    assert len(set(codes)) == len(codes)


def test_a_deep_link_carries_every_theme_and_kind_by_its_code():
    for theme in THEMES:
        for kind in KINDS:
            selection = Selection(themes={theme}, kinds={kind})
            payload = deeplink.encode(selection)
            assert payload == f"sub-{THEME_TERMS[theme].code}-{KIND_TERMS[kind].code}"
            decoded = deeplink.decode(payload)
            assert (set(decoded.themes), set(decoded.kinds)) == ({theme}, {kind})


@pytest.mark.parametrize("reader", LANGUAGES)
def test_every_word_of_the_table_reads_as_its_value_for_every_reader(dataset, reader):
    vocabulary = Vocabulary(dataset)
    texts = Texts(reader)
    for dimension, terms in (("themes", THEME_TERMS), ("kinds", KIND_TERMS)):
        for value, term in terms.items():
            for language, words in term.words.items():
                for word in (*words, Texts(language)(term.label)):
                    topics = vocabulary.parse(word, texts)
                    assert getattr(topics, dimension) == {value}, (language, word)


@pytest.mark.parametrize(
    "text",
    ["cluster 2", "c2", "groupe 2", "grupo 2", "кластер 2", "مجموعة 2"],
)
def test_clusters_are_read_in_every_language(dataset, text):
    assert Vocabulary(dataset).parse(text, Texts("en")).clusters == {2}


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [("Austira", ("AT",)), ("Frnace", ("FR",)), ("Германя", ("DE",)), ("des", ()), ("humains", ())],
)
def test_suggestions_only_when_a_name_is_close(typed, suggested):
    with pytest.raises(NotUnderstood) as refused:
        Vocabulary(load_dataset()).parse(typed, Texts("fr"))
    assert refused.value.unknown[0].suggestions == suggested


@pytest.mark.parametrize(
    ("language", "typed", "countries", "themes"),
    [
        ("fr", "Côte d'Ivoire traite", {"CI"}, {"tip"}),
        ("fr", "traite des êtres humains, trafic de migrants", set(), {"tip", "som"}),
        ("ar", "الاتجار بالبشر", set(), {"tip"}),
        ("zh", "奥地利人口贩运", {"AT"}, {"tip"}),
        ("zh", "奥地利，枪支", {"AT"}, {"firearms"}),
    ],
)
def test_the_words_ngos_use_are_read_as_one(language, typed, countries, themes):
    topics = Vocabulary(load_dataset()).parse(typed, Texts(language))
    assert (set(topics.countries), set(topics.themes)) == (countries, themes)
