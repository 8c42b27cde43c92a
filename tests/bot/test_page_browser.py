"""The public page in a real headless Chromium: load, filter, and the links follow."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from bot.publisher import Publisher
from bot.web import create_app
from config.dataset import load_dataset
from config.settings import load_settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def server(monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    dataset = load_dataset()
    publisher = Publisher(
        dataset,
        None,
        "https://watch.example.org",
        clock=lambda: dt.datetime(2022, 3, 1, tzinfo=dt.UTC),
    )
    app = create_app(load_settings(), dataset, publisher)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_filtering_in_a_real_browser_changes_the_list_and_the_subscribe_links(server, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("UNTOC_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required here (UNTOC_REQUIRE_BROWSER=1) but missing")
        pytest.skip("chromium is not installed; `.ci/run` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(server + "/?days=120")
            items = page.locator("#deadlines > li")
            before = items.evaluate_all("nodes => nodes.map(n => n.id)")
            assert "r-cd-2022-som-tip" in before and "m-gb-c1-self-assessment" not in before
            assert any(item.startswith("m-at-") for item in before)
            assert "country=" not in (page.get_attribute("#subscribe-webcal", "href") or "")

            page.select_option("#country", "AT")
            page.select_option("#theme", "firearms")
            with page.expect_navigation():
                page.click("#apply")
            assert "country=AT" in page.url and "theme=firearms" in page.url
            after = items.evaluate_all("nodes => nodes.map(n => n.id)")
            assert after and set(after) < set(before)
            assert all(i.startswith("m-at-") or "firearms" in i for i in after), after
            assert "r-cd-2022-som-tip" not in after
            webcal = page.get_attribute("#subscribe-webcal", "href") or ""
            assert webcal.startswith("webcal://watch.example.org/calendar.ics?")
            assert "country=AT" in webcal and "theme=firearms" in webcal
            download = page.get_attribute("#subscribe-download", "href") or ""
            assert "country=AT" in download

            page.click("a[hreflang=fr]")
            assert page.locator("html").get_attribute("lang") == "fr"
            assert "Afficher" in page.inner_text("#apply")
            shot = tmp_path / "page-fr.png"
            if os.environ.get("UNTOC_SCREENSHOT_DIR"):
                shot = os.path.join(os.environ["UNTOC_SCREENSHOT_DIR"], "page-fr.png")
            page.screenshot(path=str(shot), full_page=True)
            assert os.path.getsize(shot) > 10_000
        finally:
            browser.close()
