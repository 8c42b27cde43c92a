"""Security checks of the running service: who may do what, what leaks, what is trusted.

Each check drives the real part and ends in one figure, "check: held (what was seen)" or
"failed", or "not run" when what it needs is missing:

- Slack: forged signatures and stale timestamps are refused before anything runs; a
  replay inside Slack's five-minute window is accepted (Slack's own rule) and must
  change nothing.
- Telegram: the webhook refuses a missing or wrong secret; operator commands and buttons
  refuse everyone who is not an operator.
- Personal calendars: the nonces are long and random, an unknown token is a plain 404 that
  gives nothing away, neighbours of a real one do not work, and secrets are compared in
  constant time (a scan of the code for `==` on anything secret).
- The watcher never connects to a private, loopback or link-local address, however a
  page spells it (decimal and octal IPs, IPv6, redirects, names that resolve there).
- Real `web` and `worker` processes with known fake secrets, driven into errors: no
  secret in their logs, in any error page, or in what the command line prints.
- SQL injection strings in every free-text field that reaches the database, on SQLite
  and PostgreSQL: stored verbatim, every table intact.
- The web process: every answer (pages, feeds, API, errors, redirects) carries the
  security headers; a `javascript:` or `data:` link, through a dataset file or an
  approved proposal, is refused there and, planted past both, shown nowhere; a forged
  Host header is repeated nowhere and redirects use the public address; a body over the
  limit is a 413; the operators' figures are refused to a client elsewhere; on a real
  server, a 1 MB head is a 431 and a slow or silent client loses its connection.
- Planted files: a pickle put in the dataset cache never runs (no digest, a wrong one,
  a signed one in a directory others may write), and a calendar key file others may
  change is refused.
- `pip-audit`: no dependency with a known vulnerability.

One module per area: `slack`, `telegram` (the webhook and the operator's commands),
`tokens` (calendar tokens and secret comparisons), `ssrf`, `secrets` (no secret in logs
or output), `injection` (SQL), `web` (the web process against hostile clients), `cache`
(files planted on disk), `audit`
(known vulnerabilities); `_common` holds what
they share.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reliability.inputs import Lab, capture_errors
from reliability.report import Section
from reliability.security._common import Finding
from reliability.security.audit import _audit
from reliability.security.cache import _cache_checks
from reliability.security.injection import sql_injection
from reliability.security.secrets import _secret_checks
from reliability.security.slack import _slack_checks
from reliability.security.ssrf import _ssrf_checks
from reliability.security.telegram import _operator_checks, _webhook_checks
from reliability.security.tokens import (
    _calendar_checks,
    _constant_time,
    _token_entropy,
    secret_comparisons,
)
from reliability.security.web import _web_checks

# What the tests take from here.
__all__ = ["run", "secret_comparisons"]


def run(quick: bool = False) -> Section:
    """Every check, each a figure; a check that does not hold is a failure."""
    from config.dataset_loader import load_dataset

    section = Section("Security" + (" (quick form)" if quick else ""))
    findings: list[Finding] = []
    started = time.perf_counter()
    checks: list[tuple[str, Callable[[Lab], list[Finding]]]] = [
        ("Slack requests", lambda lab: asyncio.run(_slack_checks(lab))),
        ("Telegram webhook", lambda lab: asyncio.run(_webhook_checks(lab))),
        ("operator commands", lambda lab: asyncio.run(_operator_checks(lab))),
        ("calendar tokens", lambda lab: [_token_entropy(300 if quick else 5000)]),
        ("calendar addresses", lambda lab: asyncio.run(_calendar_checks(lab))),
        ("secret comparisons", lambda lab: [_constant_time()]),
        ("watcher SSRF", lambda lab: asyncio.run(_ssrf_checks(lab))),
        ("secrets in logs", lambda lab: _secret_checks(lab, quick)),
        ("SQL injection", lambda lab: sql_injection(lab, quick)),
        ("web clients", _web_checks),
        ("planted files", _cache_checks),
        ("dependency audit", lambda lab: [_audit(quick)]),
    ]
    with (
        tempfile.TemporaryDirectory(prefix="untoc-security-") as scratch,
        capture_errors() as errors,
    ):
        lab = Lab(Path(scratch), load_dataset(), errors)
        for name, check in checks:
            try:
                findings += check(lab)
            except Exception as error:  # one broken check must not hide the others
                findings.append(
                    Finding(name, False, f"the check stopped: {type(error).__name__}: {error}")
                )
    for finding in findings:
        section.figure(finding.line())
        if finding.held is False:
            section.fail(finding.line())
    held = sum(1 for f in findings if f.held)
    section.figure(
        f"total: {held}/{len(findings)} checks held, {time.perf_counter() - started:.0f} s"
    )
    return section
