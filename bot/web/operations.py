"""Readiness and metrics for operators, computed from the database when asked.

Several web and worker processes share one database, so the database is the one place
that knows the whole truth: outbox depth and age, what was sent, failed or given up per
channel, and whether a worker leads. Nothing here counts in memory.

Those figures are for the operators: `may_see_details` says who may read them (the
bearer of `METRICS_TOKEN`, or a client on this machine when none is set); anyone else
learns only whether the service is ready. Answers are reused for a few seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from bot.db import stats
from bot.db.store import Store

MAX_LAG = dt.timedelta(minutes=15)
T = TypeVar("T")


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, Any]


async def readiness(store: Store | None, now: dt.datetime) -> Readiness:
    """Whether this deployment can do its job right now, and why not."""
    if store is None:
        return Readiness(False, {"database": "not configured or not migrated"})
    checks: dict[str, Any] = {}
    try:
        async with store.sessions() as session:
            oldest = await stats.oldest_overdue(session, now)
        checks["database"] = "ok"
    except Exception as exc:
        return Readiness(False, {"database": f"unreachable: {type(exc).__name__}"})
    lag = (now - oldest).total_seconds() if oldest is not None else 0.0
    checks["outbox_lag_seconds"] = round(lag, 1)
    leader = await stats.leader_known(store.engine)
    checks["leader"] = (
        "embedded (single worker)" if leader is None else ("yes" if leader else "none")
    )
    ready = leader is not False and lag <= MAX_LAG.total_seconds()
    return Readiness(ready, checks)


class _Snapshot:
    """A collector that yields families computed beforehand (the query is async)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Any:
        return iter(self.families)


async def metrics(
    store: Store | None, now: dt.datetime, extra: list[GaugeMetricFamily] | None = None
) -> bytes:
    """The Prometheus exposition of the deployment's state."""
    families: list[GaugeMetricFamily] = list(extra or [])
    if store is not None:
        families += await _families(store, now)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return generate_latest(registry)


async def _families(store: Store, now: dt.datetime) -> list[GaugeMetricFamily]:
    async with store.sessions() as session:
        counts = await stats.counts(session)
    by_state, oldest, active, sources = (
        counts.by_state,
        counts.oldest_waiting,
        counts.active,
        counts.sources,
    )
    deliveries = GaugeMetricFamily(
        "untoc_deliveries", "Outbox rows by channel and state", labels=["channel", "state"]
    )
    for channel, state, count in by_state:
        deliveries.add_metric([str(channel), str(state)], float(count))
    waiting = sum(c for _, s, c in by_state if s in ("pending", "failed", "sending"))
    depth = GaugeMetricFamily("untoc_outbox_depth", "Alerts waiting to be sent")
    depth.add_metric([], float(waiting))
    age = GaugeMetricFamily("untoc_outbox_oldest_age_seconds", "Age of the oldest waiting alert")
    age.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
    subscribers = GaugeMetricFamily("untoc_subscribers", "Active subscribers", labels=["channel"])
    for channel, count in active:
        subscribers.add_metric([str(channel)], float(count))
    failures = GaugeMetricFamily(
        "untoc_source_consecutive_failures", "Failed polls in a row", labels=["source"]
    )
    success = GaugeMetricFamily(
        "untoc_source_last_success_timestamp_seconds",
        "When the source was last fetched successfully (Unix time)",
        labels=["source"],
    )
    for source_id, failed, last_success in sources:
        failures.add_metric([source_id], float(failed))
        if last_success is not None:
            success.add_metric([source_id], last_success.timestamp())
    return [deliveries, depth, age, subscribers, failures, success]


def may_see_details(authorization: str | None, client: str | None, token: str | None) -> bool:
    """Whether a request may read the outbox and the sources: the token's bearer when one
    is set, else a client on this machine (behind a proxy on it, set the token)."""
    if token is not None:
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            given.strip().encode(), token.encode()
        )
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


class Reused(Generic[T]):
    """The last answer of `compute`, reused for `seconds`: each one queries the database,
    and a monitor polling every second from several places should not."""

    def __init__(
        self, compute: Callable[[], Awaitable[T]], seconds: float, clock: Callable[[], float]
    ) -> None:
        self.compute, self.seconds, self.clock = compute, seconds, clock
        self.value: T | None = None
        self.at = -math.inf
        self.lock = asyncio.Lock()

    async def get(self) -> T:
        async with self.lock:  # one query at a time, the others take its answer
            if self.value is None or self.clock() - self.at >= self.seconds:
                self.value = await self.compute()
                self.at = self.clock()
            return self.value
