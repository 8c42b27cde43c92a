"""Deep-link payloads: every selection that fits round-trips; anything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.filters.deeplink import KIND_CODES, MAX_LENGTH, THEME_CODES, BadPayload, decode, encode
from config.dataset import THEMES
from schedulers.timeline import KINDS, Selection

codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


@given(
    countries=st.sets(codes, max_size=12),
    clusters=st.sets(st.integers(min_value=1, max_value=4), max_size=4),
    themes=st.sets(st.sampled_from(THEMES), max_size=4),
    kinds=st.sets(st.sampled_from(KINDS), max_size=3),
)
def test_selections_round_trip_or_do_not_fit(countries, clusters, themes, kinds):
    selection = Selection(countries=countries, clusters=clusters, themes=themes, kinds=kinds)
    payload = encode(selection)
    if payload is None:
        tokens = ["sub", *countries, *(f"c{n}" for n in clusters)]
        tokens += [THEME_CODES[t] for t in themes] + [KIND_CODES[k] for k in kinds]
        assert len("-".join(tokens)) > MAX_LENGTH  # refused only when it cannot fit
        return
    assert len(payload) <= MAX_LENGTH
    assert all(ch.isalnum() or ch in "-_" for ch in payload)
    decoded = decode(payload)
    assert (
        set(decoded.countries),
        set(decoded.clusters),
        set(decoded.themes),
        set(decoded.kinds),
    ) == (
        countries,
        clusters,
        themes,
        kinds,
    )


def test_an_empty_selection_is_plain_sub():
    assert encode(Selection()) == "sub"
    assert decode("sub") == Selection(countries=set(), clusters=set(), kinds=set(), themes=set())


@pytest.mark.parametrize(
    "payload", ["", "start", "sub-at", "sub-c0", "sub-AT-drugs", "sub-" + "AT-" * 30, "x" * 200]
)
def test_tampered_payloads_are_refused(payload):
    with pytest.raises(BadPayload):
        decode(payload)
