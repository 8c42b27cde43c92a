"""The Atom feed writer (RFC 4287), pure: entries in, well-formed UTF-8 XML out.

Written with the standard library's ElementTree, which escapes markup characters;
what XML 1.0 cannot carry at all (control characters, lone surrogates) is dropped here
first, since page text and operators' words reach the feed.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
# Characters XML 1.0 does not allow anywhere, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Entry:
    """One item of news: a stable id, words in the reader's language, a link."""

    id: str
    title: str
    updated: dt.datetime
    summary: str
    link: str | None = None
    category: str | None = None


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(
        parent, f"{{{ATOM}}}{tag}", {k: _text(v) for k, v in attributes.items()}
    )
    if text is not None:
        element.text = _text(text)
    return element


def build_atom(
    *,
    feed_id: str,
    title: str,
    self_url: str,
    page_url: str,
    language: str,
    entries: Sequence[Entry],
    updated: dt.datetime,
    author: str = "UNTOC Watch",
) -> bytes:
    """The feed as bytes; `updated` is the feed's own date (its newest entry, or a fixed one)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": language})
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    _add(feed, "updated", _stamp(updated))
    _add(_add(feed, "author"), "name", author)
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    for item in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", item.id)
        _add(entry, "title", item.title)
        _add(entry, "updated", _stamp(item.updated))
        if item.link:
            _add(entry, "link", rel="alternate", href=item.link)
        if item.category:
            _add(entry, "category", term=item.category)
        _add(entry, "summary", item.summary, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
