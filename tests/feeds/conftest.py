"""Fixtures for the watcher's tests: the local fake UNODC site and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from feeds.fetch import LOOPBACK_NETWORKS, AddressPolicy, Fetcher, HostPacer
from tests.fakes.unodc_site import FakeUnodcSite

TEST_USER_AGENT = "UNTOC-Watch/test (+https://github.com/untoc-watch/untoc-watch)"


@pytest.fixture
def site() -> Iterator[FakeUnodcSite]:
    """A fake UNODC site on 127.0.0.1 and a free port, empty until a test publishes."""
    with FakeUnodcSite() as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with short timeouts, as the tests' slow pages need."""
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(1.0, connect=1.0), follow_redirects=False, trust_env=False
    ) as http:
        yield http


@pytest.fixture
def fetcher(client: httpx.AsyncClient) -> Fetcher:
    """A fetcher that may reach loopback (the fake site) and nothing else private."""
    return Fetcher(
        client,
        user_agent=TEST_USER_AGENT,
        policy=AddressPolicy(allowed=LOOPBACK_NETWORKS),
        pacer=HostPacer(0.0),
        max_bytes=256 * 1024,
        total_timeout=1.0,
    )
