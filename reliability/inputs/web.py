"""Hostile query strings, calendar addresses, email forms and the State pages' report form,
given to the real Starlette app."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reliability.inputs._common import (
    FOLDED_AWAY,
    FOLDED_PARAMS,
    NOW,
    QUERY,
    QUERY_PARAMS,
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
class WebRequest:
    """A GET with a raw query string; `words` must appear in the error (None: a 2xx)."""

    path: str
    query: bytes
    words: str | None
    status: tuple[int, ...] = (400,)
    # Country names are compared folded (case, accents, invisible marks dropped), so
    # "A\u200bT" may read as Austria: then a normal answer is right too.
    may_be_valid: bool = False
    # A State's page answers an unknown code with an HTML page that links to the index.
    html_error: bool = False
    method: str = "GET"
    # A form body; "{csrf}" in it stands for a valid token of the sign-up form, "{report}"
    # for a valid token of /country/AT's report form (sent with its cookie).
    body: bytes = b""
    content_type: str = "application/x-www-form-urlencoded"
    # The tables an accepted input may change (a report queued for the operators).
    may_change: frozenset[str] = frozenset()


REPORT = b"{report}"
REPORT_PATH = "/country/AT/report"
GOOD_REPORT = {
    "step": b"self-assessment",
    "date": b"2022-02-20",  # before the lab's today (1 March 2022)
    "link": b"https%3A%2F%2Fwww.example.org%2Fat",
    "words": b"seen%20in%20the%20letter",
}


def _report_cases() -> list[Case]:
    """The report form of a State's page: each field hostile, and its token, honeypot, size."""
    cases = []
    for family, text in hostile():
        quoted = urllib.parse.quote(text, safe="").encode()
        for field in ("step", "date", "link", "words"):
            values = {**GOOD_REPORT, field: quoted}
            body = (
                b"token="
                + REPORT
                + b"&"
                + b"&".join(k.encode() + b"=" + v for k, v in values.items())
            )
            words_may_pass = field == "words"
            request = WebRequest(
                REPORT_PATH,
                b"",
                "",  # the page lists the problems in the reader's words; the status says which
                (413,) if len(body) > 16_384 else (400,),
                may_be_valid=words_may_pass,
                html_error=True,
                method="POST",
                body=body,
                may_change=frozenset({"proposals"}) if words_may_pass else frozenset(),
            )
            cases.append(
                Case(QUERY, family, f"POST {REPORT_PATH} {field}={shown(text, 40)}", request)
            )
    good = b"&".join(k.encode() + b"=" + v for k, v in GOOD_REPORT.items())
    structure = [
        ("token", b"token=forged&" + good, "has expired", (403,)),
        ("token", good, "has expired", (403,)),
        ("honeypot", b"token=" + REPORT + b"&website=x&" + good, "cannot be accepted", (400,)),
        ("encoding", b"token=" + REPORT + b"&words=%ff%fe&" + good, "", (400,)),
        ("overlong", b"token=" + REPORT + b"&" + b"words=x&" * 3000, "too large", (413,)),
    ]
    for family, body, words, status in structure:
        request = WebRequest(
            REPORT_PATH, b"", words, status, html_error=True, method="POST", body=body
        )
        cases.append(Case(QUERY, family, f"POST {REPORT_PATH} {shown(body, 50)}", request))
    # and one good report, so the refusals above are known to be refusals of the bad part
    accepted = WebRequest(
        REPORT_PATH,
        b"",
        None,
        (200,),
        html_error=True,
        method="POST",
        body=b"token=" + REPORT + b"&" + good,
        may_change=frozenset({"proposals"}),
    )
    cases.append(Case(QUERY, "valid", f"POST {REPORT_PATH} a good report", accepted))
    return cases


CSRF = b"{csrf}"
MAX_FORM = 16 * 1024


def _email_words(value: str, body: bytes) -> tuple[str, tuple[int, ...]]:
    """What the sign-up must answer for a hostile field value: the words and the status."""
    if len(body) > MAX_FORM:
        return "too large", (413,)
    if len(value) > 2048:
        return "too long", (400,)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "control characters", (400,)
    return "", (400,)


