"""The ASGI app of the web process: the public page, calendar feeds, the JSON API, health.

Stateless apart from caches: every answer comes from the `Publisher`, which reads the
dataset and the facts recorded in the database. Any number of web processes can run
side by side. Bad requests get a 4xx whose text names the problem and the fix.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.db.engine import DatabaseError
from bot.filters import deeplink
from bot.filters.query import Query, QueryError, parse_query, query_string
from bot.filters.vocabulary import Vocabulary
from bot.publishing.publisher import Feed, Publisher
from bot.text.bidi import isolate
from bot.text.i18n import LANGUAGES, Texts, negotiate
from bot.text.render import THEME_NAMES
from bot.web.countries import (
    CountryView,
    Freshness,
    IndexQuery,
    UnknownState,
    country_index,
    country_json,
    country_view,
    deadline_json,
    index_json,
    index_params,
    latest_fact,
    parse_index_query,
    state_code,
)
from bot.web.email import EmailPages
from bot.web.evidence import evidence_routes, form_fields, set_form_cookie
from bot.web.operations import Readiness, Reused, may_see_details, metrics, readiness
from bot.web.report_form import ReportForm
from bot.web.rows import row
from bot.web.security import SecureSite, style_hashes
from bot.web.views import country_context, index_context, quiet_context, subscribe_links
from config.dataset import THEMES, Dataset
from config.keys import calendar_key as read_calendar_key
from config.settings import Settings
from config.urls import web_url
from feeds.atom import MEDIA_TYPE as ATOM_TYPE
from schedulers.timeline import MECHANISM_ZONE, Selection, upcoming

FEED_PARAMS = frozenset({"country", "cluster", "kind", "theme", "lang", "alarms"})
PAGE_PARAMS = frozenset({"country", "cluster", "kind", "theme", "lang", "days"})
API_PARAMS = frozenset({"country", "cluster", "kind", "theme", "days"})
STATE_PAGE_PARAMS = frozenset({"lang"})
ATOM_PARAMS = frozenset({"country", "cluster", "kind", "theme", "lang"})
CALENDAR_TYPE = "text/calendar; charset=utf-8"
# Seconds a client is asked to wait while the database does not answer.
DATABASE_RETRY_AFTER = 60
Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger(__name__)


def _query(
    request: Request, dataset: Dataset, allowed: frozenset[str], vocabulary: Vocabulary
) -> Query:
    return parse_query(
        request.query_params.multi_items(),
        dataset,
        allowed,
        raw_length=len(request.url.query),
        vocabulary=vocabulary,
    )


def _bad_request(handler: Handler) -> Handler:
    """Turn a `QueryError` into its 4xx with the message as plain text."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except QueryError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=exc.status)

    return wrapped


