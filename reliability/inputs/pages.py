"""Hostile watched pages and feeds, served by a local site to the real watcher."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reliability.inputs._common import (
    ICS_EVENT,
    LAUGHS,
    NOT_FOR_OPERATORS,
    NOW,
    PAGE,
    PAGE_TABLES,
    PASSWD_LINE,
    RSS,
    XXE,
    Case,
    Lab,
    Tally,
    _first,
    damage,
    hostile,
    rows,
    shown,
)


@dataclass(frozen=True)
class HostilePage:
    """What the local site answers for one watched source, and how the source reads it."""

    kind: str = "html"
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    selector: str | None = None


def _html(text: str) -> bytes:
    return f"<html><body><main><h1>Meetings</h1><p>{text}</p></main></body></html>".encode(
        errors="surrogatepass"
    )


def _ics(start: str = ";VALUE=DATE:20220601", summary: str = "Meeting", extra: str = "") -> bytes:
    return ICS_EVENT.format(start=start, summary=summary, extra=extra).encode(
        errors="surrogatepass"
    )


def _page_cases() -> list[Case]:
    pages: list[tuple[str, str, HostilePage]] = []
    for family, text in hostile():
        pages.append((family, f"a page saying {shown(text, 40)}", HostilePage(body=_html(text))))
    rss = "application/rss+xml"
    ics = "text/calendar"
    pages += [
        ("blank", "an empty page", HostilePage(body=b"")),
        ("nul", "NUL bytes", HostilePage(body=b"<p>Meeting\x00\x00 on 1 June 2022</p>" * 10)),
        ("encoding", "invalid UTF-8", HostilePage(body=b"<p>\xff\xfe\xfa\xc3\x28</p>" * 100)),
        (
            "encoding",
            "a bogus charset",
            HostilePage(body=_html("Réunion"), content_type="text/html; charset=x-bogus"),
        ),
        (
            "encoding",
            "UTF-7 declared",
            HostilePage(body=_html("+ADw-script+AD4-"), content_type="text/html; charset=utf-7"),
        ),
        (
            "encoding",
            "a lying meta charset",
            HostilePage(
                body=b'<meta charset="utf-16"><p>plain ASCII</p>', content_type="text/html"
            ),
        ),
        (
            "encoding",
            "UTF-16 without a BOM",
            HostilePage(
                body="<p>Meeting on 1 June 2022</p>".encode("utf-16-le"), content_type="text/html"
            ),
        ),
        (
            "encoding",
            "gzip bytes without Content-Encoding",
            HostilePage(body=gzip.compress(_html("x"))),
        ),
        (
            "encoding",
            "a PNG served as HTML",
            HostilePage(body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20),
        ),
        (
            "syntax",
            "a truncated page",
            HostilePage(body=b"<html><body><main><p>Registration closes 8 May 2022 at mid"),
        ),
        (
            "syntax",
            "an unclosed comment",
            HostilePage(body=b"<p>Meeting</p><!-- never closed <p>1 June 2022</p>"),
        ),
        (
            "syntax",
            "CDATA and a doctype in the body",
            HostilePage(body=b"<![CDATA[<p>x</p>]]><!DOCTYPE x><p>y</p>"),
        ),
        (
            "syntax",
            "entities out of range",
            HostilePage(body=b"<p>&#xFFFFFFFF; &#0; &#xD800; &#99999999999; &bogus;</p>"),
        ),
        (
            "nesting",
            "50,000 nested divs",
            HostilePage(body=b"<div>" * 50_000 + b"deep" + b"</div>" * 50_000),
        ),
        (
            "overlong",
            "10,000 paragraphs",
            HostilePage(body=b"<p>Meeting on 1 June 2022</p>" * 10_000),
        ),
        ("overlong", "one 2 MB word", HostilePage(body=b"<p>" + b"A" * 2_000_000 + b"</p>")),
        (
            "markup",
            "only scripts and styles",
            HostilePage(body=b"<script>alert(1)</script><style>p{}</style>"),
        ),
        (
            "date",
            "impossible dates",
            HostilePage(
                body=_html(
                    "Registration closes 30 February 2023; session on 99999999 May 2022, 31/31/2022"
                )
            ),
        ),
        (
            "selector",
            "a selector that matches nothing",
            HostilePage(body=_html("Meeting"), selector="#nowhere"),
        ),
        (
            "syntax",
            "a broken feed",
            HostilePage(kind="rss", body=b"<rss><channel><item><title>x", content_type=rss),
        ),
        (
            "syntax",
            "a feed that is no XML",
            HostilePage(kind="rss", body=b"just words", content_type=rss),
        ),
        (
            "traversal",
            "an external entity (XXE)",
            HostilePage(kind="rss", body=XXE, content_type=rss),
        ),
        (
            "bomb",
            "billion laughs in a feed",
            HostilePage(kind="rss", body=LAUGHS, content_type=rss),
        ),
        (
            "markup",
            "a javascript: link in a feed",
            HostilePage(
                kind="rss",
                body=RSS.format(
                    "<item><title>a</title><link>javascript:alert(1)</link>"
                    "<pubDate>not a date</pubDate></item>"
                ).encode(),
                content_type=rss,
            ),
        ),
        (
            "overlong",
            "5,000 feed entries",
            HostilePage(
                kind="rss",
                body=b'<rss version="2.0"><channel><title>x</title>'
                + b"<item><title>Meeting 1 June 2022</title></item>" * 5000
                + b"</channel></rss>",
                content_type=rss,
            ),
        ),
        (
            "shape",
            "an Atom feed read as RSS",
            HostilePage(
                kind="atom",
                body=b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title/></entry></feed>',
                content_type="application/atom+xml",
            ),
        ),
        (
            "syntax",
            "a calendar that is no calendar",
            HostilePage(kind="ics", body=b"not a calendar", content_type=ics),
        ),
        (
            "syntax",
            "a calendar without END",
            HostilePage(
                kind="ics",
                body=b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n",
                content_type=ics,
            ),
        ),
        (
            "date",
            "DTSTART 2023-02-30",
            HostilePage(kind="ics", body=_ics(start=";VALUE=DATE:20230230"), content_type=ics),
        ),
        (
            "date",
            "DTSTART in year 99999",
            HostilePage(kind="ics", body=_ics(start=":999991231T100000Z"), content_type=ics),
        ),
        (
            "zone",
            "an unknown TZID",
            HostilePage(
                kind="ics", body=_ics(start=";TZID=Mars/Base:20220601T100000"), content_type=ics
            ),
        ),
        (
            "zone",
            "a TZID that is a folder",
            HostilePage(
                kind="ics",
                body=_ics(start=";TZID=America/Argentina:20220601T100000"),
                content_type=ics,
            ),
        ),
        (
            "number",
            "a secondly rule without end",
            HostilePage(kind="ics", body=_ics(extra="RRULE:FREQ=SECONDLY\r\n"), content_type=ics),
        ),
        (
            "nesting",
            "10,000 nested components",
            HostilePage(
                kind="ics",
                body=b"BEGIN:VCALENDAR\r\n" * 10_000 + b"END:VCALENDAR\r\n" * 10_000,
                content_type=ics,
            ),
        ),
        (
            "control",
            "control characters in a summary",
            HostilePage(
                kind="ics", body=_ics(summary="Meet\x00ing\x1b[31m\u202e"), content_type=ics
            ),
        ),
        ("status", "HTTP 500", HostilePage(status=500, body=b"oops")),
        ("status", "HTTP 404", HostilePage(status=404, body=b"gone")),
        ("status", "HTTP 999", HostilePage(status=999, body=b"?")),
        (
            "status",
            "HTTP 429 asking for 10^20 s",
            HostilePage(status=429, headers=(("Retry-After", "99999999999999999999"),)),
        ),
        (
            "status",
            "HTTP 503 asking for -1 s",
            HostilePage(status=503, headers=(("Retry-After", "-1"),)),
        ),
        (
            "status",
            "HTTP 503 asking for ² s",
            HostilePage(status=503, headers=(("Retry-After", "²"),)),
        ),
        (
            "status",
            "HTTP 503 asking for a date",
            HostilePage(status=503, headers=(("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),)),
        ),
        (
            "redirect",
            "to port 99999",
            HostilePage(status=302, headers=(("Location", "http://127.0.0.1:99999/"),)),
        ),
        (
            "redirect",
            "to a broken IPv6 address",
            HostilePage(status=302, headers=(("Location", "http://[::1/"),)),
        ),
        (
            "redirect",
            "to javascript:",
            HostilePage(status=302, headers=(("Location", "javascript:alert(1)"),)),
        ),
        (
            "redirect",
            "to file:///etc/passwd",
            HostilePage(status=301, headers=(("Location", "file:///etc/passwd"),)),
        ),
        ("redirect", "without a Location", HostilePage(status=302)),
        (
            "redirect",
            "to a host with a space",
            HostilePage(status=302, headers=(("Location", "http://exa mple.org/"),)),
        ),
        (
            "redirect",
            "to a 300-character label",
            HostilePage(status=302, headers=(("Location", "http://" + "a" * 300 + ".example/"),)),
        ),
        ("redirect", "to itself forever", HostilePage(status=302, headers=(("Location", "SELF"),))),
        (
            "header",
            "a Content-Length of 10^11",
            HostilePage(body=b"<p>x</p>", headers=(("Content-Length", "99999999999"),)),
        ),
        (
            "header",
            "a Content-Length that is no number",
            HostilePage(body=b"<p>x</p>", headers=(("Content-Length", "abc"),)),
        ),
        (
            "header",
            "gzip declared, plain sent",
            HostilePage(body=b"<p>not gzip</p>", headers=(("Content-Encoding", "gzip"),)),
        ),
        (
            "header",
            "an unknown Content-Encoding",
            HostilePage(body=b"<p>x</p>", headers=(("Content-Encoding", "zstd-bogus"),)),
        ),
        (
            "bomb",
            "two gzip layers: 64 MiB from a few kB",
            HostilePage(
                body=gzip.compress(gzip.compress(b"\0" * (64 << 20))),
                headers=(("Content-Encoding", "gzip, gzip"),),
            ),
        ),
        (
            "bomb",
            "one gzip layer past the cap: 32 MiB",
            HostilePage(
                body=gzip.compress(b"<p>" + b"a" * (32 << 20)),
                headers=(("Content-Encoding", "gzip"),),
            ),
        ),
        (
            "regex",
            "a line that backtracked for seconds: 30 ones before a date",
            HostilePage(body=_html("Registration " + "1 " * 30 + "x 15 March 2027")),
        ),
        (
            "regex",
            "200 such lines, with digits and keywords between",
            HostilePage(
                body=_html(
                    "<br>".join(
                        "Registration deadline " + "1 2 " * 25 + f"x {day % 28 + 1} March 2027"
                        for day in range(1, 201)
                    )
                )
            ),
        ),
        (
            "overlong",
            "50,000 empty links (350 kB of markup)",
            HostilePage(body=b"<html><body>" + b"<a></a>" * 50_000 + b"</body></html>"),
        ),
    ]
    return [Case(PAGE, family, label, page, PAGE_TABLES) for family, label, page in pages]


class RawSite:
    """A local site answering each path with exactly the status, headers and body given."""

    def __init__(self) -> None:
        self.pages: dict[str, HostilePage] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                page = site.pages.get(self.path, HostilePage(status=404))
                headers = dict(page.headers)
                if headers.get("Location") == "SELF":
                    headers["Location"] = site.url(self.path)
                headers.setdefault("Content-Type", page.content_type)
                headers.setdefault("Content-Length", str(len(page.body)))
                head = f"HTTP/1.1 {page.status} Hostile\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                head += "Connection: close\r\n\r\n"
                with contextlib.suppress(OSError):
                    self.wfile.write(head.encode("latin-1") + page.body)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RawSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"


async def _page_run(cases: Sequence[Case], lab: Lab, url: str, path: Path, tally: Tally) -> None:
    import ipaddress

    import httpx

    from bot.db.engine import create_engine
    from bot.db.store import Store
    from config.dataset import Source
    from feeds.fetch import AddressPolicy, Fetcher, HostPacer
    from feeds.reading import ProcessReader
    from feeds.watcher import Watcher
    from tests.fakes.unodc_site import FakeUnodcSite

    store = Store(create_engine(url))
    local = (ipaddress.ip_network("127.0.0.1/32"),)
    try:
        with FakeUnodcSite() as site, RawSite() as raw:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as client,
                ProcessReader() as reader,
            ):
                fetcher = Fetcher(
                    client,
                    user_agent="UNTOC-Watch/reliability",
                    policy=AddressPolicy(allowed=local),
                    pacer=HostPacer(0.0),
                    total_timeout=20.0,
                )
                for number, case in enumerate(cases):
                    page: HostilePage = case.payload
                    address = f"/page-{number}"
                    names = {name for name, _ in page.headers}
                    if names - {"Location"}:
                        raw.pages[address] = page
                        target = raw.url(address)
                    else:
                        location = dict(page.headers).get("Location")
                        if location == "SELF":
                            location = site.url(address)
                        site.publish(
                            address,
                            page.body,
                            content_type=page.content_type,
                            status=page.status,
                            location=location,
                        )
                        target = site.url(address)
                    source = Source(
                        id=f"hostile-{number}",
                        url=target,
                        kind=page.kind,
                        selector=page.selector,
                        source="reliability suite",
                        confidence="reported",
                    )
                    watcher = Watcher(
                        [source],
                        fetcher,
                        store,
                        events=lab.dataset.events,
                        failure_threshold=1000,
                        reader=reader,
                    )
                    before, mark = rows(path), lab.errors.mark()
                    alerts = _count(path, NOT_FOR_OPERATORS)
                    (outcome,) = await watcher.check([source.id], NOW)
                    state = (await store.source_states()).get(source.id)
                    problem = _first(
                        "the watcher crashed"
                        if outcome.message.startswith("internal error")
                        else None,
                        "the poll was not recorded"
                        if state is None or state.last_polled_at != NOW
                        else None,
                        "a failure without its reason"
                        if outcome.result == "failed" and not (state and state.last_error)
                        else None,
                        "read a local file" if PASSWD_LINE in json.dumps(rows(path)) else None,
                        "queued an alert" if _count(path, NOT_FOR_OPERATORS) != alerts else None,
                        damage(before, rows(path), case.may_change),
                        lab.logged(mark),
                    )
                    tally.add(case, problem, accepted=outcome.result != "failed")
    finally:
        await store.close()


def _count(path: Path, query: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        (count,) = db.execute(query).fetchone()
        return int(count)


def run_pages(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Broken pages, feeds, calendars and HTTP answers, polled by the real watcher."""
    url, path = lab.database("pages")
    asyncio.run(_page_run(cases, lab, url, path, tally))
