"""Fetching watched pages politely and safely, over an `httpx.AsyncClient` passed in.

The fetcher follows redirects itself (a bounded number), so that every hop is checked:
only http(s), and never a loopback, private, link-local or otherwise internal address
unless the operator allowed it, so a page cannot redirect the watcher into the host's
own network. The name is checked before the request and the address actually connected
to once more before anything is sent, so a DNS answer that changes in between (DNS
rebinding) cannot lead there either. Bodies are read as a stream and cut at a size cap,
counted after decoding as they are decoded (`Inflater`), so a few compressed bytes that
would expand to gigabytes stop at the cap; a body may carry one content encoding at most;
requests are conditional (ETag, Last-Modified), so an unchanged page costs a 304;
requests to one host are spaced by a politeness delay. Failures are a small hierarchy:
`SourceUnavailable` means "retry later", `SourceRefused` means the operator must fix
something.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 20.0
# A page that keeps trickling bytes in under the read timeout is still cut off here.
TOTAL_TIMEOUT = 45.0
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
# A Retry-After longer than the watcher's longest backoff is read as that backoff.
MAX_RETRY_AFTER = 24 * 3600.0
# An error page or redirect body this small is read, so the connection can be reused.
DRAIN_BYTES = 64 * 1024
HOST_DELAY = 2.0
MAX_CONNECTIONS = 10
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The content encodings the watcher decodes itself, counting every decoded byte.
ACCEPT_ENCODING = "gzip, deflate"
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "text/calendar;q=0.9,application/xml;q=0.8,*/*;q=0.5"
)
# What tests and benchmarks open for their local fake site, and nothing more.
LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class FetchError(Exception):
    """A fetch that brought no usable page; `retry_after` is a wait the server asked for."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after: float | None = None


class SourceUnavailable(FetchError):
    """Temporary: the host did not answer, timed out, or answered with a server error."""


class SourceRefused(FetchError):
    """The operator must act: a 4xx page, a forbidden address, too many redirects, too big."""


@dataclass(frozen=True)
class FetchResult:
    """A page as fetched: a 304 has no body, anything else is a 2xx with its bytes."""

    url: str
    status_code: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    redirects: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a fetch may reach: public ones, plus what the operator allowed.

    `allow_private` opens loopback and private ranges (a source on an intranet);
    `allowed` opens only the networks named (tests open 127.0.0.0/8 and nothing else).
    """

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = ()

    def permits(self, address: str) -> bool:
        """True when a fetch may connect to `address`."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = embedded_ipv4(ip)
            if embedded:  # the IPv4 host a translator or tunnel would lead to decides
                return all(self.permits(str(inner)) for inner in embedded)
        if ip.is_unspecified or ip.is_multicast:
            return False
        if any(ip in network for network in self.allowed):
            return True
        if ip.is_global:
            return True
        # Link-local stays closed even then: cloud metadata services live there.
        return self.allow_private and (ip.is_private or ip.is_loopback) and not ip.is_link_local


# NAT64 prefixes: the well-known one (RFC 6052) and the local-use one (RFC 8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped, NAT64, 6to4 or Teredo.

    A translator or tunnel on the path would deliver such an address to that IPv4 host,
    so a private IPv4 inside one is as private as it is bare.
    """
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if any(ip in network for network in _NAT64):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [server, client]
    return []


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, through the event loop's resolver."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass
class HostPacer:
    """Spaces requests to one host by `delay` seconds, whatever the number of sources."""

    delay: float = HOST_DELAY
    clock: Callable[[], float] = time.monotonic
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)

    async def wait_turn(self, host: str) -> None:
        """Return when a request to `host` may start (at least `delay` after the last one)."""
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            wait = self._last.get(host, -self.delay) + self.delay - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last[host] = self.clock()


def http_client(*, timeout: float = READ_TIMEOUT) -> httpx.AsyncClient:
    """The HTTP client the watcher uses: timeouts, pooled connections, no auto-redirects."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=5),
        follow_redirects=False,
    )


