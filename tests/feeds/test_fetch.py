"""The fetcher against the local fake site: validators, redirects, caps, timeouts, addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

import httpx
import pytest

from feeds.fetch import (
    LOOPBACK_NETWORKS,
    AddressPolicy,
    Fetcher,
    HostPacer,
    SourceRefused,
    SourceUnavailable,
)
from tests.fakes.unodc_site import FakeUnodcSite, fixture
from tests.feeds.conftest import TEST_USER_AGENT

PAGE = "/unodc/en/ngos/constructive-dialogues.html"


async def test_a_page_comes_with_its_validators_and_an_honest_user_agent(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    result = await fetcher.fetch(site.url(PAGE))
    assert result.status_code == 200
    assert result.body == fixture("constructive-dialogues-v1.html")
    assert result.etag and result.last_modified
    agent = site.last_request(PAGE).headers["User-Agent"]
    assert agent == TEST_USER_AGENT and "https://github.com/untoc-watch" in agent


async def test_an_unchanged_page_costs_a_304(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    first = await fetcher.fetch(site.url(PAGE))
    again = await fetcher.fetch(site.url(PAGE), etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.body == b""
    assert site.last_request(PAGE).headers["If-None-Match"] == first.etag
    site.publish_fixture(PAGE, "constructive-dialogues-v2.html")
    changed = await fetcher.fetch(site.url(PAGE), etag=first.etag)
    assert changed.status_code == 200 and changed.etag != first.etag


async def test_connections_are_kept_after_a_304_an_error_or_a_redirect(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    site.set("/error", status=500, body=b"<h1>Server error</h1>")
    site.redirect("/moved", PAGE)
    first = await fetcher.fetch(site.url(PAGE))
    await fetcher.fetch(site.url(PAGE), etag=first.etag)
    with pytest.raises(SourceUnavailable):
        await fetcher.fetch(site.url("/error"))
    await fetcher.fetch(site.url("/moved"))
    assert len({request.client_port for request in site.requests}) == 1


async def test_redirects_are_followed_a_bounded_number_of_times(site, fetcher):
    site.publish_fixture("/new.html", "constructive-dialogues-v1.html")
    site.redirect("/old.html", "/new.html", status=301)
    result = await fetcher.fetch(site.url("/old.html"))
    assert result.url == site.url("/new.html") and result.redirects == 1
    site.redirect("/loop-a", "/loop-b")
    site.redirect("/loop-b", "/loop-a")
    with pytest.raises(SourceRefused, match="more than 5 redirects"):
        await fetcher.fetch(site.url("/loop-a"))


async def test_a_redirect_to_a_private_address_is_refused_before_connecting(site, fetcher):
    site.redirect("/moved", "http://10.20.30.40/admin")
    with pytest.raises(SourceRefused, match=r"10\.20\.30\.40, a loopback or private address"):
        await fetcher.fetch(site.url("/moved"))
    assert site.hits("/moved") == 1


async def test_loopback_is_refused_unless_the_operator_allows_it(site, client):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    strict = Fetcher(client, user_agent=TEST_USER_AGENT, pacer=HostPacer(0.0))
    with pytest.raises(SourceRefused, match="WATCHER_ALLOW_PRIVATE"):
        await strict.fetch(site.url(PAGE))
    assert site.hits(PAGE) == 0
    trusting = Fetcher(
        client,
        user_agent=TEST_USER_AGENT,
        policy=AddressPolicy(allow_private=True),
        pacer=HostPacer(0.0),
    )
    assert (await trusting.fetch(site.url(PAGE))).status_code == 200


async def test_a_name_that_resolves_to_a_private_address_is_refused(site, client):
    async def resolver(host: str, port: int) -> list[str]:
        return ["192.168.1.10"] if host == "intranet.example" else ["127.0.0.1"]

    fetcher = Fetcher(
        client,
        user_agent=TEST_USER_AGENT,
        policy=AddressPolicy(allowed=LOOPBACK_NETWORKS),
        pacer=HostPacer(0.0),
        resolver=resolver,
    )
    with pytest.raises(SourceRefused, match=r"192\.168\.1\.10"):
        await fetcher.fetch("http://intranet.example/page")


async def test_a_name_that_answers_public_then_private_is_refused_before_any_request(site, client):
    """DNS rebinding: the check sees a public address, the connection reaches loopback."""
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    port = site.url(PAGE).split(":")[2].split("/")[0]

    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]  # what the check is told; the connection gets 127.0.0.1

    strict = Fetcher(client, user_agent=TEST_USER_AGENT, pacer=HostPacer(0.0), resolver=rebinding)
    with pytest.raises(SourceRefused, match=r"led the connection to (127\.0\.0\.1|::1)"):
        await strict.fetch(f"http://localhost:{port}{PAGE}")
    assert site.hits(PAGE) == 0
    # The same connection is fine where the operator allowed loopback.
    trusting = Fetcher(
        client,
        user_agent=TEST_USER_AGENT,
        policy=AddressPolicy(allowed=LOOPBACK_NETWORKS),
        pacer=HostPacer(0.0),
        resolver=rebinding,
    )
    assert (await trusting.fetch(f"http://localhost:{port}{PAGE}")).status_code == 200


async def test_through_a_proxy_the_connection_is_the_proxys_and_not_refused(site):
    """The operator's proxy (on their network) resolves and connects for us."""
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    proxy = site.url("/").rstrip("/")

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    async with httpx.AsyncClient(proxy=proxy, trust_env=False) as through:
        fetcher = Fetcher(
            through, user_agent=TEST_USER_AGENT, pacer=HostPacer(0.0), resolver=public
        )
        with pytest.raises(SourceRefused, match="HTTP 404"):  # the fake is no real proxy
            await fetcher.fetch(f"http://watched.example{PAGE}")
    assert site.hits(f"http://watched.example{PAGE}") == 1  # it reached the proxy


