"""The report form of a State page: no JavaScript, a signed token, a honeypot, a limit.

The page carries a token signed for that State, the moment and a nonce also set as a
cookie (so a form copied to another site, without our cookie, is refused); a field
hidden from people catches the robots that fill every field; each client address may
post `PER_ADDRESS` reports per `WINDOW` in this process, and the store's daily limit per
reporter holds across processes (the reporter is a keyed hash of the address, never the
address). A good report waits for an operator like every other.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.db.store import Store
from bot.filters.vocabulary import NotUnderstood, TooLong, Vocabulary
from bot.text.i18n import Texts
from bot.text.reports import problems_text, queued_text
from config.dataset import Dataset
from feeds.reports import Draft, Problem, ReportRefused, check_link, check_report
from schedulers.dates import Clock
from schedulers.timeline import MECHANISM_ZONE

COOKIE = "untoc_form"
HONEYPOT = "website"
TOKEN_AGE = 2 * 3600
PER_ADDRESS = 5
WINDOW = 600.0
MAX_FIELD = 2000
MAX_BODY = 16_384


@dataclass
class ReportForm:
    """Issues and checks the form's tokens; counts posts per client address."""

    secret: bytes | None
    clock: Clock
    per_address: int = PER_ADDRESS
    window: float = WINDOW
    _key: bytes = field(init=False)
    _posts: dict[str, collections.deque[float]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._key = self.secret or secrets.token_bytes(32)

    def _sign(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:40]

    def issue(self, code: str, nonce: str | None) -> tuple[str, str]:
        """A token for the form of State `code`, and the cookie's nonce (kept if valid)."""
        if not nonce or len(nonce) != 32 or not nonce.isalnum():
            nonce = secrets.token_hex(16)
        issued = str(int(time.time()))
        return f"{issued}.{self._sign(code, issued, nonce)}", nonce

    def valid(self, code: str, token: str, nonce: str | None) -> bool:
        issued, _, signature = token.partition(".")
        if not nonce or not issued.isdigit() or len(issued) > 12:
            return False
        if not 0 <= time.time() - int(issued) <= TOKEN_AGE:
            return False
        return hmac.compare_digest(signature, self._sign(code, issued, nonce))

    def reporter(self, address: str) -> str:
        """The client as a reporter: a keyed hash, so the address itself is never stored."""
        return f"web:{self._sign('address', address)[:16]}"

    def allowed(self, address: str) -> bool:
        """Count a post from `address`; False once it posted too often in the window."""
        now = time.monotonic()
        posts = self._posts.setdefault(address, collections.deque())
        while posts and now - posts[0] > self.window:
            posts.popleft()
        if len(posts) >= self.per_address:
            return False
        posts.append(now)
        if len(self._posts) > 10_000:  # forget the quiet ones; a flood stays counted
            for key in [k for k, v in self._posts.items() if not v][:5000]:
                del self._posts[key]
        return True


@dataclass(frozen=True)
class Outcome:
    """What the page says after a post: thanks, or the problems; and the HTTP status."""

    status: int
    messages: list[str]
    accepted: bool = False


async def take(
    form: ReportForm,
    fields: Mapping[str, str],
    *,
    code: str,
    nonce: str | None,
    address: str,
    texts: Texts,
    store: Store | None,
    dataset: Dataset,
    vocabulary: Vocabulary,
) -> Outcome:
    """Check a posted form and queue its report; never raises for what a client sends."""
    if not form.valid(code, fields.get("token", ""), nonce):
        message = texts("This form has expired. Open the page again and send it from there.")
        return Outcome(403, [message])
    if fields.get(HONEYPOT):
        return Outcome(400, [texts("This report cannot be accepted.")])
    if not form.allowed(address):
        return Outcome(429, [texts("Too many reports from your address; please wait a while.")])
    if store is None:
        return Outcome(503, [texts("Reports cannot be taken right now; please try later.")])
    evidence = f"{fields.get('link', '')} {fields.get('words', '')}".strip()
    draft = Draft(code, fields.get("step", "-") or "-", fields.get("date", "-") or "-", evidence)
    now = form.clock()

    def country_of(text: str) -> str | None:
        try:
            return vocabulary.country(text, texts)
        except (NotUnderstood, TooLong):
            return None

    try:
        if any(len(value) > MAX_FIELD for value in fields.values()):
            raise ReportRefused([Problem("too_long", {"limit": str(MAX_FIELD)})])
        link = fields.get("link", "").strip()
        if link and (len(link.split()) > 1 or check_link(link)):
            # the link field holds one web address; words belong in the words field
            raise ReportRefused(check_link(link.split()[0]) or [Problem("bad_link", {"why": ""})])
        report = check_report(
            draft,
            dataset=dataset,
            country_of=country_of,
            origin="web",
            reporter=form.reporter(address),
            language=texts.language,
            today=now.astimezone(MECHANISM_ZONE).date(),
        )
        number = await store.submit_report(report, subscriber_id=None, now=now)
    except ReportRefused as refused:
        status = 429 if refused.problems[0].code == "too_many" else 400
        return Outcome(status, problems_text(texts, refused.problems))
    return Outcome(200, [queued_text(texts, number, told_here=False)], accepted=True)