def _email_cases() -> list[Case]:
    """The sign-up form's fields, the confirm, manage and unsubscribe tokens, CSRF."""
    cases = []
    for family, text in hostile():
        quoted = urllib.parse.quote(text, safe="").encode()
        for field, words in (
            ("email", "email address"),
            ("country", "country"),
            ("theme", "theme"),
            ("lang", "language"),
            ("digest", "digest"),
        ):
            body = b"csrf=" + CSRF + b"&email=ngo%40example.org&" + field.encode() + b"=" + quoted
            if field == "email":
                body = b"csrf=" + CSRF + b"&email=" + quoted
            expected, status = _email_words(text, body)
            if not text.strip() and field != "email":
                continue  # a blank filter is "all": a valid sign-up, counted
            request = WebRequest(
                "/email/subscribe",
                b"",
                expected or words,
                status,
                html_error=True,
                method="POST",
                body=body,
            )
            label = f"POST /email/subscribe {field}={shown(text, 40)}"
            cases.append(Case(QUERY, family, label, request))
        token = urllib.parse.quote(text, safe="")
        gone = "/" in text or not text  # another path, which no route serves
        for method, page in (
            ("GET", "confirm"),
            ("POST", "confirm"),
            ("GET", "manage"),
            ("POST", "unsubscribe"),
        ):
            words, status = ("Not Found", (404,)) if gone else ("not one of ours", (400,))
            if not gone and len(token) > 2048:
                words = "not one of ours"
            request = WebRequest(
                f"/email/{page}/{token}",
                b"",
                words,
                status,
                html_error=not gone,
                method=method,
                body=b"csrf=" + CSRF if method == "POST" else b"",
            )
            cases.append(Case(QUERY, family, f"{method} /email/{page}/{shown(text, 40)}", request))
    structure = [
        ("csrf", b"email=ngo%40example.org", "csrf is missing", (400,), None),
        ("csrf", b"csrf=forged&email=ngo%40example.org", "not one of ours", (400,), None),
        ("csrf", b"csrf=" + b"A" * 3000 + b"&email=ngo%40example.org", "too long", (400,), None),
        ("unknown", b"csrf={csrf}&email=ngo%40example.org&admin=1", "unknown field", (400,), None),
        (
            "duplicate",
            b"csrf={csrf}&email=a%40example.org&email=b%40example.org",
            "more than once",
            (400,),
            None,
        ),
        ("encoding", b"csrf={csrf}&email=%ff%fe%40example.org", "could not be read", (400,), None),
        (
            "encoding",
            b"csrf={csrf}&email=ngo@example.org" + "é".encode(),
            "could not be read",
            (400,),
            None,
        ),
        ("overlong", b"csrf={csrf}&" + b"theme=tip&" * 2000, "too large", (413,), None),
        ("type", b"csrf={csrf}&email=ngo%40example.org", "send the form as", (415,), "text/plain"),
        (
            "type",
            b"csrf={csrf}&email=ngo%40example.org",
            "send the form as",
            (415,),
            "multipart/form-data",
        ),
    ]
    for family, body, words, status, content_type in structure:
        request = WebRequest(
            "/email/subscribe",
            b"",
            words,
            status,
            html_error=True,
            method="POST",
            body=body,
            content_type=content_type or "application/x-www-form-urlencoded",
        )
        cases.append(Case(QUERY, family, f"POST /email/subscribe {shown(body, 50)}", request))
    return cases


