"""The email forms read and checked, pure: a body in, the fields or a 4xx saying why.

Forms are sent as `application/x-www-form-urlencoded` (no JavaScript, no files), so they
are read here with the standard library and strict limits: a body over `MAX_BODY`, a
field we do not ask for, a value repeated where one is expected, a control character
or an overlong value is refused before anything else looks at it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bot.filters.query import QueryError
from bot.text.i18n import LANGUAGES
from config.dataset import THEMES

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY = 16 * 1024
MAX_FIELDS = 120
MAX_VALUE = 2048  # a CSRF token is the longest value we send
REPEATABLE = frozenset({"country", "theme"})
DIGEST_CHOICES = ("weekly", "daily", "off")


@dataclass(frozen=True)
class ChoiceFields:
    """The choice a form sent, checked against what the service knows."""

    countries: tuple[str, ...]
    themes: tuple[str, ...]
    language: str
    digest: str


def read_form(
    content_type: str | None, body: bytes, allowed: Collection[str]
) -> dict[str, list[str]]:
    """The fields of a form body; raises `QueryError` (400, 413 or 415) naming the problem."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
        raise QueryError(f"send the form as {FORM_TYPE}", status=415)
    if len(body) > MAX_BODY:
        raise QueryError(f"the form is too large (at most {MAX_BODY} bytes)", status=413)
    try:
        text = body.decode("ascii")  # urlencoded: every byte above 127 is %-escaped
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",  # bytes that are not UTF-8 are an error, not U+FFFD
        )
    except (UnicodeDecodeError, ValueError):
        raise QueryError("the form could not be read") from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in allowed:
            raise QueryError(f"unknown field {name[:40]!r}")
        if len(value) > MAX_VALUE:
            raise QueryError(f"the field {name} is too long")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise QueryError(f"the field {name} holds control characters")
        fields.setdefault(name, []).append(value)
        if len(fields[name]) > 1 and name not in REPEATABLE:
            raise QueryError(f"the field {name} is given more than once")
    return fields


def one(fields: Mapping[str, list[str]], name: str, default: str | None = None) -> str:
    """The single value of a field; raises `QueryError` when it is missing."""
    values = fields.get(name)
    if not values:
        if default is None:
            raise QueryError(f"the field {name} is missing")
        return default
    return values[0]


def read_choice(fields: Mapping[str, list[str]], states: Collection[str]) -> ChoiceFields:
    """States, themes, language and digest of a form; unknown values are a 400."""
    countries = sorted({c for c in fields.get("country", []) if c})
    for code in countries:
        if code not in states:
            raise QueryError(f"unknown country {code[:12]!r}")
    themes = sorted({t for t in fields.get("theme", []) if t})
    for theme in themes:
        if theme not in THEMES:
            raise QueryError(f"unknown theme {theme[:40]!r}; use one of {', '.join(THEMES)}")
    language = one(fields, "lang", "en")
    if language not in LANGUAGES:
        raise QueryError(f"unknown language {language[:12]!r}; use one of {', '.join(LANGUAGES)}")
    digest = one(fields, "digest", "weekly")
    if digest not in DIGEST_CHOICES:
        raise QueryError(f"digest {digest[:12]!r}: use weekly, daily or off")
    return ChoiceFields(tuple(countries), tuple(themes), language, digest)
