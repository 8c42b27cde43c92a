"""The `/start` payload of a Telegram deep link, carrying a reader's filters.

Telegram allows at most 64 characters from [A-Za-z0-9_-] after `?start=`, so filters are
written as short tokens: `sub` then country codes (`AT`), clusters (`c1`), themes (`tip`,
`fa`, ...) and kinds (`km`, `kr`, `ke`), separated by `-`.
"""

from __future__ import annotations

import re

from config.vocabulary import KIND_TERMS, THEME_TERMS
from schedulers.timeline import Selection

PREFIX = "sub"
MAX_LENGTH = 64
# The tokens are the vocabulary's codes (config/vocabulary.py).
THEME_CODES: dict[str, str] = {theme: term.code for theme, term in THEME_TERMS.items()}
KIND_CODES: dict[str, str] = {kind: term.code for kind, term in KIND_TERMS.items()}
_THEMES = {code: theme for theme, code in THEME_CODES.items()}
_KINDS = {code: kind for kind, code in KIND_CODES.items()}
_CLUSTER = re.compile(r"^c([1-9])$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class BadPayload(ValueError):
    """A payload we did not write (tampered, truncated, or from an old version)."""


def encode(selection: Selection) -> str | None:
    """The payload for `selection`, or None when it does not fit in a deep link."""
    tokens = [PREFIX, *sorted(selection.countries)]
    tokens += [f"c{n}" for n in sorted(selection.clusters)]
    tokens += [THEME_CODES[t] for t in sorted(selection.themes)]
    tokens += [KIND_CODES[k] for k in sorted(selection.kinds)]
    payload = "-".join(tokens)
    return payload if len(payload) <= MAX_LENGTH else None


def decode(payload: str) -> Selection:
    """The selection a payload carries; raises `BadPayload` for anything else."""
    tokens = payload.split("-")
    if len(payload) > MAX_LENGTH or tokens[0] != PREFIX:
        raise BadPayload(f"not a subscription link: {payload[:20]!r}")
    countries, clusters, themes, kinds = set(), set(), set(), set()
    for token in tokens[1:]:
        if _COUNTRY.match(token):
            countries.add(token)
        elif match := _CLUSTER.match(token):
            clusters.add(int(match.group(1)))
        elif token in _THEMES:
            themes.add(_THEMES[token])
        elif token in _KINDS:
            kinds.add(_KINDS[token])
        else:
            raise BadPayload(f"unknown token {token[:10]!r} in a subscription link")
    return Selection(countries=countries, clusters=clusters, kinds=kinds, themes=themes)
