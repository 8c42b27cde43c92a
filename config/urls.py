"""Links the service stores or shows: http(s) only, checked where they enter and leave.

A link in the dataset, in a watched calendar's `URL:` or in a report ends up in an
`href`, an iCal `URL:` and the JSON API. A `javascript:` or `data:` link there runs in the
reader's browser, so anything but an absolute http(s) address is refused at the door
(`check_web_url`, with a message naming the problem) and dropped again on the way out
(`web_url`), should an older row or a future path let one through.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
WEB_SCHEMES = frozenset({"http", "https"})


def check_web_url(url: str) -> str:
    """`url` itself if it is an absolute http(s) address; raises ValueError saying why not."""
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"a link may have at most {MAX_URL_LENGTH} characters")
    if any(ord(char) < 0x21 or char == "\x7f" for char in text):
        raise ValueError("a link may not contain spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"not a link ({exc})") from None
    if parts.scheme.lower() not in WEB_SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise ValueError(f"only http:// and https:// links are kept, not {shown}")
    if not parts.hostname:
        raise ValueError("a link needs a host, e.g. https://www.unodc.org/...")
    return text


def web_url(url: str | None) -> str | None:
    """`url` when it is a link the service may show, else None."""
    if url is None:
        return None
    try:
        return check_web_url(url)
    except ValueError:
        return None