def _query_cases() -> list[Case]:
    cases = []
    for index, (family, text) in enumerate(hostile()):
        for offset, (name, paths) in enumerate(QUERY_PARAMS.items()):
            path = paths[(index + offset) % len(paths)]
            query = f"{name}={urllib.parse.quote(text, safe='')}".encode()
            words, status = (name[:5], (400,))
            if len(query) > 2048:
                words, status = ("longer than", (414,))
            label = f"GET {path}?{name}={shown(text, 40)}"
            folded = name in FOLDED_PARAMS and family in FOLDED_AWAY
            request = WebRequest(path, query, words, status, may_be_valid=folded)
            cases.append(Case(QUERY, family, label, request))
    structure = [
        ("unknown", "/calendar.ics", b"colour=red", "unknown parameter"),
        ("unknown", "/api/upcoming", b"country%5B%5D=AT", "unknown parameter"),
        ("unknown", "/", b"__proto__=x", "unknown parameter"),
        ("unknown", "/calendar.ics", b"=AT", "unknown parameter"),
        ("sql", "/api/upcoming", b"%27%3B%20DROP%20TABLE%20x%3B--=1", "unknown parameter"),
        ("duplicate", "/calendar.ics", b"lang=fr&lang=es", "more than once"),
        ("duplicate", "/api/upcoming", b"days=1&days=2", "more than once"),
        ("duplicate", "/calendar.ics", b"alarms=P1D&alarms=P2D", "more than once"),
        ("encoding", "/calendar.ics", b"country=%ff%fe", "country"),
        ("encoding", "/api/upcoming", b"country=%", "country"),
        ("encoding", "/", b"country=%zz", "country"),
        ("encoding", "/calendar.ics", b"country=%ed%a0%80", "country"),
        ("encoding", "/calendar.ics", b"theme=%c0%af", "theme"),
        ("overlong", "/calendar.ics", b"country=AT&" * 300, "longer than"),
        (
            "overlong",
            "/calendar.ics",
            b"alarms=" + b",".join(b"PT%dH" % n for n in range(1, 13)),
            "alarms",
        ),
        ("number", "/calendar.ics", b"alarms=P999W", "longer than a year"),
        ("number", "/api/upcoming", b"days=3651", "days"),
        ("number", "/calendar.ics", b"cluster=0", "cluster"),
        ("number", "/calendar.ics", b"cluster=%2B1", "cluster"),
        ("unknown", "/countries", b"sort=evil", "allowed: name, group, news"),
        ("unknown", "/countries", b"group=7", "allowed: 1, 2, 3, unknown"),
        ("unknown", "/api/countries", b"country=AT", "unknown parameter"),
        ("unknown", "/country/AT", b"sort=name", "unknown parameter"),
        ("duplicate", "/countries", b"sort=name&sort=news", "more than once"),
        ("overlong", "/countries", b"q=" + b"x" * 200, "too long"),
        ("overlong", "/api/countries", b"q=" + b"x" * 10_000, "longer than"),
    ]
    for family, path, query, words in structure:
        status = (414,) if len(query) > 2048 else (400,)
        label = f"GET {path}?{shown(query, 50)}"
        cases.append(Case(QUERY, family, label, WebRequest(path, query, words, status)))
    odd_but_valid = [
        b"country=",
        b"country=%20",
        b"country=,,,",
        b"country=AT,AT,at",
        b"theme=tip&theme=tip",
        b"days=0",
        b"alarms=",
    ]
    for query in odd_but_valid:
        path = "/api/upcoming" if query.startswith(b"days") else "/calendar.ics"
        request = WebRequest(path, query, None, (200,))
        cases.append(Case(QUERY, "blank", f"GET {path}?{shown(query)}", request))
    tokens = [text for _, text in hostile()] + [
        "A" * 43,
        "A" * 64,
        "A" * 65,
        "-" * 43,
        "..%2F..%2Fetc%2Fpasswd",
    ]
    for token in tokens:
        path = "/calendar/" + urllib.parse.quote(token, safe="") + ".ics"
        request = WebRequest(path, b"", "Not Found", (404,))
        cases.append(Case(QUERY, "token", f"GET /calendar/{shown(token, 40)}.ics", request))
    for family, text in hostile():
        code = urllib.parse.quote(text, safe="")
        for path, html_error in ((f"/country/{code}", True), (f"/api/country/{code}", False)):
            # a "/" in the code is another path, which no route serves
            words = "Not Found" if "/" in text or not text else "ISO code"
            valid = len(text.strip()) == 2 and text.isascii() and text.strip().isalpha()
            request = WebRequest(
                path, b"", words, (404,), may_be_valid=valid, html_error=html_error
            )
            cases.append(Case(QUERY, family, f"GET {shown(path, 50)}", request))
    return cases + _email_cases() + _report_cases()


