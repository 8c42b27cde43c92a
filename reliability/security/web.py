"""The web process against hostile clients: headers, links, hosts, bodies, slow heads.

The app is driven through ASGI for what it answers, and a real uvicorn on loopback is
driven through a raw socket for what no HTTP client would send: a megabyte of headers, a
head a line at a time, a connection that says nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import socket
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from reliability.inputs import NOW, Lab
from reliability.security._common import Finding, _verdict

if TYPE_CHECKING:
    from config.dataset import Dataset

SCRIPT_LINKS = ("javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>")
HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")
PATHS = (
    "/",
    "/?days=365",
    "/calendar.ics",
    "/api/upcoming?days=365",
    "/countries",
    "/country/AT",
    "/api/countries",
    "/api/country/AT",
)
ANSWERS = (
    *PATHS,
    "/?country=XX",
    "/calendar/unknown.ics",
    "/country/QQ",
    "/healthz",
    "/readyz",
    "/metrics",
    "/no/such/page",
    "/countries/",
)


def _planted(dataset: Dataset) -> Dataset:
    """Every event, registration and action link a script, past the loader's check."""
    link, data = SCRIPT_LINKS
    events = {}
    for event_id, event in dataset.events.items():
        registration = event.registration
        if registration is not None:
            registration = registration.model_copy(update={"url": data})
        events[event_id] = event.model_copy(update={"url": link, "registration": registration})
    actions = {key: a.model_copy(update={"url": link}) for key, a in dataset.ngo_actions.items()}
    return replace(dataset, events=events, ngo_actions=actions)


def _at(moment: dt.datetime) -> dt.datetime:
    return moment


def _carries_script(text: str) -> bool:
    unfolded = text.replace("\r\n ", "").lower()
    return "javascript:" in unfolded or "data:text" in unfolded


async def _app_checks(lab: Lab) -> list[Finding]:
    import httpx

    from bot.db.engine import create_engine
    from bot.db.models import Proposal
    from bot.db.store import Store
    from bot.db.watch import ProposalError
    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.dataset_loader import DatasetError, load_dataset
    from config.settings import load_settings

    url, _ = await lab.new_database("security-web")
    store = Store(create_engine(url))
    problems: dict[str, list[str]] = {
        "headers": [],
        "links": [],
        "host": [],
        "body": [],
        "figures": [],
    }
    try:
        # through a dataset override: refused at its line
        override = lab.root / "hostile-links"
        override.mkdir(exist_ok=True)
        (override / "mechanism.yaml").write_text(
            "ngo_actions:\n  - id: write-to-focal-point\n    title: Write.\n"
            f"    url: '{SCRIPT_LINKS[0]}'\n    source: test\n    confidence: reported\n"
        )
        try:
            load_dataset(override)
            problems["links"].append("a dataset action with a javascript: link was loaded")
        except DatasetError:
            pass
        # through an approved proposal: approval refused, an older approved row skipped
        async with store.sessions() as session, session.begin():
            for state, link in (("pending", SCRIPT_LINKS[0]), ("approved", SCRIPT_LINKS[1])):
                payload = {
                    "id": f"cd-2022-planted-{state}",
                    "kind": "constructive-dialogue",
                    "title": "A planted dialogue",
                    "start": "2022-04-20",
                    "url": link,
                    "registration": {"deadline": "2022-03-20", "url": link},
                    "source": "https://www.unodc.org/planted",
                    "confidence": "reported",
                }
                session.add(
                    Proposal(
                        kind="event",
                        payload=payload,
                        url="https://www.unodc.org/planted",
                        confidence="reported",
                        state=state,
                        created_at=NOW,
                        key=f"planted-{state}",
                    )
                )
        pending = [p.id for p in await store.proposals("pending")]
        try:
            await store.approve_proposal(pending[0], decided_by="mallory", now=NOW)
            problems["links"].append("a proposal with a javascript: link was approved")
        except ProposalError:
            pass
        planted = _planted(lab.dataset)
        for now in (NOW, dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)):
            settings = load_settings(DATABASE_URL=url, PUBLIC_BASE_URL="https://watch.example.org")
            publisher = Publisher(
                planted, store, settings.public_base_url, clock=functools.partial(_at, now)
            )
            app = create_app(settings, planted, publisher)
            transport = httpx.ASGITransport(
                app=app, raise_app_exceptions=False, client=("203.0.113.7", 4000)
            )
            async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
                for path in ANSWERS:
                    response = await http.get(path, headers={"Host": "evil.example"})
                    missing = [h for h in HEADERS if h not in response.headers]
                    if missing:
                        problems["headers"].append(
                            f"{path} ({response.status_code}) lacks {missing}"
                        )
                    if _carries_script(response.text):
                        problems["links"].append(f"{path} carries a script link")
                    if "evil.example" in response.text or "evil.example" in str(response.headers):
                        problems["host"].append(f"{path} repeats the Host header")
                moved = await http.get("/countries/", headers={"Host": "evil.example"})
                if moved.headers.get("location") != "https://watch.example.org/countries":
                    problems["host"].append(f"a redirect to {moved.headers.get('location')!r}")
                for declared in (b"x" * 2_000_000,):
                    big = await http.post("/", content=declared)
                    if big.status_code != 413:
                        problems["body"].append(f"a 2 MB body answered {big.status_code}")
                ready = await http.get("/readyz")
                if ready.text not in ("ok\n", "not ready\n"):
                    problems["figures"].append("/readyz gave details to a stranger")
                if (await http.get("/metrics")).status_code != 401:
                    problems["figures"].append("/metrics answered a stranger")
    finally:
        await store.close()
    return [
        _verdict(
            "security headers on every answer",
            problems["headers"],
            f"{len(ANSWERS)} answers (pages, feeds, API, 4xx, redirects) each with a "
            "script-free Content-Security-Policy, nosniff and no framing",
        ),
        _verdict(
            "script links (javascript:, data:)",
            problems["links"],
            "refused at a dataset file's line and at a proposal's approval; planted past "
            f"both in every event, registration and action, absent from {len(PATHS)} pages, "
            "feeds and API answers, busy and quiet",
        ),
        _verdict(
            "Host header tricks",
            problems["host"],
            "a forged Host repeated in no answer; redirects written with PUBLIC_BASE_URL",
        ),
        _verdict("oversized bodies", problems["body"], "a 2 MB body is a 413"),
        _verdict(
            "operators' figures",
            problems["figures"],
            "/metrics a 401 and /readyz only ok or not ready to a client elsewhere",
        ),
    ]


