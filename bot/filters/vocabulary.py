"""The one filter parser: countries and topics as people type them, in any of our languages.

Telegram's `/subscribe` and Slack's `/untoc subscribe` read their words here; the words
for themes, kinds and clusters come from the one vocabulary (`config/vocabulary.py`),
country names from CLDR and the dataset's aliases.

`/subscribe Austria tip`, `/subscribe Autriche, cluster 2`, `/unsubscribe AT events`:
each word or phrase is a country (code, English name, local name, alias), a cluster, a
theme or a kind. Phrases of several words are matched longest first, so "Bosnia and
Herzegovina" and "trafficking in persons" need no quotes. Anything else is reported with
suggestions; nothing is half-applied.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.text.i18n import LANGUAGES, Texts
from config.countries import country_name
from config.dataset import Dataset
from config.vocabulary import CLUSTER_WORDS, KIND_TERMS, THEME_TERMS
from schedulers.timeline import Selection

MAX_ARGUMENT_LENGTH = 400
MAX_WORDS = 40
MAX_PHRASE_WORDS = 5
MAX_SEARCH_RESULTS = 12
MIN_SUGGESTED_LENGTH = 4
SUGGESTION_CUTOFF = 0.8
MAX_SUGGESTIONS = 3
MIN_NAME_IN_SENTENCE = 3
_SPLIT = re.compile(r"[,;\n，、；،؛]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MAX_CJK_PHRASE = 12
_CLUSTER_CODE = re.compile(r"^c([1-9])$")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
# The short codes of themes and kinds (config/vocabulary.py), the one table deep links use.
_CODES: dict[str, tuple[str, str]] = {
    **{term.code: ("theme", theme) for theme, term in THEME_TERMS.items()},
    **{term.code: ("kind", kind) for kind, term in KIND_TERMS.items()},
}


def code_for(dimension: str, value: str) -> str:
    """The short code of one filter value: `AT`, `c2`, `tip`, `km`."""
    if dimension == "country":
        return value
    if dimension == "cluster":
        return f"c{value}"
    codes: dict[str, str] = {v: t.code for v, t in (*THEME_TERMS.items(), *KIND_TERMS.items())}
    return codes[value]


def read_code(token: str) -> tuple[str, str] | None:
    """(dimension, value) for a short code as `code_for` writes it, or None: exact, no words."""
    if _COUNTRY_CODE.match(token):
        return ("country", token)
    if match := _CLUSTER_CODE.match(token):
        return ("cluster", match.group(1))
    return _CODES.get(token)


def fold(text: str) -> str:
    """Lower case, accents and punctuation dropped: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


class TooLong(ValueError):
    """More text than any real list of countries and topics."""


@dataclass(frozen=True)
class Unknown:
    """A word we could not place, and the country codes it might have meant."""

    text: str
    suggestions: tuple[str, ...] = ()


class NotUnderstood(ValueError):
    """Some words are neither countries nor topics; `unknown` lists them."""

    def __init__(self, unknown: list[Unknown]) -> None:
        super().__init__(", ".join(item.text for item in unknown))
        self.unknown = unknown


@dataclass(frozen=True)
class Topics:
    """Countries, clusters, themes and kinds, as subscriber filters take them."""

    countries: frozenset[str] = frozenset()
    clusters: frozenset[int] = frozenset()
    themes: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.countries or self.clusters or self.themes or self.kinds)

    def filters(self) -> dict[str, set[str]]:
        """Per dimension, the values `follow` and `unfollow` take."""
        return {
            "country": set(self.countries),
            "cluster": {str(n) for n in self.clusters},
            "theme": set(self.themes),
            "kind": set(self.kinds),
        }

    @classmethod
    def of(cls, selection: Selection) -> Topics:
        return cls(
            countries=frozenset(selection.countries),
            clusters=frozenset(selection.clusters),
            themes=frozenset(selection.themes),
            kinds=frozenset(selection.kinds),
        )


