"""Country resolution: codes, names, aliases, and suggestions for typos."""

from __future__ import annotations

import pytest

from config.countries import UnknownCountry, country_name, is_country_code, resolve_country
from config.dataset_loader import load_dataset


@pytest.fixture(scope="module")
def data():
    return load_dataset()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("AT", "AT"),
        ("at", "AT"),
        ("Austria", "AT"),
        ("AUSTRIA", "AT"),
        ("türkiye", "TR"),
        ("Turkiye", "TR"),
        ("Turkey", "TR"),
        ("UK", "GB"),
        ("united kingdom", "GB"),
        ("European Union", "EU"),
        ("Côte d'Ivoire", "CI"),
        ("cote divoire", "CI"),
        ("NO", "NO"),
    ],
)
def test_codes_names_and_aliases_resolve(data, text, code):
    assert resolve_country(text, data.states, data.aliases) == code


def test_a_typo_gets_suggestions(data):
    with pytest.raises(UnknownCountry) as caught:
        resolve_country("Austira", data.states, data.aliases)
    assert caught.value.suggestions[0] == "AT"
    assert "did you mean AT (Austria)" in str(caught.value)


def test_a_non_party_is_not_accepted_as_a_party(data):
    with pytest.raises(UnknownCountry):
        resolve_country("Palau", data.states, data.aliases)


def test_localized_names_come_from_cldr():
    assert country_name("AT", "fr") == "Autriche"
    assert country_name("AT", "es") == "Austria"
    assert country_name("AT", "xx-nonsense") == "Austria"
    assert is_country_code("EU")
    assert not is_country_code("XA")