async def test_only_http_and_https_are_fetched(fetcher):
    with pytest.raises(SourceRefused, match="only http and https"):
        await fetcher.fetch("file:///etc/passwd")


async def test_a_name_that_does_not_resolve_is_a_temporary_failure(client):
    async def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    fetcher = Fetcher(client, user_agent=TEST_USER_AGENT, resolver=resolver)
    with pytest.raises(SourceUnavailable, match=r"cannot resolve www\.unodc\.org"):
        await fetcher.fetch("https://www.unodc.org/unodc/en/ngos/cst.html")


async def test_errors_are_split_into_retry_later_and_operator_must_act(site, fetcher):
    site.set("/busy", status=503, body=b"busy")
    with pytest.raises(SourceUnavailable, match="HTTP 503") as busy:
        await fetcher.fetch(site.url("/busy"))
    assert busy.value.status_code == 503
    with pytest.raises(SourceRefused, match="HTTP 404"):
        await fetcher.fetch(site.url("/gone"))


async def test_a_refused_connection_is_a_temporary_failure(fetcher):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(SourceUnavailable):
        await fetcher.fetch(f"http://127.0.0.1:{port}/")


async def test_bodies_over_the_cap_are_refused_declared_or_streamed(site, fetcher):
    site.set("/declared", body=b"x" * 10, declared_length=10 * 1024 * 1024)
    with pytest.raises(SourceRefused, match="cap"):
        await fetcher.fetch(site.url("/declared"))
    site.set("/streamed", stream_bytes=2 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(SourceRefused, match="cap"):
        await fetcher.fetch(site.url("/streamed"))
    assert time.perf_counter() - started < 1.0


async def test_a_slow_page_times_out(site, fetcher):
    site.publish("/slow", b"<p>late</p>", delay=1.5)
    started = time.perf_counter()
    with pytest.raises(SourceUnavailable, match=r"timed out|no complete answer"):
        await fetcher.fetch(site.url("/slow"))
    assert time.perf_counter() - started < 1.4


async def test_requests_to_one_host_are_spaced(site, client):
    site.publish("/a", b"<p>a</p>")
    site.publish("/b", b"<p>b</p>")
    fetcher = Fetcher(
        client,
        user_agent=TEST_USER_AGENT,
        policy=AddressPolicy(allowed=LOOPBACK_NETWORKS),
        pacer=HostPacer(0.3),
    )
    started = time.perf_counter()
    await asyncio.gather(fetcher.fetch(site.url("/a")), fetcher.fetch(site.url("/b")))
    assert time.perf_counter() - started >= 0.3
    with FakeUnodcSite(host="127.0.0.2") as other:
        other.publish("/c", b"<p>c</p>")
        started = time.perf_counter()
        await asyncio.gather(fetcher.fetch(site.url("/a")), fetcher.fetch(other.url("/c")))
        assert time.perf_counter() - started < 0.6  # one wait for 127.0.0.1, none for .2


@pytest.mark.parametrize(
    ("address", "default", "with_private"),
    [
        ("93.184.216.34", True, True),
        ("2606:4700::6810:85e5", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, True),
        ("172.16.0.1", False, True),
        ("192.168.0.1", False, True),
        ("::ffff:10.0.0.1", False, True),
        ("169.254.169.254", False, False),
        ("fe80::1", False, False),
        ("0.0.0.0", False, False),
        ("224.0.0.1", False, False),
        # a private IPv4 inside NAT64, 6to4 and Teredo addresses is as private as it is bare
        ("64:ff9b::a00:1", False, True),
        ("64:ff9b:1::a00:1", False, True),
        ("64:ff9b::a9fe:a9fe", False, False),
        ("64:ff9b::5db8:d822", True, True),
        ("2002:a00:1::1", False, True),
        ("2002:7f00:1::1", False, True),
        ("2002:5db8:d822::1", True, True),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False, True),
        ("2001:0:4136:e378:8000:63bf:a247:27dd", True, True),
    ],
)
def test_address_policy(address, default, with_private):
    assert AddressPolicy().permits(address) is default
    assert AddressPolicy(allow_private=True).permits(address) is with_private


