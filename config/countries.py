"""Country codes and names, from CLDR through Babel.

People type "Austria", "at", "Türkiye" or "UK"; the dataset speaks ISO 3166-1 alpha-2
(plus `EU` for the European Union, a party in its own right). This module turns one
into the other, and says "did you mean" when it cannot.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache

from babel import Locale

DEFAULT_LOCALE = "en"
# CLDR regions with two-letter codes that are not countries: pseudo-locales, the
# eurozone, the UN, "Outlying Oceania" and "Unknown Region". EU stays: it is a party.
NOT_COUNTRIES = frozenset({"EZ", "QO", "UN", "XA", "XB", "ZZ"})


@cache
def _territories(locale: str) -> Mapping[str, str]:
    names = Locale.parse(locale).territories
    return {
        code: name
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    }


def is_country_code(code: str) -> bool:
    """True for an ISO 3166-1 alpha-2 code that CLDR knows, or EU."""
    return code in _territories(DEFAULT_LOCALE)


def country_name(code: str, locale: str = DEFAULT_LOCALE) -> str:
    """The name of `code` in `locale` (falls back to English, then to the code)."""
    try:
        names = _territories(locale)
    except (ValueError, TypeError):
        names = _territories(DEFAULT_LOCALE)
    return names.get(code) or _territories(DEFAULT_LOCALE).get(code, code)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def suggest_codes(text: str, limit: int = 3) -> list[str]:
    """Codes whose code or English name is close to `text`, best first."""
    names = _territories(DEFAULT_LOCALE)
    by_folded = {_fold(name): code for code, name in names.items()}
    by_folded.update({code.casefold(): code for code in names})
    close = difflib.get_close_matches(_fold(text), list(by_folded), n=limit * 2, cutoff=0.6)
    result: list[str] = []
    for match in close:
        code = by_folded[match]
        if code not in result:
            result.append(code)
    return result[:limit]


class UnknownCountry(ValueError):
    """Raised for a country we cannot identify; carries suggestions for the user."""

    def __init__(self, text: str, suggestions: list[str]) -> None:
        self.text = text
        self.suggestions = suggestions
        hint = ""
        if suggestions:
            named = ", ".join(f"{code} ({country_name(code)})" for code in suggestions)
            hint = f"; did you mean {named}?"
        super().__init__(f"unknown country {text!r}{hint}")


def resolve_country(
    text: str, allowed: Iterable[str], aliases: Mapping[str, str] | None = None
) -> str:
    """Resolve a code, an English name or an alias to a code in `allowed`.

    Matching ignores case, accents and punctuation. Suggestions are limited to `allowed`.
    """
    allowed_set = set(allowed)
    folded = _fold(text)
    candidates = {_fold(code): code for code in allowed_set}
    candidates.update({_fold(country_name(code)): code for code in allowed_set})
    for alias, code in (aliases or {}).items():
        candidates.setdefault(_fold(alias), code)
    if folded in candidates:
        return candidates[folded]
    close = difflib.get_close_matches(folded, list(candidates), n=6, cutoff=0.6)
    suggestions: list[str] = []
    for match in close:
        if candidates[match] not in suggestions:
            suggestions.append(candidates[match])
    raise UnknownCountry(text, suggestions[:3])
