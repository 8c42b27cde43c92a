"""From a fetched page to the text that matters, and from two versions to what changed.

Pure functions. A page is reduced to lines of visible text (the part a CSS selector
names, or the main content found by heuristics), whitespace is normalised and volatile
parts (counters, "last updated", clock times with seconds, session tokens, the source's
own ignore patterns) are removed, so that the hash of the result changes only when the
page says something new. `summarise_change` says in a few lines what was added and
removed; `is_flap` recognises content going back to a version seen a moment ago.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

# Remembered normalised versions per source; content returning to one of them is a flap.
FLAP_WINDOW = 6
SUMMARY_LINES = 5
SUMMARY_LINE_CHARS = 200
# A main-content candidate with less text than this is a stub (an empty <main>), not the page.
MIN_MAIN_CHARS = 80

BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
        "option", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot",
        "tr", "ul",
    }
)  # fmt: skip
CELL_TAGS = frozenset({"td", "th"})
INVISIBLE_TAGS = frozenset(
    {
        "base", "button", "canvas", "iframe", "input", "link", "meta", "noscript", "object",
        "script", "select", "style", "svg", "template", "textarea", "title",
    }
)  # fmt: skip
# Site furniture, dropped when no selector says what to keep.
FURNITURE_TAGS = frozenset({"aside", "footer", "header", "nav"})
MAIN_CONTENT = (
    "main",
    "[role=main]",
    "#main-content",
    "#content",
    "#main",
    "article",
    ".main-content",
    ".content",
)

_BLOCK = "\x1e"  # the ASCII record separator
_SPACE = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
# Control characters show nothing on a page, and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"^(?:\s*\|\s*)+|(?:\s*\|\s*)+$")
_DOUBLE_SEPARATOR = re.compile(r"(?:\s*\|\s*){2,}")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_UPDATED = re.compile(
    r"(?:\b(?:page\s+)?last\s+(?:updated|modified|reviewed|changed)|\bupdated\s+on|"
    r"\bpublished\s+on|derni[eè]re\s+mise\s+[aà]\s+jour|\bmis\s+[aà]\s+jour\s+le|"
    r"[uú]ltima\s+actualizaci[oó]n|\bactualizado\s+el)\b.{0,60}$",
    re.I,
)
_VOLATILE = tuple(
    re.compile(pattern, re.I)
    for pattern in (
        # Counters: "1,234 views", "Visits: 5 678", "vues", "visitas".
        r"\b\d+(?:[,.\u00a0 ]\d{3})*\s*(?:page\s*)?(?:views?|visits?|visitors?|hits?|reads?|vues|"
        r"visites|visitas|lecturas)\b",
        r"\b(?:page\s*)?(?:views?|visits?|visitors?|hits?|vues|visites|visitas)\s*:\s*"
        r"\d(?:[\d,.\u00a0 ]*\d)?",
        # Clock times with seconds belong to "generated at" stamps, never to deadlines.
        r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?(?:\s*(?:UTC|GMT|Z))?",
        # Session and tracking tokens, and long random-looking identifiers.
        r"[;?&]?\b(?:jsessionid|phpsessid|sid|sessionid|session_id|token|csrf\w*|_ga|"
        r"utm_\w+|fbclid|gclid)=[^\s&\"'|]+",
        r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b",
        r"\b[0-9a-f]{24,}\b",
        r"©\s*(?:\d{4}\s*[-\u2013]\s*)?\d{4}",
    )
)


@dataclass(frozen=True)
class PageText:
    """The meaningful text of a page, one line per block, and whether the selector matched.

    `selector_matched` is None when no selector was given (heuristics chose the part).
    """

    lines: tuple[str, ...]
    selector_matched: bool | None = None


@dataclass(frozen=True)
class ChangeSummary:
    """What was added and removed between two versions, in a few human lines."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    text: str


