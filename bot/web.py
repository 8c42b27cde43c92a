"""The ASGI app of the web process: the JSON API and health, on Starlette.

Stateless: every request computes from the dataset (and recorded dates) at the moment
of the request, so any number of web processes can run side by side.
"""

from __future__ import annotations

import datetime as dt

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.render import deadline_to_dict
from bot.store import RecordedFacts, Store
from config.countries import UnknownCountry, resolve_country
from config.dataset import Dataset
from config.settings import Settings
from schedulers.timeline import Selection, compute_deadlines, upcoming

MAX_DAYS = 3650


def create_app(settings: Settings, dataset: Dataset, store: Store | None) -> Starlette:
    """Build the app around settings, a loaded dataset and the store (nothing global)."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def api_upcoming(request: Request) -> JSONResponse:
        params = request.query_params
        try:
            days = int(params.get("days", "90"))
            if not 0 <= days <= MAX_DAYS:
                raise ValueError
        except ValueError:
            return JSONResponse(
                {"error": f"days must be a whole number from 0 to {MAX_DAYS}"}, status_code=400
            )
        try:
            countries = {
                resolve_country(c, dataset.states, dataset.aliases)
                for c in params.getlist("country")
            }
        except UnknownCountry as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        now = dt.datetime.now(dt.UTC)
        recorded = await store.recorded_facts() if store is not None else RecordedFacts()
        deadlines = compute_deadlines(recorded.apply(dataset), now)
        found = upcoming(deadlines, now, days, Selection(countries=countries))
        return JSONResponse([deadline_to_dict(d) for d in found])

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/upcoming", api_upcoming, methods=["GET"]),
        ]
    )
