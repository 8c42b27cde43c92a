"""Server-side request forgery: the watcher never fetches private or loopback addresses."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import urllib.parse

from reliability.inputs import (
    Lab,
)
from reliability.security._common import Finding, _verdict


class Canary:
    """Listens on a loopback address the watcher must never reach, counting connections."""

    def __init__(self, host: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.hits += 1
            connection.close()

    def __enter__(self) -> Canary:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _ssrf_checks(lab: Lab) -> list[Finding]:
    import httpx

    from feeds.fetch import AddressPolicy, Fetcher, FetchError, HostPacer, SourceRefused
    from tests.fakes.unodc_site import FakeUnodcSite

    names = {
        "metadata.example": ["169.254.169.254"],
        "intranet.example": ["10.1.2.3"],
        "half-private.example": ["93.184.216.34", "192.168.1.1"],
        "loopback6.example": ["::1"],
        "mapped.example": ["::ffff:10.0.0.1"],
        "shared.example": ["100.64.0.1"],
        "nat64.example": ["64:ff9b::a00:1"],  # 10.0.0.1 through NAT64
        "sixtofour.example": ["2002:a9fe:a9fe::1"],  # 169.254.169.254 through 6to4
    }

    async def resolver(host: str, port: int) -> list[str]:
        if host in names:
            return names[host]
        from feeds.fetch import resolve

        return await resolve(host, port)

    problems: list[str] = []
    tried = unparsed = 0
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(FakeUnodcSite())
        canary = stack.enter_context(Canary("127.0.0.2"))
        canary6 = stack.enter_context(Canary("::1")) if _ipv6_loopback() else None
        port, port6 = canary.port, canary6.port if canary6 else 1
        targets = [
            f"http://127.0.0.2:{port}/",
            f"http://2130706434:{port}/",  # 127.0.0.2 as one decimal number
            f"http://0x7f000002:{port}/",
            f"http://0177.0.0.2:{port}/",  # octal
            f"http://127.2:{port}/",  # the short dotted form
            f"http://0x7f.0.0.2:{port}/",
            f"http://[::ffff:127.0.0.2]:{port}/",
            f"http://[::1]:{port6}/",
            f"http://[0:0:0:0:0:0:0:1]:{port6}/",
            f"http://0.0.0.0:{port}/",
            f"http://0:{port}/",
            "http://10.0.0.1/",
            "http://167772161/",  # 10.0.0.1
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/latest/meta-data/",  # 169.254.169.254
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
            "http://[64:ff9b::a00:1]/",  # 10.0.0.1, NAT64 (RFC 6052)
            "http://[64:ff9b:1::a00:1]/",  # 10.0.0.1, local-use NAT64 (RFC 8215)
            f"http://[64:ff9b::7f00:2]:{port}/",  # 127.0.0.2, NAT64
            "http://[2002:a00:1::1]/",  # 10.0.0.1, 6to4
            f"http://[2002:7f00:2::1]:{port}/",  # 127.0.0.2, 6to4
            "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo, client 10.0.0.1
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://user:pass@10.0.0.1/",
            "http://metadata.example/",
            "http://intranet.example/",
            "http://half-private.example/",
            "http://loopback6.example/",
            "http://mapped.example/",
            "http://shared.example/",
            "http://nat64.example/",
            "http://sixtofour.example/",
        ]
        schemes = ["file:///etc/passwd", "gopher://127.0.0.2:70/", "ftp://10.0.0.1/", "data:,x"]
        local = (ipaddress.ip_network("127.0.0.1/32"),)
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), trust_env=False) as client:
            fetcher = Fetcher(
                client,
                user_agent="UNTOC-Watch/security",
                policy=AddressPolicy(allowed=local),  # the fake site's address, nothing else
                pacer=HostPacer(0.0),
                resolver=resolver,
                total_timeout=10.0,
            )
            for number, target in enumerate(targets + schemes):
                for how in ("directly", "by a redirect"):
                    if how == "directly":
                        address = target
                    else:
                        address = site.url(f"/hop-{number}")
                        site.redirect(f"/hop-{number}", target)
                    tried += 1
                    try:
                        await fetcher.fetch(address)
                    except SourceRefused:
                        continue
                    except FetchError as error:
                        if "Invalid URL" in str(error):  # httpx would not even parse it
                            unparsed += 1
                            continue
                        problems.append(f"{target} {how}: {type(error).__name__}: {error}")
                    except Exception as error:
                        problems.append(f"{target} {how}: crashed ({type(error).__name__})")
                    else:
                        problems.append(f"{target} {how}: fetched")
            default = Fetcher(client, user_agent="UNTOC-Watch/security", pacer=HostPacer(0.0))
            tried += 1
            try:
                await default.fetch(site.url("/hop-0"))
                problems.append("the default policy fetched a loopback address")
            except SourceRefused:
                pass
            # DNS rebinding: the check is told a public address, the connection (through
            # the system's resolver) reaches loopback. Refused before any request is sent.
            site.set("/rebound", body=b"<p>internal</p>")

            async def rebinding(host: str, port: int) -> list[str]:
                return ["93.184.216.34"]

            rebound = Fetcher(
                client, user_agent="UNTOC-Watch/security", pacer=HostPacer(0.0), resolver=rebinding
            )
            tried += 1
            try:
                await rebound.fetch(
                    f"http://localhost:{urllib.parse.urlsplit(site.url('/')).port}/rebound"
                )
                problems.append("a name rebound to loopback was fetched")
            except SourceRefused:
                pass
            except FetchError as error:
                problems.append(f"a name rebound to loopback: {type(error).__name__}: {error}")
            if site.hits("/rebound"):
                problems.append("a request reached loopback through a rebound name")
        hits = canary.hits + (canary6.hits if canary6 else 0)
        if hits:
            problems.append(f"{hits} connections reached the canary on loopback")
    return [
        _verdict(
            "watcher SSRF",
            problems,
            f"{tried} fetches of private, loopback, link-local and metadata addresses (decimal, "
            "octal, hex, short and IPv6 forms; names that resolve there; redirects to them; "
            f"other schemes) refused before connecting ({unparsed} already by httpx's URL "
            "parser), and a name whose answer changed between the check and the connection "
            "(DNS rebinding) refused before any request; no connection reached the canaries",
        )
    ]