@dataclass
class Vocabulary:
    """The words for one dataset, indexed per language on first use."""

    dataset: Dataset
    _indexes: dict[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)
    _names: dict[str, str] | None = None

    def index(self, texts: Texts) -> Mapping[str, tuple[str, str]]:
        """Folded phrase -> (dimension, value), in every language (the reader's first)."""
        cached = self._indexes.get(texts.language)
        if cached is not None:
            return cached

        index: dict[str, tuple[str, str]] = {fold(code): hit for code, hit in _CODES.items()}
        readers = [texts] + [Texts(code) for code in LANGUAGES if code != texts.language]
        for dimension, terms in (("theme", THEME_TERMS), ("kind", KIND_TERMS)):
            for value, term in terms.items():
                index[fold(value)] = (dimension, value)
                for reader in readers:
                    index.setdefault(fold(reader(term.label)), (dimension, value))
                    for word in term.words.get(reader.language, ()):
                        index.setdefault(fold(word), (dimension, value))
        for number in self.dataset.clusters:
            index[fold(f"c{number}")] = ("cluster", str(number))
            for reader in readers:
                label = reader("cluster {number}").format(number=number)
                index.setdefault(fold(label), ("cluster", str(number)))
                for word in CLUSTER_WORDS.get(reader.language, ()):
                    index.setdefault(fold(f"{word} {number}"), ("cluster", str(number)))
        for code in self.dataset.states:
            index.setdefault(fold(code), ("country", code))
        for reader in readers:
            for code in self.dataset.states:
                for name in _spellings(country_name(code, reader.language)):
                    index.setdefault(fold(name), ("country", code))
        for alias, code in self.dataset.aliases.items():
            index.setdefault(fold(alias), ("country", code))
        self._indexes[texts.language] = index
        return index

    def parse(self, text: str, texts: Texts) -> Topics:
        """The topics in `text`; raises `TooLong` or `NotUnderstood`."""
        if len(text) > MAX_ARGUMENT_LENGTH:
            raise TooLong(f"{len(text)} characters")
        index = self.index(texts)
        found: dict[str, set[str]] = {
            "country": set(),
            "cluster": set(),
            "theme": set(),
            "kind": set(),
        }
        unknown: list[Unknown] = []
        words_seen = 0
        for group in _SPLIT.split(text):
            words = group.split()
            words_seen += len(words)
            if words_seen > MAX_WORDS:
                raise TooLong(f"more than {MAX_WORDS} words")
            start = 0
            while start < len(words):
                for end in range(min(len(words), start + MAX_PHRASE_WORDS), start, -1):
                    hit = index.get(fold(" ".join(words[start:end])))
                    if hit is not None:
                        found[hit[0]].add(hit[1])
                        start = end
                        break
                else:
                    pieces = (
                        self._segment(words[start], index) if _CJK.search(words[start]) else None
                    )
                    if pieces is None:
                        unknown.append(self._unknown(words[start]))
                    else:
                        for dimension, value in pieces:
                            found[dimension].add(value)
                    start += 1
        if unknown:
            raise NotUnderstood(unknown[:5])
        return Topics(
            countries=frozenset(found["country"]),
            clusters=frozenset(int(n) for n in found["cluster"]),
            themes=frozenset(found["theme"]),
            kinds=frozenset(found["kind"]),
        )

    def lookup(self, text: str, dimension: str, texts: Texts | None = None) -> str | None:
        """The value one phrase names in `dimension` ("Autriche" -> "AT"), or None."""
        if len(text) > MAX_ARGUMENT_LENGTH:
            return None
        hit = self.index(texts or Texts("en")).get(fold(text))
        return hit[1] if hit is not None and hit[0] == dimension else None

    @staticmethod
    def _segment(word: str, index: Mapping[str, tuple[str, str]]) -> list[tuple[str, str]] | None:
        """Chinese written without spaces ("奥地利人口贩运"): the longest known names, left to
        right; None unless the whole word is made of them."""
        pieces: list[tuple[str, str]] = []
        start = 0
        while start < len(word):
            for end in range(min(len(word), start + MAX_CJK_PHRASE), start, -1):
                hit = index.get(fold(word[start:end]))
                if hit is not None:
                    pieces.append(hit)
                    start = end
                    break
            else:
                return None
        return pieces

    def countries_in(self, text: str, texts: Texts) -> set[str]:
        """Every State a sentence names ("où en est l'examen de la Côte d'Ivoire"): each
        run of up to five words is looked up, the longest first, as a name of three letters
        or more (a two-letter word in a sentence is no code); a Russian name may be in the
        genitive ("обзор Кот-д'Ивуара"), a Chinese one inside a run of characters."""
        words = text[:MAX_ARGUMENT_LENGTH].split()[:MAX_WORDS]
        index = self.index(texts)
        found: set[str] = set()
        start = 0
        while start < len(words):
            for end in range(min(len(words), start + MAX_PHRASE_WORDS), start, -1):
                phrase = " ".join(words[start:end])
                hit = next(
                    (
                        index[key]
                        for key in _name_forms(phrase)
                        if len(key) >= MIN_NAME_IN_SENTENCE and key in index
                    ),
                    None,
                )
                if hit is not None and hit[0] == "country":
                    found.add(hit[1])
                    start = end
                    break
            else:
                if _CJK.search(words[start]):
                    found |= self._cjk_countries(words[start], index)
                start += 1
        return found

    def one_country_in(self, text: str, texts: Texts) -> str | None:
        """The one State a sentence names, if it names exactly one we know."""
        named = self.countries_in(text, texts)
        return named.pop() if len(named) == 1 else None

    @staticmethod
    def _cjk_countries(run: str, index: Mapping[str, tuple[str, str]]) -> set[str]:
        found: set[str] = set()
        for size in range(min(len(run), MAX_CJK_PHRASE), 1, -1):
            for first in range(len(run) - size + 1):
                hit = index.get(fold(run[first : first + size]))
                if hit is not None and hit[0] == "country":
                    found.add(hit[1])
        return found

    def country(self, text: str, texts: Texts) -> str:
        """One State party from a code or a name; raises `NotUnderstood` with suggestions."""
        if len(text) > MAX_ARGUMENT_LENGTH:
            raise TooLong(f"{len(text)} characters")
        hit = self.index(texts).get(fold(text))
        if hit is not None and hit[0] == "country":
            return hit[1]
        raise NotUnderstood([self._unknown(text)])

    def search(self, text: str, texts: Texts) -> tuple[list[str], bool]:
        """States parties whose name (in any of our languages) contains `text`.

        The flag is False when nothing contains it and the list holds close spellings.
        """
        wanted = fold(text)
        if not wanted:
            return [], False
        found = []
        for code in self.dataset.states:
            names = [country_name(code, language) for language in LANGUAGES]
            if wanted == fold(code) or any(wanted in fold(name) for name in names):
                found.append(code)
        exact = bool(found)
        if not exact:
            found = list(self._unknown(text).suggestions)
        ordered = sorted(found, key=lambda code: fold(texts.country(code)))
        return ordered[:MAX_SEARCH_RESULTS], exact

    def _unknown(self, text: str) -> Unknown:
        """A word we could not place, with the States it is a close spelling of, if any.

        Only close ones: a short word ("des") or a word near no name ("humains") gets no
        list of unrelated States.
        """
        shown = text[:40]
        folded = fold(text[:60])
        if len(folded) < MIN_SUGGESTED_LENGTH:
            return Unknown(shown, ())
        names = self._country_names()
        close = difflib.get_close_matches(folded, list(names), n=6, cutoff=SUGGESTION_CUTOFF)
        codes = list(dict.fromkeys(names[name] for name in close))
        return Unknown(shown, tuple(codes[:MAX_SUGGESTIONS]))

    def _country_names(self) -> dict[str, str]:
        """Every folded country name of the index (codes left out), to suggest from."""
        if self._names is None:
            self._names = {
                name: value
                for name, (dimension, value) in self.index(Texts("en")).items()
                if dimension == "country" and len(name) >= MIN_SUGGESTED_LENGTH
            }
        return self._names


# Russian names a State in the genitive after "обзор", "examen de": "Австрии" (Австрия).
_GENITIVE = (("а", ""), ("ы", "а"), ("и", "я"), ("и", "а"), ("и", "ь"), ("я", "ь"), ("у", ""))


def _name_forms(phrase: str) -> list[str]:
    """The folded phrase, and the nominatives a Russian genitive may stand for."""
    folded = fold(phrase)
    forms = [folded]
    if folded and "\u0400" <= folded[-1] <= "\u04ff":
        forms += [folded[: -len(end)] + base for end, base in _GENITIVE if folded.endswith(end)]
    return forms


def _spellings(name: str) -> tuple[str, ...]:
    """A name as CLDR writes it, and with "&" written out ("Bosnia and Herzegovina")."""
    if "&" not in name:
        return (name,)
    return (name, *(name.replace("&", word) for word in ("and", "et", "y")))
