"""The words of the State pages and of the front page's quiet state, in one language.

The facts come from `bot/web/countries.py`, the same ones the JSON API gives; here they
only become what the templates show: translated titles, dates, rules and links.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Sequence
from typing import Any

from bot.filters import deeplink
from bot.text.i18n import Texts
from bot.web.countries import (
    CountryView,
    IndexQuery,
    index_params,
    mechanism_events,
)
from bot.web.rows import row
from config.dataset import Dataset, Progress
from schedulers.timeline import Deadline, Selection

QUIET_EXPECTED = 5


def subscribe_links(
    base_url: str, params: list[tuple[str, str]], telegram: str | None, selection: Selection
) -> dict[str, str | None]:
    """The calendar (webcal, Google, download), Atom and Telegram links for a selection."""
    feed_path = "/calendar.ics" + ("?" + urllib.parse.urlencode(params) if params else "")
    webcal_url = "webcal://" + (base_url + feed_path).split("://", 1)[1]
    payload = deeplink.encode(selection)
    feed_params = [(name, value) for name, value in params if name != "alarms"]
    return {
        "feed_url": "/feed.atom"
        + ("?" + urllib.parse.urlencode(feed_params) if feed_params else ""),
        "webcal_url": webcal_url,
        "download_url": feed_path,
        "google_url": "https://calendar.google.com/calendar/r?cid="
        + urllib.parse.quote(webcal_url, safe=""),
        "telegram_url": (
            f"https://t.me/{telegram}?start={payload}" if telegram and payload else None
        ),
    }


def _progress(progress: Progress, texts: Texts) -> dict[str, str]:
    when = (
        texts.month(progress.date) if progress.precision == "month" else texts.date(progress.date)
    )
    return {
        "when": when,
        "quote": progress.quote,
        "source": progress.source,
        "confidence": progress.confidence,
    }


def _rule(data: Dataset, milestone: str, texts: Texts) -> str:
    rule = data.milestones[milestone]
    span = texts.span(rule.offset.months, rule.offset.weeks, rule.offset.days)
    if rule.after == "start":
        return texts("within {span} of the start of the review").format(span=span)
    return texts("within {span} of the step: {step}").format(
        span=span, step=texts(data.milestones[rule.after].title)
    )


def country_context(
    view: CountryView, data: Dataset, texts: Texts, now: dt.datetime
) -> dict[str, Any]:
    """What `country.html` shows of one State's view."""
    review = view.review
    known = review.known
    progress = sorted(data.progress.values(), key=lambda p: p.date)
    latest = [p for p in progress if p.date <= view.freshness.as_of]
    next_step = view.next_step
    return {
        "name": texts.country(view.code),
        "review": review,
        "clusters": [
            (number, data.clusters[number].title, [row(d, texts, now) for d in steps])
            for number, steps in view.clusters
        ],
        "phases": review.phases,
        "latest_progress": _progress(latest[-1], texts) if latest else None,
        "known": known,
        "progress": [_progress(p, texts) for p in known.progress] if known else [],
        "steps_known": (
            [
                {"title": s.title, "hint": s.hint, "rule": _rule(data, s.milestone, texts)}
                for s in known.steps
            ]
            if known
            else []
        ),
        "events": [row(d, texts, now) for d in view.next_events],
        "held": [row(d, texts, now) for d in view.past_events],
        "actions": view.actions,
        "next_row": row(next_step, texts, now) if next_step else None,
        "fresh": view.freshness,
    }


def index_context(query: IndexQuery, texts: Texts, count: int) -> dict[str, Any]:
    """The sort choices and their links for `countries.html`, and how many are listed."""
    sorts = [
        ("name", texts("State")),
        ("group", texts("Group")),
        ("news", texts("Last news")),
    ]
    links = {
        value: "?" + urllib.parse.urlencode(index_params(query, sort=value)) for value, _ in sorts
    }
    counted = texts.plural("{count} State party", "{count} States parties", count)
    return {
        "sorts": sorts,
        "sort_links": links,
        "query": query,
        "count_text": counted.format(count=count),
    }


def quiet_context(
    deadlines: Sequence[Deadline], data: Dataset, texts: Texts, now: dt.datetime, days: int
) -> dict[str, Any]:
    """The front page when nothing announced falls in its window: what is expected next
    (with window and basis), what happened last, and what to do meanwhile."""
    expected = [d for d in deadlines if d.status == "expected" and d.country is None]
    _, held = mechanism_events(deadlines)
    heading = texts.plural(
        "Nothing is announced for the next {days} day.",
        "Nothing is announced for the next {days} days.",
        days,
    )
    return {
        "heading": heading.format(days=days),
        "expected": [row(d, texts, now) for d in expected[:QUIET_EXPECTED]],
        "held": [row(d, texts, now) for d in held],
        "actions": list(data.ngo_actions.values())[:3],
    }
