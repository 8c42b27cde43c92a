"""Left-to-right stretches kept whole inside right-to-left messages.

An Arabic sentence that quotes a command (`/untoc subscribe AT, BR`), a country code, a
file name or an English title is laid out by the Unicode bidirectional algorithm, which
gives the punctuation at the edges of the Latin words the direction of the Arabic
around them: the slash of `/help` is drawn after the word, `.ics` reads `ics.`, `C++`
reads `++C`, and an English phrase ending in a bracket or a number comes apart.
Wrapping each left-to-right stretch in FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE
keeps it in one piece and in its own order.

`isolate` only ever inserts those two invisible characters, so taking them out gives
back the input exactly. It knows the two markups our messages are written in: Telegram
HTML (tags and entities stay as they are; a `<code>`, `<pre>` or `<a>` element is
isolated whole, from the outside) and Slack mrkdwn (a `code span`, a `<url|label>` link,
a mention or a date is isolated whole, from the outside; bold and italic markers stay
outside the isolates, where Slack still sees them). Nothing is ever put inside code or
a web address, since readers copy commands and links from there.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

FSI = "\u2068"  # FIRST STRONG ISOLATE: the stretch takes the direction of its first letter
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE
ISOLATE_OPENERS = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI
Markup = Literal["html", "mrkdwn", "plain"]

# What a unit of text is, for finding the stretches to isolate.
LTR = "L"  # a left-to-right letter, or a whole element shown as such (code, link)
RTL = "R"  # a right-to-left letter: it ends a stretch
SPACE = "S"  # a space: a stretch may go on across it
NEUTRAL = "N"  # digits, punctuation, symbols, marks
BREAK = "B"  # a line break, an isolate already there, an embedding: it ends a stretch
_CLASSES = {
    "L": LTR,
    "R": RTL,
    "AL": RTL,
    "WS": SPACE,
    "S": SPACE,
    "B": BREAK,
    "LRE": BREAK,
    "RLE": BREAK,
    "LRO": BREAK,
    "RLO": BREAK,
    "PDF": BREAK,
    "PDI": BREAK,
}
# Punctuation that belongs outside a stretch when it is at one of its ends ("AT," or
# "«AT»"): the bidi classes of punctuation and symbols; digits and marks always stay in.
_DETACHABLE = frozenset({"ON", "CS", "ES", "ET"})
# ... except these, which belong to the word they touch: "/untoc", "@team", "#5", "+1",
# ".ics", "50%", "C++", "Europe/".
_KEEP_AT_START = frozenset("/@#+-.$€£¥\\~")
_KEEP_AT_END = frozenset("/%+#°")
_BRACKETS = {")": "(", "]": "[", "}": "{"}

_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_ENTITY_AT_END = re.compile(_ENTITY.pattern + "$")
_TAG = re.compile(r"<[^<>]*>")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")
_WEB_ADDRESS = re.compile(r"(?:https?|webcal|ftp)://[^\s<>\"`|]+", re.IGNORECASE)
_SLACK_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_SLACK_SPECIAL = re.compile(r"<[^<>\n]*>")
_SLACK_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_SLACK_MARKERS = frozenset("*_~")
# Telegram elements shown as one thing, isolated whole and never entered.
_WHOLE_ELEMENTS = frozenset({"a", "code", "pre"})
_TRAILING_IN_ADDRESS = ".,:;!?)]}'\"*_~"
_ADDRESS_STARTS = frozenset("hHwWfF")  # the first letters of the schemes above


@dataclass(frozen=True)
class _Unit:
    """A character, an entity or a whole element, as the bidi algorithm will see it."""

    raw: str
    kind: str
    char: str = ""  # the one character it shows, if it is one (for brackets, trimming)
    bidi: str = ""  # that character's bidi class


@dataclass(frozen=True)
class _Boundary:
    """Markup that stays between stretches: a tag, a bold or italic marker."""

    raw: str


def isolate(text: str, markup: Markup = "plain", direction: str = "rtl") -> str:
    """`text` with each left-to-right stretch isolated, for a right-to-left reader.

    For any other `direction` the text is returned as it is. `markup` says how to read
    it: "html" (Telegram), "mrkdwn" (Slack) or "plain".
    """
    if direction != "rtl" or not text:
        return text
    out: list[str] = []
    segment: list[_Unit] = []
    for piece in _pieces(text, markup):
        if isinstance(piece, _Boundary):
            out.append(_isolated(segment))
            segment = []
            out.append(piece.raw)
        else:
            segment.append(piece)
    out.append(_isolated(segment))
    return "".join(out)


def strip_isolates(text: str) -> str:
    """`text` without the isolates `isolate` puts in."""
    return text.replace(FSI, "").replace(PDI, "")


def _char_unit(raw: str, char: str) -> _Unit:
    bidi = unicodedata.bidirectional(char) if len(char) == 1 else "ON"
    return _Unit(raw, _CLASSES.get(bidi, NEUTRAL), char, bidi)


def _whole(raw: str, shown: str) -> _Unit:
    """An element seen as one: left-to-right unless its text starts right-to-left."""
    for char in shown:
        bidi = unicodedata.bidirectional(char)
        if bidi in ("R", "AL"):
            return _Unit(raw, RTL)
        if bidi == "L":
            break
    return _Unit(raw, LTR)


def _web_address(text: str, at: int) -> str | None:
    """The web address starting at `at`, without the punctuation that ends a sentence."""
    match = _WEB_ADDRESS.match(text, at)
    if match is None:
        return None
    found = match.group()
    while found[-1] in _TRAILING_IN_ADDRESS:
        if found[-1] == ";" and _ENTITY_AT_END.search(found):
            break  # "&amp;" is part of the address
        if found[-1] == ")" and found.count("(") >= found.count(")"):
            break  # a Wikipedia-style "_(disambiguation)"
        found = found[:-1]
    return None if found.endswith("://") else found


# Reads one piece of markup at a position: the piece and where the text goes on, or None
# when the text there is no such piece (then it is one character).
Reader = Callable[[str, int], tuple["_Unit | _Boundary", int] | None]


def _pieces(text: str, markup: Markup) -> Iterator[_Unit | _Boundary]:
    """The text as units and boundaries, read with the markup's readers."""
    readers = _READERS[markup]
    at = 0
    while at < len(text):
        reader = readers.get(text[at])
        read = reader(text, at) if reader is not None else None
        if read is None:
            yield _char_unit(text[at], text[at])
            at += 1
        else:
            piece, at = read
            yield piece


