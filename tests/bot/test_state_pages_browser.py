"""The State pages and the index in a real headless Chromium: six languages, Arabic right
to left, Chinese in its script, and no WCAG 2.1 AA violation that axe-core finds."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.publishing.publisher import Publisher
from bot.text.bidi import strip_isolates
from bot.text.i18n import LANGUAGES, Texts
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.settings import load_settings
from tests.bot.test_page_browser import browser, screenshot_path  # noqa: F401 (a fixture)

AXE = Path(__file__).parents[1] / "calendar_parsers" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def late_server() -> Iterator[str]:
    """The web app on a free port, its clock at 1 December 2026 (nothing announced ahead)."""
    settings = load_settings(
        PUBLIC_BASE_URL="https://watch.example.org", TELEGRAM_BOT_USERNAME="untoc_watch_bot"
    )
    dataset = load_dataset()
    publisher = Publisher(
        dataset,
        None,
        "https://watch.example.org",
        clock=lambda: dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC),
    )
    app = create_app(settings, dataset, publisher)
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


@pytest.mark.parametrize("language", LANGUAGES)
def test_state_page_and_index_in_each_language(late_server, browser, language):  # noqa: F811
    texts = Texts(language)
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(f"{late_server}/country/AT?lang={language}")
        root = page.locator("html")
        assert root.get_attribute("lang") == language
        assert root.get_attribute("dir") == texts.direction
        heading = texts("{country}: its review under the Convention").format(
            country=texts.country("AT")
        )
        assert strip_isolates(page.inner_text("h1")) == heading
        assert page.locator("#steps-1 > li").count() == 6
        assert page.locator("#phases > li[data-behind=true]").count() >= 1
        telegram = page.get_attribute("#subscribe-telegram", "href") or ""
        assert telegram.endswith("?start=sub-AT")
        # nothing is wider than a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.goto(f"{late_server}/countries?lang={language}")
        assert page.locator("#countries tbody tr").count() > 150
        page.fill("#q", texts.country("FR"))
        page.select_option("#group", "unknown")
        with page.expect_navigation():
            page.click("#apply")
        assert "group=unknown" in page.url
        assert page.locator("#countries tbody tr").count() >= 1
        assert page.locator("#state-FR").count() == 1
        with page.expect_navigation():
            page.click("#state-FR a")
        assert "/country/FR" in page.url
        assert page.locator("#what-is-known").count() == 1
    finally:
        page.close()


def test_arabic_state_page_reads_right_to_left_and_chinese_index_shows_its_script(
    late_server,
    browser,  # noqa: F811
    tmp_path,
):
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(f"{late_server}/country/FR?lang=ar")
        assert page.eval_on_selector("main", "e => getComputedStyle(e).direction") == "rtl"
        header, title = page.locator("header").bounding_box(), page.locator("h1").bounding_box()
        assert header and title
        assert abs((title["x"] + title["width"]) - (header["x"] + header["width"])) < 2
        arabic = Texts("ar")
        assert arabic("What is known of {country}'s review").format(
            country=arabic.country("FR")
        ) in strip_isolates(page.inner_text("#known"))
        shot = screenshot_path(tmp_path, "country-fr-ar.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000

        page.goto(f"{late_server}/countries?lang=zh&sort=group")
        chinese = Texts("zh")
        assert page.title().startswith(chinese("States parties and their reviews"))
        assert chinese.country("AT") in page.inner_text("#countries")
        drawn = page.evaluate("() => document.fonts.check('16px sans-serif', '缔约国')")
        assert drawn
        # the Chinese glyphs take their full width: a CJK character is about as wide as tall
        width = page.evaluate(
            """() => { const s = document.createElement('span'); s.textContent = '缔约国';
                document.body.appendChild(s); const w = s.getBoundingClientRect().width;
                s.remove(); return w; }"""
        )
        assert width > 36
        shot = screenshot_path(tmp_path, "countries-zh.png")
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 20_000
    finally:
        page.close()


def _axe_available() -> None:
    if AXE.exists():
        return
    reason = f"axe-core is not installed ({AXE}); `make unit` installs it with npm ci"
    if os.environ.get("UNTOC_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("path", ["/", "/countries", "/country/AT", "/country/FR"])
def test_no_wcag_aa_violation(late_server, browser, path, language, viewport):  # noqa: F811
    _axe_available()
    # axe is the test's own script, injected: the page's policy refuses every script
    page = browser.new_page(viewport=viewport, bypass_csp=True)
    try:
        separator = "&" if "?" in path else "?"
        page.goto(f"{late_server}{path}{separator}lang={language}")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
        )
        found = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
            for v in result["violations"]
        ]
        assert found == [], found
        assert result["passes"], "axe ran no rule"
    finally:
        page.close()


@pytest.mark.parametrize("path", ["/", "/countries", "/country/AT", "/country/QQ"])
def test_the_content_security_policy_blocks_nothing_the_page_needs(
    late_server,
    browser,  # noqa: F811
    path,
):
    page = browser.new_page(viewport=DESKTOP)
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        page.goto(f"{late_server}{path}?lang=en")
        # the inline style applied: the page keeps its measure and its link colour
        assert page.evaluate("getComputedStyle(document.body).maxWidth") == "960px"
        assert refused == [], refused
        # and a script planted in the page would not run
        ran = page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.planted = 1'; document.head.appendChild(s);"
            " return window.planted === 1 }"
        )
        assert not ran, "a planted inline script ran"
    finally:
        page.close()
