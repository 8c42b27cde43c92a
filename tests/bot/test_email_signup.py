"""Email subscriptions end to end: the real web app, a real relay, Chromium, the outbox.

A sign-up on the page queues only a confirmation; the worker's dispatcher sends it
through aiosmtpd (STARTTLS, login); its link, opened in Chromium, subscribes; alerts
then follow, each with RFC 8058 headers whose one-click POST, sent to the real app,
stops further mail. Messages are read back with Python's email parser.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli.app import app as cli
from bot.db import subscribers as subs
from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.models import Delivery, EmailSignup, Subscriber
from bot.db.store import Store
from bot.delivery import email_signup as signup
from bot.delivery import tokens
from bot.delivery.broadcasts import enqueue_broadcast
from bot.delivery.dispatcher import Dispatcher
from bot.main import email_channel
from bot.publishing.publisher import Publisher
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.keys import calendar_key
from config.settings import Settings, load_settings
from tests.bot.test_page_browser import browser  # noqa: F401 (a fixture)
from tests.bot.test_state_pages_browser import AXE, DESKTOP, PHONE, WCAG_AA, _axe_available
from tests.fakes.smtp_relay import SmtpRelay

SENDER = "UNTOC Watch <alerts@watch.example.org>"


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _in_thread(work: Any) -> Any:
    """`work()` on a thread of its own: Playwright's sync API holds a running loop here,
    and the CLI and the worker's parts each run one of their own."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the test
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    if failure:
        raise failure[0]
    return result[0]


def _run(make: Any) -> Any:
    return _in_thread(lambda: asyncio.run(make()))


def _cli(args: list[str], env: dict[str, str]) -> Any:
    return _in_thread(lambda: CliRunner().invoke(cli, args, env=env))


class Service:
    """The web app on a free port over a SQLite file, and what the worker would build."""

    def __init__(self, folder: Path, relay: SmtpRelay) -> None:
        self.relay = relay
        self.database_url = f"sqlite+aiosqlite:///{folder / 'email.db'}"
        _run(lambda: upgrade(self.database_url))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.env = {
            "DATABASE_URL": self.database_url,
            "PUBLIC_BASE_URL": self.url,
            "SMTP_URL": relay.url,
            "MAIL_FROM": SENDER,
        }
        self.settings: Settings = load_settings(**self.env)
        self.dataset = load_dataset()
        store = Store(create_engine(self.database_url))  # used on the server's loop only
        publisher = Publisher(self.dataset, store, self.url)
        app = create_app(self.settings, self.dataset, publisher)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Service:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def run(self, work: Any) -> Any:
        """Run `work(store)` on a loop and store of the test's own, as another process would."""

        async def main() -> Any:
            store = Store(create_engine(self.database_url))
            try:
                return await work(store)
            finally:
                await store.close()

        return _run(main)

    def deliver(self) -> int:
        """What one pass of the worker's dispatcher sends, through the real relay."""

        async def work(store: Store) -> int:
            channel = await email_channel(
                self.settings, store, calendar_key(self.settings), self.relay.client_context
            )
            assert channel is not None
            publisher = Publisher(self.dataset, store, self.url)
            dispatcher = Dispatcher(store, {"email": channel}, publisher.deadlines, _now)
            try:
                handled = 0
                while count := await dispatcher.deliver_once():
                    handled += count
                return handled
            finally:
                await channel.close()

        return int(self.run(work))

    def broadcast(self, text: str, countries: list[str]) -> int:
        async def work(store: Store) -> int:
            return await enqueue_broadcast(store, text, countries, uuid.uuid4().hex[:8], _now())

        return int(self.run(work))

    def count(self, model: Any) -> int:
        async def work(store: Store) -> int:
            async with store.sessions() as session:
                return int(await session.scalar(select(func.count()).select_from(model)) or 0)

        return int(self.run(work))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def relay() -> Iterator[SmtpRelay]:
    with SmtpRelay() as served:
        yield served


@pytest.fixture
def service(tmp_path: Path, relay: SmtpRelay) -> Iterator[Service]:
    relay.reset()
    with Service(tmp_path, relay) as running:
        yield running


