"""Faults: crashes, restarts and failing neighbours, and what the service makes of them.

Every scenario runs the real processes against the fakes and counts at the fakes:
- the worker killed with SIGKILL at random moments of a broadcast, and started again;
- the web process killed with SIGKILL under load, and started again;
- PostgreSQL stopped and started in the middle of a broadcast (full run only: it
  disturbs everything else using the server);
- the chat services answering 429 with retry_after, 500, a proxy's HTML page, a body
  that is not JSON, a closed connection, or nothing before the client gives up;
- the watched pages broken: cut short, cut off mid-body, in a wrong charset, binary,
  500, oversized, redirecting in a loop;
- reminders planned before a deadline, the worker away until after it.
Figures: messages lost (must be 0), duplicates and their bound (what was in flight),
stale reminders sent (must be 0), and how long each recovery took. Messages are counted
once the worker has stopped: whatever it sent has arrived by then.

One module per scenario group: `processes` (the worker and the web killed), `database`
(PostgreSQL restarted), `channels` (the chat services failing), `pages` (broken watched
pages), `reminders` (stale reminders); `_common` holds what they share.
"""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from reliability.faults._common import FULL, QUICK, Scale
from reliability.faults.channels import channel_faults
from reliability.faults.database import database_restart
from reliability.faults.pages import broken_pages
from reliability.faults.processes import web_kills, worker_kills
from reliability.faults.reminders import stale_reminders
from reliability.report import Section
from reliability.service import postgres_server


def run(quick: bool = False) -> Section:
    """Run the fault part; `quick` is the short form the tests run."""
    scale = QUICK if quick else FULL
    section = Section("Faults: crashes, restarts, failing services, broken pages")
    kind = scale.database
    if kind == "postgresql" and postgres_server() is None:
        section.figure("PostgreSQL did not answer: these runs used SQLite")
        kind = "sqlite"
    scenarios: list[tuple[str, Callable[[Scale, str, Path, Section], None]]] = [
        ("worker killed", worker_kills),
        ("web killed", web_kills),
        ("database restarted", database_restart),
        ("channel faults", channel_faults),
        ("broken pages", broken_pages),
        ("stale reminders", stale_reminders),
    ]
    with tempfile.TemporaryDirectory(prefix="untoc-faults-") as tmp:
        for name, scenario in scenarios:
            directory = Path(tmp) / name.replace(" ", "-")
            directory.mkdir()
            try:
                scenario(scale, kind, directory, section)
            except Exception as exc:  # a scenario that broke is a failure to report, not a crash
                section.fail(f"{name}: {exc!r}\n{traceback.format_exc(limit=3)}")
    return section
