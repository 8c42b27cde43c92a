"""Catalogs: complete, not fuzzy, same placeholders, and in step with the code."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.text.i18n import LANGUAGES, LOCALE_DIR, Texts, negotiate
from bot.text.i18n_extract import extract_python, template

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _catalog(language: str):
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _template():
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        return read_po(handle)


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_is_translated_with_the_same_placeholders(language):
    catalog = _catalog(language)
    expected = {m.id for m in _template() if m.id}
    translated = {m.id: m for m in catalog if m.id}
    assert set(translated) == expected
    for message_id, message in translated.items():
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        originals = message_id if isinstance(message_id, tuple) else (message_id,)
        expected_placeholders = sorted(set(PLACEHOLDER.findall(" ".join(originals))))
        assert all(forms), f"{language}: untranslated {message_id!r}"
        assert not message.fuzzy, f"{language}: fuzzy {message_id!r}"
        for form in forms:
            assert sorted(set(PLACEHOLDER.findall(form))) == expected_placeholders, (
                language,
                message_id,
            )


def test_the_template_holds_every_message_in_the_code_and_dataset():
    # The same function `make translations` writes the template with.
    fresh = {m.id for m in template() if m.id}
    assert fresh == {m.id for m in _template() if m.id}, "run `make translations`"


def test_a_message_nested_in_another_call_is_extracted():
    source = b"""
def refuse(texts):
    raise BadValue(texts("Write quiet hours as 22-7."))
    return {"lead": texts("Reminders: {days}"), "off": words(name)}.get(key, t("Help."))
"""
    found = [m for _, _, m, _ in extract_python(io.BytesIO(source), None, None, None)]
    assert sorted(found) == ["Help.", "Reminders: {days}", "Write quiet hours as 22-7."]


def test_texts_translate_and_localize():
    french = Texts("fr")
    assert french("Registration closes: {event}") == "Clôture des inscriptions : {event}"
    assert french.country("DE") == "Allemagne"
    assert french.city("Europe/Vienna") == "Vienne"
    assert Texts("es")("done") == "completado"
    assert Texts("en")("done") == "done"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("de-DE, es;q=0.5", "es"),
        ("de, it", "en"),
        ("en;q=0.1, fr;q=0.2", "fr"),
        ("garbage;q=x, es", "es"),
    ],
)
def test_accept_language_negotiation(header, language):
    assert negotiate(header) == language