def _http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def _not_modified(request: Request, feed: Feed, etag: str) -> bool:
    """RFC 9110: If-None-Match wins; If-Modified-Since only counts without it."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return feed.last_modified <= since
    return False


def calendar_response(
    request: Request,
    feed: Feed,
    filename: str,
    media_type: str = CALENDAR_TYPE,
    *,
    private: bool = False,
) -> Response:
    """The feed with validators, 304 when the client has it, gzip when asked.

    A personal calendar is `private`: its address is its owner's secret, and a shared
    cache (a proxy, a CDN) must not keep a copy for others to ask for.
    """
    wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    etag = feed.etag[:-1] + '-gzip"' if wants_gzip else feed.etag
    headers = {
        "ETag": etag,
        "Last-Modified": _http_date(feed.last_modified),
        "Cache-Control": "private, max-age=300" if private else "public, max-age=300",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, feed, etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    if wants_gzip:
        headers["Content-Encoding"] = "gzip"
        return Response(feed.gzipped, media_type=media_type, headers=headers)
    return Response(feed.body, media_type=media_type, headers=headers)


def create_app(
    settings: Settings,
    dataset: Dataset,
    publisher: Publisher,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    calendar_key: bytes | None = None,
) -> SecureSite:
    """Build the app around settings, the dataset and a publisher (nothing global).

    `extra_routes` are the chat services' endpoints (Slack events, Telegram webhook);
    `calendar_key` the process's calendar key (read from the settings when not given).
    """
    template_dir = Path(__file__).with_name("templates")
    templates = Environment(
        loader=FileSystemLoader(template_dir),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["readable"] = _readable
    templates.filters["web_url"] = _shown_url
    page_template = templates.get_template("index.html")
    vocabulary = Vocabulary(dataset)
    country_template = templates.get_template("country.html")
    index_template = templates.get_template("countries.html")
    not_found_template = templates.get_template("not_found.html")
    base_url = settings.public_base_url
    secret = settings.web_form_secret
    form = ReportForm(secret.get_secret_value().encode() if secret else None, publisher.clock)

    def common(language: str, switch: list[tuple[str, str]]) -> dict[str, object]:
        return {
            "t": Texts(language),
            "language": language,
            "languages": [(code, Texts(code).language_name) for code in LANGUAGES],
            "switch_links": switch,
        }

    key = calendar_key if calendar_key is not None else read_calendar_key(settings)
    email_pages = EmailPages(settings, dataset, publisher.store, templates, common, publisher.clock)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    reuse = settings.metrics_cache_seconds

    async def ready_now() -> Readiness:
        return await readiness(publisher.store, publisher.clock())

    async def metrics_now() -> bytes:
        return await metrics(publisher.store, publisher.clock())

    ready_state = Reused(ready_now, reuse, time.monotonic)
    metrics_state = Reused(metrics_now, reuse, time.monotonic)

    def operator(request: Request) -> bool:
        client = request.client.host if request.client else None
        return may_see_details(request.headers.get("authorization"), client, token)

    async def readyz(request: Request) -> Response:
        state = await ready_state.get()
        status = 200 if state.ready else 503
        if not operator(request):
            return PlainTextResponse("ok\n" if state.ready else "not ready\n", status_code=status)
        return JSONResponse({"ready": state.ready, **state.checks}, status_code=status)

    async def prometheus(request: Request) -> Response:
        if not operator(request):
            return PlainTextResponse(
                "Unauthorized\n", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return Response(await metrics_state.get(), media_type=CONTENT_TYPE_LATEST)

    @_bad_request
    async def calendar(request: Request) -> Response:
        query = _query(request, dataset, FEED_PARAMS, vocabulary)
        feed = await publisher.feed(query)
        return calendar_response(request, feed, "untoc-watch.ics")

    async def personal_calendar(request: Request) -> Response:
        token = request.path_params["token"]
        if publisher.store is None:
            return PlainTextResponse("Not Found\n", status_code=404)
        try:
            personal = await publisher.store.personal_feed(token, key)
        except (DatabaseError, OSError) as exc:
            # Only the database knows whose token this is. Calendar apps keep their copy
            # on a 503 and come back after Retry-After.
            log.warning("personal calendar: the database did not answer (%s)", type(exc).__name__)
            return PlainTextResponse(
                "The service cannot read its database just now; your calendar app keeps its "
                "copy and will try again.\n",
                status_code=503,
                headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            )
        if personal is None:
            return PlainTextResponse("Not Found\n", status_code=404)
        feed = await publisher.feed(Query(selection=personal.selection), personal.language)
        return calendar_response(request, feed, "untoc-watch.ics", private=True)

    @_bad_request
    async def news(request: Request) -> Response:
        query = _query(request, dataset, ATOM_PARAMS, vocabulary)
        self_url = base_url.rstrip("/") + "/feed.atom"
        if request.url.query:
            self_url += "?" + urllib.parse.urlencode(query_string(query))
        feed = await publisher.news(query, self_url)
        return calendar_response(request, feed, "untoc-watch.atom", ATOM_TYPE)

    @_bad_request
    async def api_upcoming(request: Request) -> Response:
        query = _query(request, dataset, API_PARAMS, vocabulary)
        now = publisher.clock()
        found = upcoming(await publisher.deadlines(), now, query.days, query.selection)
        return JSONResponse([deadline_json(d) for d in found])

    async def checked_at() -> dt.datetime | None:
        """When the watcher last read a source successfully, if the database says."""
        if publisher.store is None:
            return None
        try:
            states = await publisher.store.source_states()
        except (DatabaseError, OSError):
            return None
        return max((s.last_success_at for s in states.values() if s.last_success_at), default=None)

    def html(body: str, language: str, status: int = 200) -> Response:
        headers = {"Content-Language": language, "Vary": "Accept-Language"}
        return HTMLResponse(body, status_code=status, headers=headers)

    def lang_switch() -> list[tuple[str, str]]:
        return [(code, f"?lang={code}") for code in LANGUAGES]

    @_bad_request
    async def page(request: Request) -> Response:
        query = _query(request, dataset, PAGE_PARAMS, vocabulary)
        language = query.language or negotiate(request.headers.get("accept-language"))
        texts = Texts(language)
        now = publisher.clock()
        deadlines = await publisher.deadlines()
        found = upcoming(deadlines, now, query.days, query.selection)
        announced = any(d.status != "expected" for d in found)
        snapshot = await publisher.snapshot()
        links = subscribe_links(
            base_url,
            query_string(Query(selection=query.selection, language=language)),
            settings.telegram_bot_username,
            query.selection,
        )
        switch = [
            (
                code,
                "?"
                + urllib.parse.urlencode(
                    query_string(
                        Query(selection=query.selection, language=code, days=query.days),
                        with_days=True,
                    )
                ),
            )
            for code in LANGUAGES
        ]
        body = page_template.render(
            **common(language, switch),
            **links,
            rows=[row(d, texts, now) for d in found],
            announced=announced,
            quiet=None
            if announced
            else quiet_context(deadlines, snapshot.dataset, texts, now, query.days),
            fresh=await freshness(),
            signup=await email_pages.form(language),
            days=query.days,
            selected=query.selection,
            countries=sorted(dataset.states, key=texts.country),
            clusters=list(dataset.clusters.values()),
            themes=[(theme, texts(THEME_NAMES[theme])) for theme in THEMES],
        )
        return html(body, language)

    async def freshness() -> Freshness:
        now = publisher.clock()
        today = now.astimezone(MECHANISM_ZONE).date()
        data = (await publisher.snapshot()).dataset
        known = latest_fact(data, await publisher.deadlines(), today)
        return Freshness(today, known, await checked_at())

    async def state_view(request: Request) -> CountryView | UnknownState:
        """The view of the State a path names, or why there is none."""
        snapshot = await publisher.snapshot()
        try:
            code = state_code(request.path_params["code"], snapshot.dataset)
        except UnknownState as exc:
            return exc
        now = publisher.clock()
        return country_view(
            snapshot.dataset,
            code,
            await publisher.deadlines(),
            now,
            checked_at=await checked_at(),
            telegram_payload=deeplink.encode(Selection(countries={code})),
        )

    @_bad_request
    async def country_page(request: Request) -> Response:
        query = _query(request, dataset, STATE_PAGE_PARAMS, vocabulary)
        language = query.language or negotiate(request.headers.get("accept-language"))
        texts = Texts(language)
        view = await state_view(request)
        if isinstance(view, UnknownState):
            raw = str(request.path_params["code"])
            shown = repr(raw if len(raw) <= 12 else raw[:12] + "...")
            body = not_found_template.render(**common(language, lang_switch()), shown=shown)
            return html(body, language, status=404)
        snapshot = await publisher.snapshot()
        selection = Selection(countries={view.code})
        links = subscribe_links(
            base_url,
            [("country", view.code), ("lang", language)],
            settings.telegram_bot_username,
            selection,
        )
        fields, nonce = form_fields(form, view.code, request)
        steps = [(s.id, texts(s.title)) for s in snapshot.dataset.milestones.values()]
        today = publisher.clock().astimezone(MECHANISM_ZONE).date().isoformat()
        body = country_template.render(
            **common(language, lang_switch()),
            **links,
            **country_context(view, snapshot.dataset, texts, publisher.clock()),
            signup=await email_pages.form(language, view.code),
            **fields,
            report_steps=steps,
            report_code=view.code,
            report_today=today,
        )
        response = html(body, language)
        set_form_cookie(response, nonce, base_url.startswith("https://"))
        return response

    async def api_country(request: Request) -> Response:
        if request.url.query:
            return PlainTextResponse("this address takes no parameters\n", status_code=400)
        view = await state_view(request)
        if isinstance(view, UnknownState):
            return JSONResponse({"error": str(view)}, status_code=404)
        return JSONResponse(country_json(view, base_url))

    def index_query(request: Request) -> IndexQuery:
        return parse_index_query(
            request.query_params.multi_items(), LANGUAGES, raw_length=len(request.url.query)
        )

    @_bad_request
    async def countries_page(request: Request) -> Response:
        query = index_query(request)
        language = query.language or negotiate(request.headers.get("accept-language"))
        query = replace(query, language=language)
        texts = Texts(language)
        now = publisher.clock()
        snapshot = await publisher.snapshot()
        switch = [
            (code, "?" + urllib.parse.urlencode(index_params(query, lang=code)))
            for code in LANGUAGES
        ]
        rows = country_index(snapshot.dataset, query, now)
        body = index_template.render(
            **common(language, switch),
            **index_context(query, texts, len(rows)),
            rows=rows,
            fresh=await freshness(),
        )
        return html(body, language)

    @_bad_request
    async def api_countries(request: Request) -> Response:
        query = index_query(request)
        if query.language is not None:
            raise QueryError("lang is for the page; the API answers in the dataset's English")
        snapshot = await publisher.snapshot()
        rows = country_index(snapshot.dataset, query, publisher.clock())
        return JSONResponse(index_json(rows, query))

    return SecureSite(
        public_base_url=base_url,
        styles=style_hashes(template_dir),
        max_body_size=settings.web_max_body_bytes,
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/calendar.ics", calendar, methods=["GET"]),
            Route("/calendar/{token}.ics", personal_calendar, methods=["GET"]),
            Route("/feed.atom", news, methods=["GET"]),
            *email_pages.routes(),
            Route("/api/upcoming", api_upcoming, methods=["GET"]),
            Route("/countries", countries_page, methods=["GET"]),
            Route("/country/{code}", country_page, methods=["GET"]),
            Route("/api/countries", api_countries, methods=["GET"]),
            Route("/api/country/{code}", api_country, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *evidence_routes(
                templates, publisher, vocabulary, form, lambda lang: common(lang, lang_switch())
            ),
            *extra_routes,
        ],
    )


def _shown_url(url: object) -> str:
    """A link of the page as an `href`: http(s) only, checked again on the way out (an
    empty string for anything else, which the templates then show as plain text)."""
    return (web_url(url) or "") if isinstance(url, str) else ""


@pass_context
def _readable(context: Context, text: object) -> str:
    """A text of the page with its left-to-right stretches isolated for a right-to-left
    reader (".ics", not "ics."), in the page's language as the template's `t` says."""
    texts: Texts = context["t"]
    return isolate(str(text), "plain", texts.direction)