def _address(text: str, at: int) -> tuple[_Unit, int] | None:
    address = _web_address(text, at)
    return (_Unit(address, LTR), at + len(address)) if address else None


def _html_tag(text: str, at: int) -> tuple[_Unit | _Boundary, int] | None:
    """A `<code>`, `<pre>` or `<a>` element as one unit; any other tag, a boundary."""
    tag = _TAG.match(text, at)
    if tag is None:
        return None
    element = _element(text, at, tag)
    if element is None:
        return _Boundary(tag.group()), tag.end()
    return _whole(element, _shown_html(element)), at + len(element)


def _entity(pattern: re.Pattern[str]) -> Reader:
    """A reader of the character references `pattern` matches, each shown as its character."""

    def read(text: str, at: int) -> tuple[_Unit, int] | None:
        entity = pattern.match(text, at)
        if entity is None:
            return None
        return _char_unit(entity.group(), html.unescape(entity.group())), entity.end()

    return read


def _element(text: str, at: int, opening: re.Match[str]) -> str | None:
    """The whole `<code>`, `<pre>` or `<a>` element opened at `at`, up to its end tag."""
    name = _TAG_NAME.match(opening.group())
    if name is None or name.group(1) or opening.group().endswith("/>"):
        return None
    tag = name.group(2).lower()
    if tag not in _WHOLE_ELEMENTS:
        return None
    depth = 0
    for found in _TAG.finditer(text, at):
        other = _TAG_NAME.match(found.group())
        if other is None or other.group(2).lower() != tag:
            continue
        depth += -1 if other.group(1) else 1
        if depth == 0:
            return text[at : found.end()]
    return None


def _shown_html(element: str) -> str:
    return html.unescape(_TAG.sub("", element))


def _slack_code(text: str, at: int) -> tuple[_Unit, int] | None:
    code = _SLACK_CODE.match(text, at)
    if code is None:
        return None
    return _whole(code.group(), code.group().strip("`")), code.end()


def _slack_special(text: str, at: int) -> tuple[_Unit, int] | None:
    """A `<url|label>` link, a mention or a date, as one unit shown as its label."""
    special = _SLACK_SPECIAL.match(text, at)
    if special is None:
        return None
    inner = special.group()[1:-1]
    label = inner.partition("|")[2] if inner[:1] not in "@#!" else ""
    return _whole(special.group(), html.unescape(label or inner)), special.end()


def _slack_marker(text: str, at: int) -> tuple[_Boundary, int] | None:
    """A bold, italic or strike marker (not one inside a word, as in snake_case)."""
    before = text[at - 1] if at else " "
    after = text[at + 1] if at + 1 < len(text) else " "
    if before.isalnum() and after.isalnum():
        return None
    return _Boundary(text[at]), at + 1


