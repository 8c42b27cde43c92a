"""A local fake "UNODC site": real HTTP on 127.0.0.1, pages in successive versions.

Serves the fixture pages in `tests/fakes/unodc/` (written by us in the shape of the
real pages, see DOMAIN.md section 5) or any body a test publishes, with ETags and
Last-Modified (so conditional requests get a 304), and on demand: slow answers,
redirects (including one to a private address), 404/500, an oversized body (declared
or streamed), a body cut off mid-way, and a body that changes at every request. Every request is recorded.
The server runs in a thread of its own (`start`/`stop`), or in a child process for
the benchmark, so that the client's CPU time can be measured apart from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import sys
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).with_name("unodc")
CHUNK = 64 * 1024


def fixture(name: str) -> bytes:
    """The bytes of a fixture page, as the site serves them."""
    return (FIXTURES / name).read_bytes()


@dataclass(frozen=True)
class Page:
    """What the site answers on one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: bool = True
    last_modified: bool = True
    delay: float = 0.0
    location: str | None = None
    # Send no Content-Length and stream this many bytes (an oversized body in chunks).
    stream_bytes: int = 0
    # Declare this Content-Length (a body too big to even start reading).
    declared_length: int | None = None
    # "{n}" in the body becomes the request count: a new version at every request.
    rotating: bool = False
    # Declare the whole body, send only this many bytes of it, and close the connection.
    cut_after: int | None = None
    version: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    """A request the site received, and the client port it came from (one per connection)."""

    path: str
    headers: Mapping[str, str]
    client_port: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up (a cut-off oversized body, a timeout)
        super().handle_error(request, client_address)


@dataclass
class FakeUnodcSite:
    """The fake site; use as a context manager or call `start` and `stop`."""

    host: str = "127.0.0.1"
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    _server: _Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counts: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> FakeUnodcSite:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a free port of `host` and serve in a daemon thread."""
        self._server = _Server((self.host, 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the site first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def publish(self, path: str, body: bytes | str, **options: Any) -> None:
        """Serve a new version of `path` (a new ETag and Last-Modified)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            version = self.pages[path].version + 1 if path in self.pages else 1
            self.pages[path] = Page(body=data, version=version, **options)

    def publish_fixture(self, path: str, name: str, **options: Any) -> None:
        self.publish(path, fixture(name), **options)

    def set(self, path: str, **changes: Any) -> None:
        """Change how `path` answers (status, delay, redirect...) keeping its body."""
        with self._lock:
            self.pages[path] = replace(self.pages.get(path, Page()), **changes)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.set(path, status=status, location=location)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def last_request(self, path: str) -> RecordedRequest:
        return [r for r in self.requests if r.path == path][-1]

    def _answer(self, path: str) -> tuple[Page, bytes, int]:
        with self._lock:
            page = self.pages.get(path)
            count = self._counts.get(path, 0) + 1
            self._counts[path] = count
        if page is None:
            return Page(status=404, body=b"<h1>Not found</h1>", etag=False), b"", count
        body = page.body.replace(b"{n}", str(count).encode()) if page.rotating else page.body
        return page, body, count


def _handler(site: FakeUnodcSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests read `site.requests` instead

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            site.requests.append(
                RecordedRequest(path, dict(self.headers.items()), self.client_address[1])
            )
            page, body, count = site._answer(path)
            if page.delay:
                time.sleep(page.delay)
            tag = hashlib.sha256(body).hexdigest()[:16]
            etag = f'"{tag}"'
            modified = formatdate(
                1_600_000_000 + page.version * 3600 + count * page.rotating, usegmt=True
            )
            if page.location is not None:
                self._head(page.status, {"Location": page.location, "Content-Length": "0"})
                return
            conditional = self.headers.get("If-None-Match")
            if page.status == 200 and page.etag and conditional == etag:
                self._head(304, {"ETag": etag})
                return
            headers = {"Content-Type": page.content_type}
            if page.etag and page.status == 200:
                headers["ETag"] = etag
            if page.last_modified and page.status == 200:
                headers["Last-Modified"] = modified
            if page.stream_bytes:
                self._stream(page, headers)
                return
            declared = page.declared_length if page.declared_length is not None else len(body)
            headers["Content-Length"] = str(declared)
            self._head(page.status, headers)
            if page.cut_after is not None:
                declared = page.cut_after
                self.close_connection = True
            with contextlib.suppress(ConnectionError):
                self.wfile.write(body[:declared])

        def _head(self, status: int, headers: Mapping[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _stream(self, page: Page, headers: dict[str, str]) -> None:
            headers["Transfer-Encoding"] = "chunked"
            self._head(page.status, headers)
            sent = 0
            try:
                while sent < page.stream_bytes:
                    size = min(CHUNK, page.stream_bytes - sent)
                    self.wfile.write(f"{size:x}\r\n".encode() + b"x" * size + b"\r\n")
                    sent += size
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


def _serve_forever(pages: Mapping[str, Page], ready: Any) -> None:
    site = FakeUnodcSite(pages=dict(pages))
    site.start()
    ready.put(site.base_url)
    while True:
        time.sleep(3600)


def serve_in_process(pages: Mapping[str, Page]) -> Generator[str, None, None]:
    """Serve `pages` from a child process; yields the base URL, stops the process after."""
    context = multiprocessing.get_context("fork")
    ready = context.Queue()
    process = context.Process(target=_serve_forever, args=(pages, ready), daemon=True)
    process.start()
    try:
        yield ready.get(timeout=10)
    finally:
        process.terminate()
        process.join(timeout=5)
