"""The public page in a real headless Chromium: load, filter, and the links follow; Arabic
laid out right to left, Chinese drawn in its own script."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn

from bot.publishing.publisher import Publisher
from bot.text.bidi import strip_isolates
from bot.text.i18n import Texts
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.settings import load_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole module."""
    if CHROMIUM is None:
        if os.environ.get("UNTOC_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required here (UNTOC_REQUIRE_BROWSER=1) but missing")
        pytest.skip("chromium is not installed; `.ci/run` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where a screenshot goes: the test's tmp_path, or UNTOC_SCREENSHOT_DIR when set."""
    folder = os.environ.get("UNTOC_SCREENSHOT_DIR")
    return Path(folder) / name if folder else tmp_path / name


def test_filtering_in_a_real_browser_changes_the_list_and_the_subscribe_links(
    server, browser, tmp_path
):
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    try:
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
        shot = screenshot_path(tmp_path, "page-fr.png")
        page.screenshot(path=str(shot), full_page=True)
        assert os.path.getsize(shot) > 10_000
    finally:
        page.close()


def test_arabic_reads_right_to_left_and_chinese_shows_its_script(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1024, "height": 900})
    try:
        arabic = Texts("ar")
        page.goto(server + "/?lang=ar&days=120")
        root = page.locator("html")
        assert (root.get_attribute("dir"), root.get_attribute("lang")) == ("rtl", "ar")
        assert page.eval_on_selector("#deadlines", "e => getComputedStyle(e).direction") == "rtl"
        assert strip_isolates(page.inner_text("h1")) == arabic("UNTOC Watch: review deadlines")
        # laid out from the right: the title starts at the right edge, the date of the
        # first deadline stands right of its countdown
        header, title = page.locator("header").bounding_box(), page.locator("h1").bounding_box()
        assert header and title
        assert abs((title["x"] + title["width"]) - (header["x"] + header["width"])) < 2
        first = page.locator("#deadlines > li").first
        when, countdown = (first.locator(s).bounding_box() for s in ("time", ".countdown"))
        assert when and countdown and when["x"] > countdown["x"]
        # "Download .ics" in Arabic: the dot is drawn before "ics", not after it
        dot, letter = page.evaluate(_GLYPH_POSITIONS, ["#subscribe-download", ".ics"])
        assert dot < letter
        arabic_shot = screenshot_path(tmp_path, "page-ar.png")
        page.screenshot(path=str(arabic_shot), full_page=False)

        chinese = Texts("zh")
        page.goto(server + "/?lang=zh&days=120")
        root = page.locator("html")
        assert (root.get_attribute("dir"), root.get_attribute("lang")) == ("ltr", "zh")
        heading = chinese("UNTOC Watch: review deadlines")
        assert page.title() == heading and page.inner_text("h1") == heading
        assert chinese.country("AT") in page.inner_text("#country")
        assert chinese("Show") in page.inner_text("#apply")
        chinese_shot = screenshot_path(tmp_path, "page-zh.png")
        page.screenshot(path=str(chinese_shot), full_page=False)
        for shot in (arabic_shot, chinese_shot):
            assert shot.stat().st_size > 10_000
    finally:
        page.close()


def test_chinese_is_drawn_with_a_font_that_has_its_glyphs(server, browser):
    installed = _fonts_for("zh")
    if not installed:
        if os.environ.get("UNTOC_REQUIRE_BROWSER") == "1":
            pytest.fail("no font for Chinese is installed (fc-list :lang=zh); `.ci/run` adds one")
        pytest.skip("no font for Chinese is installed (fc-list :lang=zh): zh shows as boxes")
    page = browser.new_page()
    try:
        page.goto(server + "/?lang=zh")
        drawn = _fonts_drawing(page, "h1")
        assert drawn & installed, (drawn, installed)
    finally:
        page.close()


# Where the first character of `needle` and the one after it are drawn, in a link's text.
_GLYPH_POSITIONS = """([selector, needle]) => {
    const node = document.querySelector(selector).firstChild;
    const at = node.data.indexOf(needle);
    const left = i => {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        return range.getBoundingClientRect().left;
    };
    return [left(at), left(at + 1)];
}"""


def _fonts_drawing(page, selector: str) -> set[str]:
    """The families Chromium drew an element's text with (DevTools' platform fonts)."""
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    document = session.send("DOM.getDocument")
    node = session.send(
        "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": selector}
    )
    used = session.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
    session.detach()
    return {font["familyName"] for font in used["fonts"]}


def _fonts_for(language: str) -> set[str]:
    """The font families installed with glyphs for `language`, as fontconfig lists them."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return set()
    listed = subprocess.run(
        [fc_list, f":lang={language}", "family"], capture_output=True, text=True, check=True
    ).stdout
    return {name.strip() for line in listed.splitlines() for name in line.split(",")}
