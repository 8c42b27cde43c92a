"""The web process's server on a real loopback socket: what one client may ask of it.

A raw socket, not an HTTP client, so the test can send what no polite client would: a
megabyte of headers, a head a line every few hundred milliseconds, a connection that
says nothing, more connections than allowed, a body over the limit.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from bot.publishing.publisher import Publisher
from bot.web.app import create_app
from bot.web.server import server_config
from config.dataset_loader import load_dataset
from config.settings import load_settings

HEAD_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
# What every answer carries, those uvicorn writes without the app included.
GUARDS = (
    b"content-security-policy: ",
    b"x-content-type-options: nosniff",
    b"x-frame-options: deny",
)


def guarded(answer: bytes) -> bool:
    head = answer.partition(b"\r\n\r\n")[0].lower()
    return all(guard in head for guard in GUARDS)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    settings = load_settings(
        WEB_HEADER_TIMEOUT=HEAD_TIMEOUT,
        WEB_KEEP_ALIVE=2,
        WEB_MAX_CONNECTIONS=4,
        WEB_MAX_BODY_BYTES=65536,
        WEB_MAX_HEADER_BYTES=16384,
        WEB_BODY_TIMEOUT=BODY_TIMEOUT,
    )
    dataset = load_dataset()
    publisher = Publisher(
        dataset,
        None,
        settings.public_base_url,
        clock=lambda: dt.datetime(2022, 3, 1, tzinfo=dt.UTC),
    )
    app = create_app(settings, dataset, publisher)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = server_config(app, settings, host, port)
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield host, port
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def connect(server: tuple[str, int]) -> socket.socket:
    conn = socket.create_connection(server, timeout=10)
    return conn


def read_all(conn: socket.socket, limit: float = 10) -> bytes:
    """Everything until the server closes (or `limit` seconds pass)."""
    conn.settimeout(limit)
    chunks = []
    try:
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def read_response(conn: socket.socket) -> bytes:
    """One response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_a_megabyte_of_headers_is_a_431_and_the_connection_closed(server):
    conn = connect(server)
    try:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
        try:
            for _ in range(64):
                conn.sendall(b"a" * 16384)
            conn.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what it answered is still there
        answer = read_all(conn)
    finally:
        conn.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert b"connection: close" in answer.lower() and guarded(answer)


def test_a_malformed_request_gets_a_400_with_the_security_headers(server):
    conn = connect(server)
    try:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBroken header line\r\n\r\n")
        answer = read_all(conn, limit=5)
    finally:
        conn.close()
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert guarded(answer), answer


def test_a_body_sent_a_byte_at_a_time_is_cut_with_a_408(server, caplog):
    conn = connect(server)
    started = time.monotonic()
    caplog.set_level(logging.WARNING)
    try:
        conn.sendall(
            b"POST /country/AT/report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        for _ in range(20):
            time.sleep(0.25)
            try:
                conn.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = read_all(conn, limit=3)
    finally:
        conn.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    assert guarded(answer) and b"too slowly" in answer
    assert time.monotonic() - started < BODY_TIMEOUT + 3
    time.sleep(0.2)  # the app hears of it after the connection closed
    assert answer.count(b"HTTP/1.1 ") == 1  # the app's own answer is not written after it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_pipelined_request_gets_its_own_body_deadline(server):
    conn = connect(server)
    started = time.monotonic()
    try:
        conn.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"POST /country/AT/report HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000\r\n\r\nx"
        )
        answer = read_all(conn, limit=BODY_TIMEOUT + 4)
    finally:
        conn.close()
    first, _, second = answer.partition(b"HTTP/1.1 408 ")
    assert first.startswith(b"HTTP/1.1 200 "), answer[:80]
    assert second and b"too slowly" in second
    assert time.monotonic() - started < BODY_TIMEOUT + 3


def test_a_head_sent_a_line_at_a_time_is_cut_at_the_deadline(server):
    conn = connect(server)
    started = time.monotonic()
    closed_at = None
    try:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for number in range(20):
            time.sleep(0.3)
            try:
                conn.sendall(f"X-Slow-{number}: a\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
        answer = read_all(conn, limit=3)
        closed_at = closed_at or time.monotonic()
    finally:
        conn.close()
    assert b"200 OK" not in answer
    assert closed_at - started < HEAD_TIMEOUT + 2.5


def test_a_connection_that_says_nothing_is_closed(server):
    conn = connect(server)
    started = time.monotonic()
    try:
        assert read_all(conn, limit=5) == b""
    finally:
        conn.close()
    assert time.monotonic() - started < HEAD_TIMEOUT + 1.5


def test_a_polite_client_keeps_its_connection_for_several_requests(server):
    conn = connect(server)
    try:
        for _ in range(3):
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = read_response(conn)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b"x-content-type-options: nosniff" in head.lower()
            assert b"server: uvicorn" not in head.lower()
            time.sleep(HEAD_TIMEOUT * 0.6)  # under the deadline each time, over it in all
    finally:
        conn.close()


def test_a_body_over_the_limit_is_refused_before_it_is_sent(server):
    conn = connect(server)
    try:
        conn.sendall(
            b"POST /telegram/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        answer = read_all(conn, limit=5)
    finally:
        conn.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:60]


def test_more_connections_than_allowed_get_a_503(server):
    idle = [connect(server) for _ in range(4)]
    try:
        extra = connect(server)
        try:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = read_all(extra, limit=5)
        finally:
            extra.close()
    finally:
        for conn in idle:
            conn.close()
    assert answer.startswith(b"HTTP/1.1 503 "), answer[:60]
    assert guarded(answer), answer
    time.sleep(0.2)
    conn = connect(server)  # once they are gone, the next one is served
    try:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
    finally:
        conn.close()