def _link(message: email.message.EmailMessage, path: str) -> str:
    plain = message.get_body(("plain",)).get_content()
    found = re.search(rf"https?://\S+{path}\S+", plain)
    assert found, plain
    return found.group(0)


def test_a_page_signup_sends_only_its_confirmation_until_the_link_is_used(
    service,
    browser,  # noqa: F811
):
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(f"{service.url}/country/AT?lang=fr")
        assert page.locator('link[rel=alternate][type="application/atom+xml"]').count() == 1
        page.fill("#email-address", "Ngo@Example.org")
        assert page.is_checked("input[name=digest][value=weekly]")  # weekly is the default
        with page.expect_navigation():
            page.click("#email-submit")
        assert page.locator("h1").inner_text().strip()
        assert "Consultez votre boîte" in page.inner_text("main") or page.locator("main p")
        # nothing is subscribed: a broadcast finds nobody
        assert service.count(Subscriber) == 0
        assert service.broadcast("Before confirming", ["AT"]) == 0
        assert service.deliver() == 1
        ((_, recipients, raw),) = service.relay.messages
        assert recipients == ["ngo@example.org"]
        confirmation = parsed(raw)
        assert confirmation["Content-Language"] == "fr"
        assert confirmation["List-Unsubscribe"] is None  # nobody to unsubscribe yet
        assert confirmation.get_body(("html",)) is not None
        link = _link(confirmation, "/email/confirm/")

        page.goto(link)
        assert "ngo@example.org" in page.inner_text("main")
        assert service.count(Subscriber) == 0  # opening the page is not confirming
        with page.expect_navigation():
            page.click("#confirm")
        assert "/email/manage/" in page.url and page.locator("#confirmed").count() == 1
    finally:
        page.close()

    assert service.broadcast("Les dialogues du 1er juillet passent en ligne", ["AT"]) == 1
    assert service.deliver() == 1
    alert = parsed(service.relay.messages[-1][2])
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert alert["Content-Language"] == "fr"
    assert "passent en ligne" in alert.get_body(("plain",)).get_content()
    assert "passent en ligne" in alert.get_body(("html",)).get_content()
    unsubscribe = alert["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(service.url + "/email/unsubscribe/")
    # RFC 8058: a POST with this body, no cookie, no page, no CSRF token
    answer = httpx.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert service.count(Subscriber) == 0
    assert service.broadcast("After leaving", ["AT"]) == 0
    assert service.deliver() == 0
    assert len(service.relay.messages) == 2


def test_operators_add_by_cli_then_a_broadcast_arrives_with_both_parts(service):
    added = _cli(["email", "add", "list@example.org", "--country", "AT"], service.env)
    assert added.exit_code == 0, added.output
    listed = _cli(["email", "list"], service.env)
    assert "list@example.org" in listed.output and "AT" in listed.output
    sent = _cli(["broadcast", "The 1 July dialogues move online", "--country", "AT"], service.env)
    assert sent.exit_code == 0, sent.output
    assert service.deliver() == 1
    ((sender, recipients, raw),) = service.relay.messages
    assert recipients == ["list@example.org"] and "alerts@watch.example.org" in sender
    message = parsed(raw)
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{service.url}/email/unsubscribe/")
    manage = _link(message, "/email/manage/")
    assert httpx.get(manage).status_code == 200

    answer = httpx.post(
        message["List-Unsubscribe"].strip("<>"),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    again = _cli(["broadcast", "Nobody should get this", "--country", "AT"], service.env)
    assert again.exit_code == 0
    assert service.deliver() == 0
    assert len(service.relay.messages) == 1
    removed = _cli(["email", "remove", "list@example.org"], service.env)
    assert removed.exit_code == 1  # already gone


def test_a_bounce_reported_back_stops_the_address_and_tells_the_operators(service):
    assert _cli(["email", "add", "list@example.org", "--country", "AT"], service.env).exit_code == 0
    assert _cli(["email", "add", "other@example.org"], service.env).exit_code == 0
    bounced = _in_thread(
        lambda: CliRunner().invoke(
            cli,
            ["email", "bounced", "-", "--reason", "550 5.1.1 mailbox unavailable"],
            env=service.env,
            input="list@example.org\nnobody@example.org\n",
        )
    )
    assert bounced.exit_code == 0, bounced.output
    assert "list@example.org: stopped; the operators are told" in bounced.output
    assert "nobody@example.org: not subscribed" in bounced.output

    async def state(store: Store) -> tuple[list[tuple[str, bool, str | None]], list[str]]:
        async with store.sessions() as session:
            people = await session.scalars(select(Subscriber).order_by(Subscriber.address))
            found = [(s.address, s.active, s.deactivated_reason) for s in people]
            notices = await session.scalars(
                select(Delivery.payload).where(Delivery.kind == "operator")
            )
            return found, [str(n.get("text")) for n in notices]

    people, notices = service.run(state)
    assert people == [
        ("list@example.org", False, "bounced: 550 5.1.1 mailbox unavailable"),
        ("other@example.org", True, None),
    ]
    assert notices == [
        "email target list@example.org stopped: bounced: 550 5.1.1 mailbox unavailable"
    ]
    assert service.broadcast("After the bounce", ["AT"]) == 1  # to the other address only
    service.deliver()
    assert all("list@example.org" not in to for _, to, _ in service.relay.messages)


def test_the_manage_page_changes_language_and_digest_without_javascript(
    service,
    browser,  # noqa: F811
):
    async def add(store: Store) -> str:
        found = await signup.subscribe(
            store, signup.Signup("ngo@example.org", signup.Choice(countries=("AT",))), _now()
        )
        secret = await signup.EmailKeys(store).secret(_now())
        return signup.manage_url(service.url, signup.manage_token(secret, found.id, found.address))

    manage = service.run(add)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(manage)
        page.select_option("#manage-country", "FR")
        page.check("input[name=theme][value=tip]")
        page.select_option("#manage-lang", "ar")
        page.check("input[name=digest][value=daily]")
        with page.expect_navigation():
            page.click("#save")
        assert page.locator("#saved").count() == 1
        assert page.locator("html").get_attribute("dir") == "rtl"

        async def read(store: Store) -> tuple[str, str, set[str], set[str]]:
            async with store.sessions() as session:
                (found,) = await subs.active_subscribers(session, "email")
                chosen = subs.selection_of(found)
                return found.language, found.digest, set(chosen.countries), set(chosen.themes)

        assert service.run(read) == ("ar", "daily", {"AT", "FR"}, {"tip"})
        with page.expect_navigation():
            page.click("#leave")
        assert service.count(Subscriber) == 0
        page.goto(manage)
        assert page.locator("h1").count() == 1  # "not subscribed", a 404 page
    finally:
        context.close()


def _post(url: str, body: bytes | str, content_type: str = "application/x-www-form-urlencoded"):
    return httpx.post(url, content=body, headers={"Content-Type": content_type})


def test_the_answer_is_the_same_for_known_and_unknown_addresses(service):
    page = httpx.get(service.url + "/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    service.run(lambda store: signup.subscribe(store, signup.Signup("known@example.org"), _now()))
    known = _post(service.url + "/email/subscribe", f"csrf={csrf}&email=known%40example.org")
    unknown = _post(service.url + "/email/subscribe", f"csrf={csrf}&email=new%40example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert service.count(EmailSignup) == 2


def test_signups_are_limited_per_address(service):
    page = httpx.get(service.url + "/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    body = f"csrf={csrf}&email=same%40example.org"
    answers = [_post(service.url + "/email/subscribe", body).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert service.count(EmailSignup) == 3
    assert service.count(Delivery) == 3


def test_an_internationalised_address_is_accepted(service):
    page = httpx.get(service.url + "/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = _post(
        service.url + "/email/subscribe", f"csrf={csrf}&email=jos%C3%A9%40b%C3%BCcher.example"
    )
    assert answer.status_code == 200
    assert service.count(Delivery) == 1


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no-csrf", 400),
        ("forged-csrf", 400),
        ("huge", 413),
        ("control", 400),
        ("bad-address", 400),
        ("unknown-field", 400),
        ("wrong-type", 415),
        ("unknown-country", 400),
    ],
)
def test_hostile_signups_get_a_4xx_and_store_nothing(service, case, status):
    page = httpx.get(service.url + "/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    good = f"csrf={csrf}&email=ngo%40example.org"
    body, kind = {
        "no-csrf": ("email=ngo%40example.org", None),
        "forged-csrf": (good.replace(csrf[:8], "AAAAAAAA"), None),
        "huge": ("email=" + "a" * 20_000 + f"&csrf={csrf}", None),
        "control": (f"csrf={csrf}&email=ngo%0D%0ABcc%3Aa%40example.org", None),
        "bad-address": (f"csrf={csrf}&email=not-an-address", None),
        "unknown-field": (good + "&admin=1", None),
        "wrong-type": (good, "text/plain"),
        "unknown-country": (good + "&country=XX", None),
    }[case]
    answer = _post(
        service.url + "/email/subscribe", body, kind or "application/x-www-form-urlencoded"
    )
    assert answer.status_code == status, answer.text
    assert service.count(EmailSignup) == 0 and service.count(Delivery) == 0


@pytest.mark.parametrize("case", ["forged", "expired", "cut", "huge", "wrong-purpose"])
def test_bad_confirmation_links_are_refused_and_store_nothing(service, case):
    async def secret(store: Store) -> bytes:
        return await signup.EmailKeys(store).secret(_now())

    key = service.run(secret)
    payload = {"a": "ngo@example.org", **signup.Choice().as_payload()}
    token = {
        "forged": tokens.sign(b"x" * 32, "confirm", payload, _now()),
        "expired": tokens.sign(key, "confirm", payload, _now() - dt.timedelta(days=4)),
        "cut": tokens.sign(key, "confirm", payload, _now())[:-3],
        "huge": "A" * 5000,
        "wrong-purpose": tokens.sign(key, "csrf", payload, _now()),
    }[case]
    answer = httpx.get(f"{service.url}/email/confirm/{token}")
    assert answer.status_code == (410 if case == "expired" else 400)
    posted = _post(f"{service.url}/email/confirm/{token}", "csrf=x")
    assert posted.status_code in (400, 410)
    assert service.count(Subscriber) == 0
    assert httpx.get(f"{service.url}/email/manage/{token}").status_code == 400
    assert _post(f"{service.url}/email/unsubscribe/{token}", "").status_code == 400


def test_confirming_needs_the_forms_csrf_token(service):
    async def link(store: Store) -> str:
        key = await signup.EmailKeys(store).secret(_now())
        token = tokens.sign(
            key, "confirm", {"a": "ngo@example.org", **signup.Choice().as_payload()}, _now()
        )
        return f"{service.url}/email/confirm/{token}"

    url = service.run(link)
    assert _post(url, "").status_code == 400
    assert service.count(Subscriber) == 0


EMAIL_PAGES = ["/", "/country/AT", "confirm", "manage", "unsubscribe", "sent"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("which", EMAIL_PAGES)
def test_email_pages_have_no_wcag_aa_violation(service, browser, which, language, viewport):  # noqa: F811
    _axe_available()

    async def links(store: Store) -> dict[str, str]:
        key = await signup.EmailKeys(store).secret(_now())
        found = await signup.subscribe(
            store,
            signup.Signup("ngo@example.org", signup.Choice(countries=("AT",), language=language)),
            _now(),
        )
        confirm = tokens.sign(
            key,
            "confirm",
            {"a": "ngo@example.org", **signup.Choice(language=language).as_payload()},
            _now(),
        )
        manage = signup.manage_token(key, found.id, found.address)
        return {
            "confirm": f"/email/confirm/{confirm}?lang={language}",
            "manage": f"/email/manage/{manage}?lang={language}",
            "unsubscribe": f"/email/unsubscribe/{manage}?lang={language}",
        }

    paths = service.run(links)
    # axe is the test's own script, injected: the page's policy refuses every script
    page = browser.new_page(viewport=viewport, bypass_csp=True)
    try:
        if which == "sent":
            page.goto(f"{service.url}/?lang={language}")
            page.fill("#email-address", "ngo@example.org")
            with page.expect_navigation():
                page.click("#email-submit")
        else:
            path = paths.get(which, f"{which}?lang={language}")
            page.goto(service.url + path)
        assert page.locator("html").get_attribute("lang") == language
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
        )
        found = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
            for v in result["violations"]
        ]
        assert found == [], found
    finally:
        page.close()
