"""The evidence pages and the report form in a real headless Chromium, with axe-core.

A migrated SQLite file holds a page the watcher read twice (a change between), its
proposal, and a subscriber's report; the web app serves them on a free port.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.models import Proposal, SourceChange, SourceSnapshot
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.settings import load_settings
from tests.bot.test_page_browser import browser  # noqa: F401 (a fixture)
from tests.bot.test_state_pages_browser import AXE, WCAG_AA, _axe_available

NOW = dt.datetime(2027, 2, 4, 9, tzinfo=dt.UTC)
BEFORE = ["Key dates and deadlines", "Constructive Dialogue on Firearms: 5 May 2027."]
AFTER = [
    "Key dates and deadlines",
    "Constructive Dialogue on Firearms: 7 May 2027. Register here until 3 March 2027 midnight Vienna time.",
    "Contact the Civil Society Unit.",
]
QUOTE = "Constructive Dialogue on Firearms: 7 May 2027."


async def _fill(url: str) -> dict[str, int]:
    await upgrade(url)
    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            for at, lines, digest in (
                (NOW - dt.timedelta(days=1), BEFORE, "h1"),
                (NOW, AFTER, "h2"),
            ):
                session.add(
                    SourceSnapshot(
                        source_id="cst",
                        fetched_at=at,
                        status_code=200,
                        content_hash=digest,
                        content="\n".join(lines),
                    )
                )
            await session.flush()
            change = SourceChange(
                source_id="cst",
                detected_at=NOW,
                url="https://www.unodc.org/unodc/en/ngos/cst.html",
                summary="Added: ...",
                old_hash="h1",
                new_hash="h2",
            )
            watched = Proposal(
                kind="change",
                payload={},
                confidence="reported",
                state="approved",
                created_at=NOW,
                decided_at=NOW,
                decided_by="ana",
                source_id="cst",
                excerpt=QUOTE,
                url="https://www.unodc.org/unodc/en/ngos/cst.html",
                summary="Constructive Dialogue on Firearms moved to 7 May 2027",
            )
            reported = Proposal(
                kind="milestone",
                payload={},
                confidence="reported",
                state="pending",
                created_at=NOW,
                origin="telegram",
                reporter="telegram:987654321",
                excerpt="The ministry wrote to us",
                url="https://www.example.org/letter",
                summary="reported: AT cluster 1 self-assessment completed on 2027-01-15",
            )
            session.add_all([change, watched, reported])
            await session.flush()
            return {"change": change.id, "watched": watched.id, "reported": reported.id}
    finally:
        await store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, dict[str, int], Store, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('evidence') / 'web.db'}"
    ids = asyncio.run(_fill(url))
    settings = load_settings(PUBLIC_BASE_URL="https://watch.example.org", DATABASE_URL=url)
    dataset = load_dataset()
    store = Store(create_engine(url))
    publisher = Publisher(dataset, store, "https://watch.example.org", clock=lambda: NOW)
    app = create_app(settings, dataset, publisher)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", ids, store, url
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _axe(page) -> list[object]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    return [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in result["violations"]]


@pytest.mark.parametrize("language", ["en", "ar"])
def test_evidence_marks_the_sentence_and_passes_axe(site, browser, language):  # noqa: F811
    _axe_available()
    base, ids, _, _ = site
    page = browser.new_page(bypass_csp=True)  # axe is the test's own script
    try:
        page.goto(f"{base}/evidence/{ids['watched']}?lang={language}")
        assert page.locator("mark").all_inner_texts() == [QUOTE]
        assert "Register here until 3 March 2027" in page.locator("#snapshot").inner_text()
        assert "ana" in page.locator("#decision").inner_text()
        assert _axe(page) == []
        page.goto(f"{base}/evidence/{ids['reported']}?lang={language}")
        text = page.locator("main").inner_text()
        assert (
            "The ministry wrote to us" in text
            and "987654321" not in text
            and "telegram" not in text
        )
        assert _axe(page) == []
    finally:
        page.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_change_shows_what_was_added_and_removed(site, browser, language):  # noqa: F811
    _axe_available()
    base, ids, _, _ = site
    page = browser.new_page(bypass_csp=True)  # axe is the test's own script
    try:
        page.goto(f"{base}/changes/{ids['change']}?lang={language}")
        assert page.locator("#added li").count() == 2
        assert page.locator("#removed li").all_inner_texts() == [BEFORE[1]]
        assert _axe(page) == []
        missing = page.goto(f"{base}/changes/999999")
        assert missing is not None and missing.status == 404
    finally:
        page.close()


def test_the_state_page_form_sends_a_report_without_javascript(site, browser):  # noqa: F811
    base, _, _, url = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{base}/country/AT?lang=fr")
        page.select_option("#report-step", "self-assessment")
        page.fill("#report-date", "2027-01-20")
        page.fill("#report-link", "https://www.example.org/at-reponses")
        page.fill("#report-words", "Le ministère nous a écrit")
        page.click("#report button[type=submit]")
        outcome = page.locator("#outcome").inner_text()
        assert "Merci. Votre signalement n° 3 attend un opérateur" in outcome
        forged = context.request.post(
            f"{base}/country/AT/report",
            form={"token": "1.abc", "step": "self-assessment", "date": "2027-01-20", "words": "x"},
        )
        assert forged.status == 403
    finally:
        context.close()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its own loop, away from the browser's
        pending = pool.submit(asyncio.run, _pending(url)).result()
    assert any(p.origin == "web" and p.reporter.startswith("web:") for p in pending)


async def _pending(url: str) -> list[Proposal]:
    store = Store(create_engine(url))
    try:
        return await store.proposals("pending")
    finally:
        await store.close()