def charset_of(content_type: str | None) -> str | None:
    """The charset named in a Content-Type header, if a known one is named."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset":
            return _known_codec(value.strip().strip("\"'"))
    return None


def decode_body(body: bytes, content_type: str | None = None) -> str:
    """Decode a fetched page: BOM, then the header's charset, then <meta>, then UTF-8.

    Pages that are not valid UTF-8 and name nothing are read as Windows-1252, the
    encoding such pages almost always have (a superset of Latin-1 for printable text).
    """
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16")):
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    if body.startswith(codecs.BOM_UTF16_BE):
        return body.decode("utf-16", errors="replace")
    declared = charset_of(content_type)
    if declared is None:
        found = _META_CHARSET.search(body[:4096])
        declared = _known_codec(found.group(1).decode("ascii")) if found else None
    if declared is not None:
        return body.decode(declared, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _known_codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    # Browsers read pages labelled Latin-1 as Windows-1252; so do we.
    return "cp1252" if codec in {"latin-1", "iso8859-1", "ascii"} else codec


def page_text(html: str, selector: str | None = None) -> PageText:
    """The visible text of `html` (the part `selector` names, or the main content), by lines.

    Malformed HTML is read as a browser would; block elements start new lines, table
    cells are joined with " | " so a row stays one line.
    """
    # the HTML parser is loaded in the reading process only, not in every importer
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(INVISIBLE_TAGS):
        tag.decompose()
    if selector is not None:
        roots = soup.select(selector)
        if not roots:
            return PageText((), selector_matched=False)
        return PageText(tuple(_lines(roots, drop=frozenset())), selector_matched=True)
    for candidate in MAIN_CONTENT:
        found = soup.select_one(candidate)
        if found is not None and len(found.get_text(strip=True)) >= MIN_MAIN_CHARS:
            return PageText(tuple(_lines([found], drop=FURNITURE_TAGS)))
    return PageText(tuple(_lines([soup.body or soup], drop=FURNITURE_TAGS)))


def _lines(roots: Sequence[object], *, drop: frozenset[str]) -> Iterable[str]:
    """Walk the tree without recursion (malformed pages nest deeply) and cut it into lines."""
    # the HTML parser is loaded in the reading process only, not in every importer
    from bs4.element import NavigableString, Tag

    parts: list[str] = []
    stack: list[object] = list(reversed(roots))
    # Blocks are cut with a character no page contains: newlines in the source are spaces.
    while stack:
        node = stack.pop()
        if isinstance(node, str):  # a marker pushed below, or a text node
            if type(node) is NavigableString or type(node) is str:
                parts.append(node)
            continue
        if not isinstance(node, Tag) or node.name in drop:
            continue
        if node.name in BLOCK_TAGS:
            parts.append(_BLOCK)
            stack.append(_BLOCK)
        elif node.name in CELL_TAGS:
            parts.append(" | ")
        stack.extend(reversed(node.contents))
    for raw in "".join(parts).split(_BLOCK):
        line = clean_line(raw)
        if line:
            yield line


def clean_line(text: str) -> str:
    """One line with runs of any Unicode space made one space, control characters
    dropped and cell separators tidied."""
    line = _SPACE.sub(" ", _CONTROL.sub("", text)).strip()
    line = _DOUBLE_SEPARATOR.sub(" | ", line)
    return _SEPARATORS.sub("", line).strip()


@cache
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns)


def normalise_lines(lines: Iterable[str], ignore: Sequence[str] = ()) -> tuple[str, ...]:
    """Lines without their volatile parts; lines left empty are dropped.

    `ignore` holds the source's own regular expressions: what they match is removed.
    """
    own = _compiled(tuple(ignore))
    kept: list[str] = []
    for line in lines:
        text = _UPDATED.sub("", line)
        for pattern in (*_VOLATILE, *own):
            text = pattern.sub("", text)
        text = clean_line(text)
        if text and any(ch.isalnum() for ch in text):
            kept.append(text)
    return tuple(kept)


def content_hash(lines: Sequence[str]) -> str:
    """A stable fingerprint of normalised content."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def added_lines(old: Sequence[str], new: Sequence[str]) -> set[int]:
    """Indexes of the lines of `new` that `old` did not have where they stand."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    found: set[int] = set()
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in {"insert", "replace"}:
            found.update(range(j1, j2))
    return found


def summarise_change(old: Sequence[str], new: Sequence[str], url: str) -> ChangeSummary:
    """A short human summary of what changed between two versions, ending with the link."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    added: list[str] = []
    removed: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in {"delete", "replace"}:
            removed.extend(old[i1:i2])
        if tag in {"insert", "replace"}:
            added.extend(new[j1:j2])
    # A line that only moved is neither news nor loss.
    moved = set(added) & set(removed)
    added = [line for line in added if line not in moved]
    removed = [line for line in removed if line not in moved]
    parts = [_count(len(added), "added") + ", " + _count(len(removed), "removed") + ":"]
    parts.extend(_listing("+", added))
    parts.extend(_listing("-", removed))
    parts.append(url)
    return ChangeSummary(tuple(added), tuple(removed), "\n".join(parts))


def _count(number: int, verb: str) -> str:
    return f"{number} line{'s' if number != 1 else ''} {verb}"


def _listing(sign: str, lines: Sequence[str]) -> list[str]:
    shown = [f"{sign} {_shorten(line)}" for line in lines[:SUMMARY_LINES]]
    if len(lines) > SUMMARY_LINES:
        shown.append(f"{sign} ... and {len(lines) - SUMMARY_LINES} more")
    return shown


def _shorten(line: str) -> str:
    return line if len(line) <= SUMMARY_LINE_CHARS else line[: SUMMARY_LINE_CHARS - 1] + "…"


def is_flap(new_hash: str, current_hash: str | None, recent: Sequence[str]) -> bool:
    """True when content changed back to a version seen within the last few polls."""
    return new_hash != current_hash and new_hash in recent


def remember(recent: Sequence[str], new_hash: str, window: int = FLAP_WINDOW) -> tuple[str, ...]:
    """The recent versions after seeing `new_hash` (newest last, at most `window`)."""
    kept = [h for h in recent if h != new_hash]
    kept.append(new_hash)
    return tuple(kept[-window:])