def _web_problem(request: WebRequest, status: int, content_type: str, text: str) -> str | None:
    if status >= 500:
        return f"HTTP {status}"
    if "Traceback" in text:
        return "a traceback in the answer"
    if request.words is None or (request.may_be_valid and status == 200):
        return None if status == 200 else f"HTTP {status} for a valid query: {text[:80]!r}"
    if status not in request.status:
        return f"HTTP {status}, expected {request.status}: {text[:80]!r}"
    # a State's page answers in HTML, its JSON twin in JSON; every other error is plain text
    html_page = request.html_error and content_type.startswith("text/html")
    json_twin = status == 404 and content_type.startswith("application/json")
    if not (html_page or json_twin or content_type.startswith("text/plain")):
        return f"the error is {content_type}, not plain text"
    if request.words.lower() not in text.lower():
        return f"the error does not name the problem: {text[:80]!r}"
    return None


async def _web_cases(cases: Sequence[Case], lab: Lab, url: str, path: Path, tally: Tally) -> None:
    import httpx

    from bot.db import subscribers
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.settings import load_settings

    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            await subscribers.ensure_subscriber(
                session, channel="telegram", address="1001", now=NOW, display_name="Ada"
            )
        settings = load_settings(
            DATABASE_URL=url,
            PUBLIC_BASE_URL="https://watch.example.org",
            SMTP_URL="smtp://relay.example.org:587",  # never reached: the web only queues
            MAIL_FROM="alerts@watch.example.org",
        )
        publisher = Publisher(lab.dataset, store, settings.public_base_url, clock=lambda: NOW)
        app = create_app(settings, lab.dataset, publisher)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
            for warm in ("/calendar.ics", "/api/upcoming", "/"):
                await http.get(warm)  # the feeds record their versions once
            front = (await http.get("/")).text  # the sign-up form, with its CSRF token
            csrf = front.split('name="csrf" value="', 1)[1].split('"', 1)[0].encode()
            state_page = await http.get("/country/AT")  # the report form: token and cookie
            report = state_page.text.split('name="token" value="', 1)[1].split('"', 1)[0].encode()
            cookies = dict(state_page.cookies)
            for number, case in enumerate(cases):
                request: WebRequest = case.payload
                before, mark = rows(path), lab.errors.mark()
                if request.path == REPORT_PATH:
                    # each from its own address: the form's limit per address is not the point
                    own = httpx.ASGITransport(
                        app=app,
                        raise_app_exceptions=False,
                        client=(f"10.9.{number // 250}.{number % 250}", 1),
                    )
                    async with httpx.AsyncClient(
                        transport=own, base_url="http://web", cookies=cookies
                    ) as sender:
                        response = await sender.post(
                            "http://web" + request.path,
                            content=request.body.replace(REPORT, report),
                            headers={"Content-Type": request.content_type},
                        )
                elif request.method == "POST":
                    response = await http.post(
                        "http://web" + request.path,
                        content=request.body.replace(CSRF, csrf),
                        headers={"Content-Type": request.content_type},
                    )
                else:
                    response = await http.get(
                        httpx.URL("http://web" + request.path, query=request.query)
                    )
                problem = _first(
                    _web_problem(
                        request,
                        response.status_code,
                        response.headers.get("content-type", ""),
                        response.text,
                    ),
                    damage(
                        before,
                        rows(path),
                        request.may_change if response.status_code == 200 else frozenset(),
                    ),
                    lab.logged(mark),
                )
                tally.add(case, problem, accepted=response.status_code == 200)
    finally:
        await store.close()


def run_web(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Query strings and calendar addresses, through the ASGI app."""
    url, path = lab.database("web")
    asyncio.run(_web_cases(cases, lab, url, path, tally))