def _raw(port: int, send: list[bytes], pause: float = 0.0, wait: float = 5.0) -> bytes:
    """What the server answers to `send` (parts `pause` seconds apart) before it closes."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        for part in send:
            try:
                conn.sendall(part)
            except OSError:
                break
            time.sleep(pause)
        conn.settimeout(wait)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except OSError:
            pass
        return answer
    finally:
        conn.close()


def _server_checks(lab: Lab) -> Finding:
    import uvicorn

    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from bot.web.server import server_config
    from config.settings import load_settings

    settings = load_settings(WEB_HEADER_TIMEOUT=1, WEB_KEEP_ALIVE=1)
    publisher = Publisher(lab.dataset, None, settings.public_base_url, clock=lambda: NOW)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_config(
        create_app(settings, lab.dataset, publisher), settings, "127.0.0.1", port
    )
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    problems = []
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        head = [b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: "] + [b"a" * 65536] * 16
        if not _raw(port, [*head, b"\r\n\r\n"]).startswith(b"HTTP/1.1 431 "):
            problems.append("a 1 MB head was not a 431")
        started = time.monotonic()
        lines = [b"GET / HTTP/1.1\r\n"] + [b"X-Slow: a\r\n"] * 12
        if b"200 OK" in _raw(port, lines, pause=0.5) or time.monotonic() - started > 5:
            problems.append("a head sent a line every 0.5 s was not cut")
        started = time.monotonic()
        if _raw(port, []) != b"" or time.monotonic() - started > 3:
            problems.append("a silent connection was kept")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    return _verdict(
        "huge and slow request heads",
        problems,
        "on a real server: a 1 MB head a 431, a head a line every 0.5 s cut at the 1 s "
        "deadline, a silent connection closed",
    )


def _web_checks(lab: Lab) -> list[Finding]:
    return [*asyncio.run(_app_checks(lab)), _server_checks(lab)]