class Fetcher:
    """Fetches one URL at a time safely; share one per process (it paces hosts)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        user_agent: str,
        policy: AddressPolicy = AddressPolicy(),
        pacer: HostPacer | None = None,
        resolver: Resolver = resolve,
        max_bytes: int = MAX_BODY_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        total_timeout: float = TOTAL_TIMEOUT,
    ) -> None:
        self.client = client
        self.user_agent = user_agent
        self.policy = policy
        self.pacer = pacer or HostPacer()
        self.resolver = resolver
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.total_timeout = total_timeout

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url`, conditionally when validators are given; raises a `FetchError`."""
        current = url
        for hop in range(self.max_redirects + 1):
            host = await self._check(current)
            headers = {
                "User-Agent": self.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            }
            if hop == 0 and etag:
                headers["If-None-Match"] = etag
            if hop == 0 and last_modified:
                headers["If-Modified-Since"] = last_modified
            await self.pacer.wait_turn(host)
            try:
                async with asyncio.timeout(self.total_timeout):
                    response = await self._send(current, headers)
                    try:
                        if response.status_code not in _REDIRECTS:
                            return await self._result(response, current, hop)
                        location = response.headers.get("location")
                    finally:
                        await _release(response)
            except TimeoutError:
                raise SourceUnavailable(
                    f"no complete answer within {self.total_timeout:g} s"
                ) from None
            if not location:
                raise SourceRefused(f"{response.status_code} redirect without a Location")
            current = urljoin(current, location)
        raise SourceRefused(f"more than {self.max_redirects} redirects (last to {current})")

    async def _check(self, url: str) -> str:
        """Refuse what the watcher must not fetch; returns the host to pace."""
        try:
            parts = urlsplit(url)
            port = parts.port  # raises for a port out of range
        except ValueError as exc:
            raise SourceRefused(f"{url[:200]!r} is not a valid address ({exc})") from None
        if parts.scheme not in {"http", "https"}:
            raise SourceRefused(f"only http and https are fetched, not {parts.scheme or url!r}")
        host = parts.hostname
        if not host:
            raise SourceRefused(f"no host in {url!r}")
        port = port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [host] if _is_ip(host) else list(await self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise SourceUnavailable(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise SourceUnavailable(f"{host} resolves to no address")
        refused = [a for a in addresses if not self.policy.permits(a)]
        if refused:
            raise SourceRefused(
                f"{host} resolves to {refused[0]}, a loopback or private address; "
                "set WATCHER_ALLOW_PRIVATE=true to watch sources on your own network"
            )
        return host

    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        try:
            request = self.client.build_request(
                "GET", url, headers=headers, extensions=self._connect_check(url)
            )
            return await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise SourceUnavailable(f"{type(exc).__name__}: {exc or 'connection failed'}") from None
        except (httpx.InvalidURL, httpx.RequestError) as exc:
            # httpx reads a redirect's Location even when not following it, and refuses
            # one that is no URL ("javascript:..."): the page is broken, not the network.
            raise SourceRefused(f"not a usable address: {exc}") from None

    def _connect_check(self, url: str) -> dict[str, Any]:
        """The request extension that checks the address each new connection reached.

        A connection to another host than the URL's is a proxy's (the operator's choice,
        from the environment); it resolves the name itself, so there is nothing of ours
        to check there.
        """
        # The host as the connection names it (IDNA-encoded, no brackets).
        host = httpx.URL(url).raw_host.decode("ascii").lower()
        connecting: list[str] = []

        async def trace(event: str, info: Mapping[str, Any]) -> None:
            if event == "connection.connect_tcp.started":
                connecting[:] = [str(info.get("host", "")).strip("[]").lower()]
                return
            if event != "connection.connect_tcp.complete" or connecting != [host]:
                return
            stream = info.get("return_value")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            if stream is not None and (not peer or not self.policy.permits(str(peer[0]))):
                await stream.aclose()
                raise SourceRefused(
                    f"{host} led the connection to {peer[0] if peer else 'an unknown address'}, "
                    "a loopback or private address, after it resolved to a public one; set "
                    "WATCHER_ALLOW_PRIVATE=true to watch sources on your own network"
                )

        return {"trace": trace}

    async def _result(self, response: httpx.Response, url: str, redirects: int) -> FetchResult:
        status = response.status_code
        headers = response.headers
        if status == 304:
            return FetchResult(
                url, 304, etag=headers.get("etag"), last_modified=headers.get("last-modified")
            )
        if status >= 400 or status < 200:
            error: FetchError
            if status in _RETRYABLE:
                error = SourceUnavailable(f"HTTP {status}", status_code=status)
                error.retry_after = _retry_after(headers.get("retry-after"))
            else:
                error = SourceRefused(f"HTTP {status}", status_code=status)
            raise error
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceRefused(
                f"the page is {int(declared)} bytes, more than the {self.max_bytes}-byte cap",
                status_code=status,
            )
        try:
            inflater = Inflater(headers.get("content-encoding"), self.max_bytes)
        except ValueError as exc:
            raise SourceRefused(f"the page cannot be decoded: {exc}", status_code=status) from None
        chunks: list[bytes] = []
        try:
            # Raw bytes, decoded here: httpx would decode a whole chunk at once, unbounded.
            async for raw in response.aiter_raw():
                chunks.append(inflater.feed(raw))
            chunks.append(inflater.finish())
        except BodyTooLarge:
            raise SourceRefused(
                f"the page is more than the {self.max_bytes}-byte cap", status_code=status
            ) from None
        except httpx.TimeoutException:
            raise SourceUnavailable("timed out while reading the page") from None
        except httpx.TransportError as exc:
            raise SourceUnavailable(f"the connection broke while reading: {exc}") from None
        except zlib.error as exc:  # e.g. "gzip" declared and plain text sent
            raise SourceRefused(f"the page cannot be decoded: {exc}", status_code=status) from None
        return FetchResult(
            url,
            status,
            b"".join(chunks),
            content_type=headers.get("content-type"),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            redirects=redirects,
        )


class BodyTooLarge(Exception):
    """The decoded body went past the cap."""


class Inflater:
    """Decodes a body with at most one content encoding, never past `limit` bytes.

    Each compressed chunk is inflated with zlib's `max_length`, so the memory used is
    bounded by the cap whatever the ratio (a gzip bomb sends a few kilobytes that expand
    to gigabytes); the decoded size is counted as it grows, and one byte past the cap
    raises `BodyTooLarge`. Stacked encodings ("gzip, gzip") are refused: no server has a
    reason to send them, and each layer multiplies the ratio.
    """

    def __init__(self, encoding: str | None, limit: int) -> None:
        layers = [part.strip().lower() for part in (encoding or "").split(",") if part.strip()]
        layers = [layer for layer in layers if layer != "identity"]
        if len(layers) > 1:
            raise ValueError(f"{len(layers)} content encodings ({encoding}); at most one is read")
        self.kind = layers[0] if layers else None
        if self.kind not in {None, "gzip", "x-gzip", "deflate"}:
            raise ValueError(f"content encoding {self.kind!r} is not one this watcher reads")
        self.limit = limit
        self.size = 0
        self._zlib: Any = None
        if self.kind in {"gzip", "x-gzip"}:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise BodyTooLarge
        return data

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of one raw chunk."""
        if self.kind is None:
            return self._count(data)
        if self._zlib is None:  # deflate: a zlib stream, or (from some servers) raw deflate
            header_ok = len(data) >= 2 and (data[0] * 256 + data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if header_ok else -zlib.MAX_WBITS)
        out = []
        pending = data
        while pending:
            room = self.limit - self.size + 1
            piece = self._zlib.decompress(pending, room)
            out.append(self._count(piece))
            pending = self._zlib.unconsumed_tail
        return b"".join(out)

    def finish(self) -> bytes:
        """What the decoder still holds at the end of the body."""
        if self._zlib is None:
            return b""
        return self._count(self._zlib.flush(self.limit - self.size + 1))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header in its seconds form, at most a day; dates are ignored."""
    text = value.strip() if value else ""
    if text.isascii() and text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    return None


async def _release(response: httpx.Response) -> None:
    """Close a response so its connection can be reused: a short unread body is read first.

    Closing a response with its body unread (even an empty one, as a 304 has) drops the
    connection; reading a few bytes is cheaper than a new TCP (and TLS) handshake.
    """
    if not response.is_stream_consumed:
        declared = response.headers.get("content-length", "")
        if response.status_code == 304 or (declared.isdigit() and int(declared) <= DRAIN_BYTES):
            with contextlib.suppress(httpx.HTTPError):  # then it is dropped, as before
                await response.aread()
    await response.aclose()