def test_opening_loopback_for_tests_opens_nothing_else():
    policy = AddressPolicy(allowed=LOOPBACK_NETWORKS)
    assert policy.permits("127.0.0.1") and policy.permits("127.0.0.2")
    assert not policy.permits("10.0.0.1")
    assert ipaddress.ip_network("127.0.0.0/8") in LOOPBACK_NETWORKS


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9)


@pytest.fixture
def raw_site():
    from reliability.inputs import RawSite

    with RawSite() as served:
        yield served


async def _fetch_raw(raw_site, client, body: bytes, encoding: str):
    from reliability.inputs import HostilePage

    raw_site.pages["/p"] = HostilePage(body=body, headers=(("Content-Encoding", encoding),))
    policy = AddressPolicy(allowed=LOOPBACK_NETWORKS)
    fetcher = Fetcher(client, user_agent="test", policy=policy, pacer=HostPacer(0.0))
    return await fetcher.fetch(raw_site.url("/p"))


@pytest.mark.parametrize("encoding", ["gzip", "deflate-zlib", "deflate-raw", "identity"])
async def test_one_content_encoding_is_decoded(raw_site, client, encoding):
    import zlib

    page = b"<main><p>Constructive Dialogue on Firearms: 5 May 2027</p></main>" * 50
    body, header = {
        "gzip": (_gzip(page), "gzip"),
        "deflate-zlib": (zlib.compress(page), "deflate"),
        "deflate-raw": (zlib.compress(page, wbits=-15), "deflate"),
        "identity": (page, "identity"),
    }[encoding]
    result = await _fetch_raw(raw_site, client, body, header)
    assert result.body == page


async def test_a_gzip_bomb_stops_at_the_cap_with_bounded_memory(raw_site, client):
    import tracemalloc

    bomb = _gzip(b"\0" * (128 * 1024 * 1024))  # 128 MiB of zeros in about 130 kB
    tracemalloc.start()
    try:
        with pytest.raises(SourceRefused, match="byte cap"):
            await _fetch_raw(raw_site, client, bomb, "gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Decoding a whole 64 KiB chunk at once (as httpx does) peaked at 142 MiB here; the
    # bound is the cap (5 MiB) plus one inflated piece of the same size.
    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


async def test_stacked_content_encodings_are_refused_before_decoding(raw_site, client):
    bomb = _gzip(_gzip(b"\0" * (64 * 1024 * 1024)))  # two layers: a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(SourceRefused, match="2 content encodings"):
        await _fetch_raw(raw_site, client, bomb, "gzip, gzip")
    with pytest.raises(SourceRefused, match="not one this watcher reads"):
        await _fetch_raw(raw_site, client, b"xx", "br")
