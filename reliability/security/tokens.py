"""Calendar tokens: their entropy, the feeds they open, and constant-time comparisons."""

from __future__ import annotations

import ast
import itertools
import math
import secrets
import string
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from reliability.inputs import (
    NOW,
    ROOT,
    Lab,
)
from reliability.security._common import PRODUCT_PACKAGES, SECRET_NAME, Finding, _verdict

URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def _common_prefix(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _token_entropy(samples: int) -> Finding:
    from config.keys import new_nonce

    # A token is its nonce and an HMAC of it: all its unpredictability is the nonce's.
    tokens = [new_nonce() for _ in range(samples)]
    counts = Counter(char for token in tokens for char in token)
    total = sum(counts.values())
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    shortest = min(len(t) for t in tokens)
    bits = shortest * per_char
    shared = max(_common_prefix(a, b) for a, b in itertools.pairwise(tokens))
    problems = []
    if len(set(tokens)) != len(tokens):
        problems.append("two tokens were the same")
    if not set(counts) <= URL_SAFE:
        problems.append(
            f"characters outside the URL-safe alphabet: {sorted(set(counts) - URL_SAFE)}"
        )
    if bits < 128:
        problems.append(f"about {bits:.0f} bits")
    if shared > 4:
        problems.append(f"consecutive tokens share a {shared}-character prefix")
    return _verdict(
        "calendar nonce entropy",
        problems,
        f"{samples} tokens, all distinct, at least {shortest} URL-safe characters at "
        f"{per_char:.2f} bits each: about {bits:.0f} bits; consecutive tokens share at most "
        f"{shared} leading characters",
    )


async def _calendar_checks(lab: Lab) -> list[Finding]:
    import httpx

    from bot.db import subscribers
    from bot.db.engine import create_engine
    from bot.db.store import Store
    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.keys import calendar_key, calendar_token
    from config.settings import load_settings
    from reliability.service import CALENDAR_SECRET

    url, _ = await lab.new_database("security-calendar")
    store = Store(create_engine(url))
    try:
        async with store.sessions() as session, session.begin():
            active = await subscribers.ensure_subscriber(
                session, channel="telegram", address="1001", now=NOW
            )
            gone = await subscribers.ensure_subscriber(
                session, channel="telegram", address="1002", now=NOW
            )
            gone.active = False
        settings = load_settings(
            DATABASE_URL=url,
            PUBLIC_BASE_URL="https://watch.example.org",
            CALENDAR_SECRET=CALENDAR_SECRET,
        )
        key = calendar_key(settings)
        nonce = active.calendar_nonce
        token = calendar_token(key, nonce)
        inactive = calendar_token(key, gone.calendar_nonce)
        publisher = Publisher(lab.dataset, store, settings.public_base_url, clock=lambda: NOW)
        app = create_app(settings, lab.dataset, publisher)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:

            async def get(candidate: str) -> tuple[int, str, list[tuple[str, str]]]:
                quoted = urllib.parse.quote(candidate, safe="")
                response = await http.get(f"/calendar/{quoted}.ics")
                headers = sorted((k, v) for k, v in response.headers.items() if k != "date")
                return response.status_code, response.text, headers

            own = await get(token)
            flip = "A" if token[-1] != "A" else "B"
            neighbours = {
                "the last character changed": token[:-1] + flip,
                "the first character changed": flip + token[1:],
                "one character short": token[:-1],
                "one character more": token + "A",
                "in upper case": token.upper(),
                "in lower case": token.lower(),
                "reversed": token[::-1],
                "with a LIKE wildcard": token[:-1] + "_",
                "with a % wildcard": token[:-3] + "%",
                "with a * wildcard": token[:-1] + "*",
                "an SQL condition": token + "' OR '1'='1",
                "the token of a stopped subscriber": inactive,
                # what a copy of the database holds, alone and signed with a guessed key
                "the nonce the database holds": nonce,
                "the nonce under another key": calendar_token(b"k" * 32, nonce),
                "a fresh random token": secrets.token_urlsafe(32),
                "a short one": "a",
            }
            neighbours = {k: v for k, v in neighbours.items() if v != token}
            answers = {name: await get(candidate) for name, candidate in neighbours.items()}
    finally:
        await store.close()
    problems = []
    if own[0] != 200:
        problems.append(f"the real token answered HTTP {own[0]}")
    reference = answers["a fresh random token"]
    if reference[0] != 404 or reference[1] != "Not Found\n":
        problems.append(f"an unknown token answered HTTP {reference[0]} {reference[1][:40]!r}")
    different = [name for name, answer in answers.items() if answer != reference]
    if different:
        problems.append(f"answers differ from a plain 404 for: {', '.join(different)}")
    found = [
        _verdict(
            "unknown calendar token",
            [p for p in problems if "real token" in p or "unknown token" in p],
            "a plain 404 'Not Found' with the same headers as any other, nothing about why",
        ),
        _verdict(
            "calendar token enumeration",
            [p for p in problems if "differ" in p],
            f"{len(answers)} neighbours of a real token (a character changed, shorter, longer, "
            "other case, wildcards, SQL, a stopped subscriber's, the nonce the database holds, "
            "alone or under another key) all answer the same 404",
        ),
    ]
    return found


def secret_comparisons(
    packages: Sequence[str] = PRODUCT_PACKAGES, root: Path = ROOT
) -> tuple[list[str], list[str]]:
    """`==`/`!=` on anything named like a secret, and the uses of `compare_digest`."""
    plain: list[str] = []
    constant_time: list[str] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(root)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("compare_digest"):
                    constant_time.append(f"{where}:{node.lineno}")
                if not isinstance(node, ast.Compare):
                    continue
                if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                    continue
                operands = [node.left, *node.comparators]
                if any(_is_plain_value(operand) for operand in operands):
                    continue  # compared with a literal, None or a length: no secret leaks
                if any(_is_column(operand) for operand in operands):
                    continue  # a query (`Model.column == value`): the database compares
                if any(SECRET_NAME.search(ast.unparse(operand)) for operand in operands):
                    plain.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return plain, constant_time


def _is_column(node: ast.expr) -> bool:
    """`Subscriber.calendar_nonce`: a model's column, in a query built for the database."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id[:1].isupper()
    )


def _is_plain_value(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    return isinstance(node, ast.Call) and ast.unparse(node.func) in {"len", "type", "bool"}


def _constant_time() -> Finding:
    plain, constant_time = secret_comparisons()
    problems = [f"a plain comparison of a secret at {hit}" for hit in plain]
    return _verdict(
        "constant-time comparison of secrets",
        problems,
        f"compare_digest at {', '.join(constant_time)}; Slack signatures by slack_sdk's "
        "hmac.compare_digest; a calendar token's HMAC checked with compare_digest before its "
        f"nonce is looked up; no == on a secret in {len(PRODUCT_PACKAGES)} packages",
    )
