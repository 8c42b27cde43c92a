"""The ASGI app of the web process: the public page, calendar feeds, the JSON API, health.

Stateless apart from caches: every answer comes from the `Publisher`, which reads the
dataset and the facts recorded in the database. Any number of web processes can run
side by side. Bad requests get a 4xx whose text names the problem and the fix.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
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
from bot.text.render import (
    CONFIDENCE_LABELS,
    KIND_NAMES,
    STATUS_LABELS,
    THEME_NAMES,
    deadline_to_dict,
)
from bot.web.operations import metrics, readiness
from config.dataset import THEMES, Dataset
from config.settings import Settings
from schedulers.timeline import Deadline, reader_title, upcoming

FEED_PARAMS = frozenset({"country", "cluster", "kind", "theme", "lang", "alarms"})
PAGE_PARAMS = frozenset({"country", "cluster", "kind", "theme", "lang", "days"})
API_PARAMS = frozenset({"country", "cluster", "kind", "theme", "days"})
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


def calendar_response(request: Request, feed: Feed, filename: str) -> Response:
    """The feed with validators, 304 when the client has it, gzip when asked."""
    wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    etag = feed.etag[:-1] + '-gzip"' if wants_gzip else feed.etag
    headers = {
        "ETag": etag,
        "Last-Modified": _http_date(feed.last_modified),
        "Cache-Control": "public, max-age=300",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, feed, etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    if wants_gzip:
        headers["Content-Encoding"] = "gzip"
        return Response(feed.gzipped, media_type=CALENDAR_TYPE, headers=headers)
    return Response(feed.body, media_type=CALENDAR_TYPE, headers=headers)


def create_app(
    settings: Settings,
    dataset: Dataset,
    publisher: Publisher,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the app around settings, the dataset and a publisher (nothing global).

    `extra_routes` are the chat services' endpoints (Slack events, Telegram webhook).
    """
    templates = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["readable"] = _readable
    page_template = templates.get_template("index.html")
    vocabulary = Vocabulary(dataset)
    base_url = settings.public_base_url

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        state = await readiness(publisher.store, publisher.clock())
        body = {"ready": state.ready, **state.checks}
        return JSONResponse(body, status_code=200 if state.ready else 503)

    async def prometheus(request: Request) -> Response:
        body = await metrics(publisher.store, publisher.clock())
        return Response(body, media_type=CONTENT_TYPE_LATEST)

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
            personal = await publisher.store.personal_feed(token)
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
        return calendar_response(request, feed, "untoc-watch.ics")

    @_bad_request
    async def api_upcoming(request: Request) -> Response:
        query = _query(request, dataset, API_PARAMS, vocabulary)
        now = publisher.clock()
        found = upcoming(await publisher.deadlines(), now, query.days, query.selection)
        return JSONResponse([deadline_to_dict(d) for d in found])

    @_bad_request
    async def page(request: Request) -> Response:
        query = _query(request, dataset, PAGE_PARAMS, vocabulary)
        language = query.language or negotiate(request.headers.get("accept-language"))
        texts = Texts(language)
        now = publisher.clock()
        found = upcoming(await publisher.deadlines(), now, query.days, query.selection)
        feed_params = query_string(Query(selection=query.selection, language=language))
        feed_path = "/calendar.ics" + (
            "?" + urllib.parse.urlencode(feed_params) if feed_params else ""
        )
        https_url = base_url + feed_path
        webcal_url = "webcal://" + https_url.split("://", 1)[1]
        payload = deeplink.encode(query.selection)
        telegram = settings.telegram_bot_username
        html = page_template.render(
            t=texts,
            language=language,
            languages=[(code, Texts(code).language_name) for code in LANGUAGES],
            rows=[_row(d, texts, now) for d in found],
            days=query.days,
            selected=query.selection,
            countries=sorted(dataset.states, key=texts.country),
            clusters=list(dataset.clusters.values()),
            themes=[(theme, texts(THEME_NAMES[theme])) for theme in THEMES],
            webcal_url=webcal_url,
            download_url=feed_path,
            google_url="https://calendar.google.com/calendar/r?cid="
            + urllib.parse.quote(webcal_url, safe=""),
            telegram_url=(
                f"https://t.me/{telegram}?start={payload}" if telegram and payload else None
            ),
            switch_links=[
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
            ],
        )
        return HTMLResponse(html, headers={"Content-Language": language, "Vary": "Accept-Language"})

    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/calendar.ics", calendar, methods=["GET"]),
            Route("/calendar/{token}.ics", personal_calendar, methods=["GET"]),
            Route("/api/upcoming", api_upcoming, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *extra_routes,
        ]
    )


@pass_context
def _readable(context: Context, text: object) -> str:
    """A text of the page with its left-to-right stretches isolated for a right-to-left
    reader (".ics", not "ics."), in the page's language as the template's `t` says."""
    texts: Texts = context["t"]
    return isolate(str(text), "plain", texts.direction)


def _row(deadline: Deadline, texts: Texts, now: dt.datetime) -> dict[str, object]:
    """What the page shows for one deadline, in the reader's language."""
    title = reader_title(deadline, texts, texts.country)
    if isinstance(deadline.due, dt.datetime) and isinstance(deadline.local, dt.datetime):
        moment = deadline.due
        when = texts.moment(deadline.due, deadline.zone or "UTC")
        if deadline.end_of_day:
            when = texts("{date}, midnight (end of day), {zone} time").format(
                date=texts.date((deadline.local - dt.timedelta(days=1)).date()),
                zone=texts.city(deadline.zone or "UTC"),
            )
    else:
        day = deadline.due if isinstance(deadline.due, dt.date) else now.date()
        moment = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
        when = texts.date(day)
        if isinstance(deadline.end, dt.date) and deadline.end != deadline.due:
            when = texts("{start} to {end}").format(start=when, end=texts.date(deadline.end))
    return {
        "id": deadline.id,
        "title": title,
        "when": when,
        "iso": deadline.due.isoformat(),
        "countdown": texts.countdown(moment - now),
        "status": deadline.status,
        "status_label": texts(STATUS_LABELS[deadline.status]),
        "confidence": deadline.confidence,
        "confidence_label": texts(CONFIDENCE_LABELS[deadline.confidence]),
        "kind_label": texts(KIND_NAMES[deadline.kind]),
        "hint": texts(deadline.hint) if deadline.hint else None,
        "url": deadline.url,
        "source": deadline.source,
        "cluster": deadline.cluster,
    }