_ADDRESSES: dict[str, Reader] = dict.fromkeys(_ADDRESS_STARTS, _address)
_READERS: dict[Markup, dict[str, Reader]] = {
    "plain": _ADDRESSES,
    "html": {**_ADDRESSES, "<": _html_tag, "&": _entity(_ENTITY)},
    "mrkdwn": {
        **_ADDRESSES,
        **dict.fromkeys(_SLACK_MARKERS, _slack_marker),
        "`": _slack_code,
        "<": _slack_special,
        "&": _entity(_SLACK_ENTITY),
    },
}


def _isolated(units: list[_Unit]) -> str:
    """The units' text with FSI ... PDI around each left-to-right stretch."""
    if not any(unit.kind == LTR for unit in units):
        return "".join(unit.raw for unit in units)
    starts: set[int] = set()
    ends: set[int] = set()
    for first, last in _stretches(units):
        span = _run(units, first, last)
        if span is not None:
            starts.add(span[0])
            ends.add(span[1])
    out: list[str] = []
    for index, unit in enumerate(units):
        if index in starts:
            out.append(FSI)
        out.append(unit.raw)
        if index in ends:
            out.append(PDI)
    return "".join(out)


def _stretches(units: list[_Unit]) -> Iterator[tuple[int, int]]:
    """Index ranges (inclusive) with no right-to-left letter, line break or isolate."""
    start = 0
    index = 0
    while index < len(units):
        unit = units[index]
        if unit.char in ISOLATE_OPENERS:
            # An isolate someone already made: leave it, and what it holds, as it is.
            if index > start:
                yield start, index - 1
            depth = 0
            while index < len(units):
                if units[index].char in ISOLATE_OPENERS:
                    depth += 1
                elif units[index].char == PDI:
                    depth -= 1
                    if depth == 0:
                        break
                index += 1
            start = index + 1
        elif unit.kind in (RTL, BREAK):
            if index > start:
                yield start, index - 1
            start = index + 1
        index += 1
    if start < len(units):
        yield start, len(units) - 1


def _run(units: list[_Unit], low: int, high: int) -> tuple[int, int] | None:
    """The stretch to isolate between `low` and `high`: from its first left-to-right unit
    to its last, with the characters attached to them, less the punctuation at its ends."""
    letters = [i for i in range(low, high + 1) if units[i].kind == LTR]
    if not letters:
        return None
    start, end = _attached(units, letters[0], letters[-1], low, high)
    # A bracket opened in the stretch is closed in it too: "(seeds 001, 003)" stays whole.
    around = _pairs(units, low, high)
    while True:
        wider_end = max([end, *(c for o, c in around.items() if start <= o <= end)])
        wider_start = min([start, *(o for o, c in around.items() if start <= c <= end)])
        if (wider_start, wider_end) == (start, end):
            break
        start, end = _attached(units, wider_start, wider_end, low, high)
    while True:
        pairs = _pairs(units, start, end)
        if pairs.get(start) == end:
            start, end = start + 1, end - 1
        elif _detachable(units[end], _KEEP_AT_END, end in pairs.values()):
            end -= 1
        elif _detachable(units[start], _KEEP_AT_START, start in pairs):
            start += 1
        else:
            return start, end


def _attached(units: list[_Unit], start: int, end: int, low: int, high: int) -> tuple[int, int]:
    """`start` and `end` moved out to the spaces (or the stretch's ends) around them."""
    while start > low and units[start - 1].kind != SPACE:
        start -= 1
    while end < high and units[end + 1].kind != SPACE:
        end += 1
    return start, end


def _detachable(unit: _Unit, keep: frozenset[str], paired: bool) -> bool:
    if unit.kind != NEUTRAL or not unit.char or unit.bidi not in _DETACHABLE:
        return False
    if unit.char in _BRACKETS or unit.char in _BRACKETS.values():
        return not paired
    return unit.char not in keep


def _pairs(units: list[_Unit], start: int, end: int) -> dict[int, int]:
    """Matching brackets between `start` and `end`: opening index -> closing index."""
    pairs: dict[int, int] = {}
    open_at: list[int] = []
    for index in range(start, end + 1):
        char = units[index].char
        if char in ("(", "[", "{"):
            open_at.append(index)
        elif char in _BRACKETS and open_at and units[open_at[-1]].char == _BRACKETS[char]:
            pairs[open_at.pop()] = index
    return pairs
