"""The `/start` payload of a Telegram deep link, carrying a reader's filters.

Telegram allows at most 64 characters from [A-Za-z0-9_-] after `?start=`, so filters are
written as short tokens: `sub` then country codes (`AT`), clusters (`c1`), themes (`tip`,
`fa`, ...) and kinds (`km`, `kr`, `ke`), separated by `-`. The tokens are the one
vocabulary's codes, written and read by `bot.filters.vocabulary` (`code_for`, `read_code`).
"""

from __future__ import annotations

from bot.filters.vocabulary import code_for, read_code
from config.vocabulary import KIND_TERMS, THEME_TERMS
from schedulers.timeline import Selection

PREFIX = "sub"
MAX_LENGTH = 64
THEME_CODES: dict[str, str] = {theme: code_for("theme", theme) for theme in THEME_TERMS}
KIND_CODES: dict[str, str] = {kind: code_for("kind", kind) for kind in KIND_TERMS}


class BadPayload(ValueError):
    """A payload we did not write (tampered, truncated, or from an old version)."""


def encode(selection: Selection) -> str | None:
    """The payload for `selection`, or None when it does not fit in a deep link."""
    tokens = [PREFIX, *(code_for("country", code) for code in sorted(selection.countries))]
    tokens += [code_for("cluster", str(n)) for n in sorted(selection.clusters)]
    tokens += [code_for("theme", t) for t in sorted(selection.themes)]
    tokens += [code_for("kind", k) for k in sorted(selection.kinds)]
    payload = "-".join(tokens)
    return payload if len(payload) <= MAX_LENGTH else None


def decode(payload: str) -> Selection:
    """The selection a payload carries; raises `BadPayload` for anything else."""
    tokens = payload.split("-")
    if len(payload) > MAX_LENGTH or tokens[0] != PREFIX:
        raise BadPayload(f"not a subscription link: {payload[:20]!r}")
    found: dict[str, set[str]] = {"country": set(), "cluster": set(), "theme": set(), "kind": set()}
    for token in tokens[1:]:
        hit = read_code(token)
        if hit is None:
            raise BadPayload(f"unknown token {token[:10]!r} in a subscription link")
        found[hit[0]].add(hit[1])
    return Selection(
        countries=found["country"],
        clusters={int(n) for n in found["cluster"]},
        kinds=found["kind"],
        themes=found["theme"],
    )
