"""The evidence pages and the report form's endpoint, mounted by `create_app`.

- `/evidence/{id}`: what a proposal or report rests on. For the watcher's, the page as
  it was read, the sentence the date was read from marked (`<mark>`); for a report, the
  link and words the reporter gave, never who they are; for both, who decided and when.
- `/changes/{id}`: what a watched page's change added and removed.
- `POST /country/{code}/report`: the State page's report form (`report_form.py`).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.db.engine import DatabaseError
from bot.filters.vocabulary import Vocabulary
from bot.publishing.publisher import Publisher
from bot.text.i18n import LANGUAGES, Texts, negotiate
from bot.web.report_form import COOKIE, HONEYPOT, MAX_BODY, ReportForm, take
from config.urls import web_url
from feeds.reports import mask

if TYPE_CHECKING:
    from bot.db.store import Store

T = TypeVar("T")

# Where a piece of a line is: plain, or the quoted sentence the date was read from.
Piece = tuple[str, bool]
MAX_ID = 2**63 - 1


def highlight(lines: Sequence[str], quote: str | None) -> list[list[Piece]]:
    """Each line in pieces, the quoted sentences (one per line of `quote`) marked."""
    sentences = [s.strip() for s in (quote or "").split("\n") if len(s.strip()) >= 3]
    marked = []
    for line in lines:
        pieces: list[Piece] = [(line, False)]
        for sentence in sentences:
            found: list[Piece] = []
            for text, is_mark in pieces:
                at = -1 if is_mark else text.find(sentence)
                if at < 0:
                    found.append((text, is_mark))
                    continue
                end = at + len(sentence)
                found += [(text[:at], False), (sentence, True), (text[end:], False)]
            pieces = [(t, m) for t, m in found if t]
        marked.append(pieces)
    return marked


def changed_lines(before: Sequence[str], after: Sequence[str]) -> tuple[list[str], list[str]]:
    """Lines added and removed (a line that only moved is neither), in page order."""
    old, new = set(before), set(after)
    return [line for line in after if line not in old], [line for line in before if line not in new]


def decider(decided_by: str | None) -> str | None:
    """Who decided, as the public sees it: an operator's chat identity is masked."""
    if decided_by is None:
        return None
    return mask(decided_by) if ":" in decided_by else decided_by


def evidence_routes(
    templates: Environment,
    publisher: Publisher,
    vocabulary: Vocabulary,
    form: ReportForm,
    common: Callable[[str], dict[str, object]],
) -> list[Route]:
    """The routes of this module, sharing the app's templates and page frame."""
    evidence_page = templates.get_template("evidence.html")
    change_page = templates.get_template("change.html")
    sent_page = templates.get_template("report_sent.html")

    def language_of(request: Request) -> str:
        asked = request.query_params.get("lang")
        return asked if asked in LANGUAGES else negotiate(request.headers.get("accept-language"))

    def page(body: str, language: str, status: int = 200) -> Response:
        headers = {"Content-Language": language, "Vary": "Accept-Language"}
        return HTMLResponse(body, status_code=status, headers=headers)

    def number(request: Request) -> int | None:
        raw = str(request.path_params["id"])
        return int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID else None

    def not_found(language: str) -> Response:
        texts = Texts(language)
        return PlainTextResponse(texts("Nothing is recorded under this number.") + "\n", 404)

    async def recorded(
        request: Request, fetch: Callable[[Store, int], Awaitable[T | None]]
    ) -> tuple[str, T] | Response:
        """The reader's language and what `fetch` finds under the path's number, or the
        answer that says why there is nothing to show."""
        language = language_of(request)
        wanted = number(request)
        store = publisher.store
        if wanted is None or store is None:
            return not_found(language)
        try:
            found = await fetch(store, wanted)
        except (DatabaseError, OSError):
            texts = Texts(language)
            text = texts("The database does not answer just now; try again in a minute.")
            return PlainTextResponse(text + "\n", 503, headers={"Retry-After": "60"})
        return (language, found) if found is not None else not_found(language)

    async def evidence(request: Request) -> Response:
        looked_up = await recorded(request, lambda store, n: store.evidence(n))
        if isinstance(looked_up, Response):
            return looked_up
        language, found = looked_up
        body = evidence_page.render(
            **common(language),
            item=found,
            link=web_url(found.url),
            lines=highlight(found.page, found.excerpt) if found.page is not None else None,
            decided_by=decider(found.decided_by),
            moment=_moment,
        )
        return page(body, language)

    async def change(request: Request) -> Response:
        looked_up = await recorded(request, lambda store, n: store.page_change(n))
        if isinstance(looked_up, Response):
            return looked_up
        language, found = looked_up
        added, removed = changed_lines(found.before, found.after)
        body = change_page.render(
            **common(language),
            change=found,
            link=web_url(found.url),
            added=added,
            removed=removed,
            moment=_moment,
        )
        return page(body, language)

    async def report(request: Request) -> Response:
        language = language_of(request)
        texts = Texts(language)
        code = str(request.path_params["code"]).upper()
        snapshot = await publisher.snapshot()
        if len(code) != 2 or code not in snapshot.dataset.states:
            return PlainTextResponse(texts("No State party has this code") + "\n", 404)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return PlainTextResponse("the form is too large\n", 413)
        try:
            pairs = urllib.parse.parse_qsl(
                raw.decode("utf-8"), keep_blank_values=True, errors="strict"
            )
        except (UnicodeDecodeError, ValueError):
            return PlainTextResponse("the form is not UTF-8 form data\n", 400)
        fields = {key: value for key, value in pairs[:20]}
        outcome = await take(
            form,
            fields,
            code=code,
            nonce=request.cookies.get(COOKIE),
            address=request.client.host if request.client else "unknown",
            texts=texts,
            store=publisher.store,
            dataset=snapshot.dataset,
            vocabulary=vocabulary,
        )
        body = sent_page.render(
            **common(language),
            outcome=outcome,
            code=code,
            name=texts.country(code),
        )
        return page(body, language, outcome.status)

    return [
        Route("/evidence/{id}", evidence, methods=["GET"]),
        Route("/changes/{id}", change, methods=["GET"]),
        Route("/country/{code}/report", report, methods=["POST"]),
    ]


def form_fields(form: ReportForm, code: str, request: Request) -> tuple[dict[str, object], str]:
    """What the State page's form needs (its token), and the nonce to set as its cookie."""
    token, nonce = form.issue(code, request.cookies.get(COOKIE))
    return {"report_token": token, "honeypot": HONEYPOT}, nonce


def set_form_cookie(response: Response, nonce: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE, nonce, max_age=7200, httponly=True, samesite="strict", secure=secure
    )


def _moment(texts: Texts, when: dt.datetime) -> str:
    return texts.moment(when, "UTC")
