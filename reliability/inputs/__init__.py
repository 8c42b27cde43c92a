"""Hostile and malformed input at every entry point: a clear error each time, data intact.

Each input is a `Case` for one entry point: the web's query strings and calendar
addresses, Telegram commands and button data, Slack commands and button presses (signed
with the app's secret, so that they reach the app), dataset files, watched pages and
feeds, and command-line arguments. The real parts take them: the Starlette app, the PTB
application against the fake Bot API, the bolt app behind its route, the dataset loader,
the watcher against a local site, the typer app (and, for bytes that only a real argv
can carry, the `untoc-watch` process).

A case passes when the answer is a clear error (a 4xx whose text names the problem, a
bot reply that explains, exit code 2 with a message, a failure the watcher recorded) or,
for odd input that is valid, a normal answer; never a crash, a 5xx, a traceback or an
error in the log. And the data must be as it was: every database table row for row
(except what that input may change), the dataset files byte for byte.

The corpus is generated from families of hostile text (`FAMILIES`) shaped for each entry
point. `run(quick=True)` takes the first cases of every family at every entry point.

One module per entry point builds its cases and runs them (`web`, `telegram`, `slack`,
`datasets`, `pages`, `cli`); `_common` holds what they share.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from reliability.inputs._common import (
    CLI,
    DATASET,
    ENTRY_POINTS,
    FAMILIES,
    MAX_LISTED_FAILURES,
    NOW,
    PAGE,
    QUERY,
    QUICK_MINIMUM,
    QUICK_PER_FAMILY,
    ROOT,
    SLACK_BUTTON,
    SLACK_COMMAND,
    TELEGRAM_BUTTON,
    TELEGRAM_COMMAND,
    Case,
    ErrorLog,
    Lab,
    Tally,
    capture_errors,
    changed_tables,
    rows,
    signed,
)
from reliability.inputs.cli import _cli_cases, run_cli
from reliability.inputs.datasets import _dataset_cases, run_datasets
from reliability.inputs.pages import HostilePage, RawSite, _ics, _page_cases, run_pages
from reliability.inputs.slack import (
    _slack_button_cases,
    _slack_command_cases,
    _slack_view_cases,
    run_slack,
    slack_command_body,
    slack_press_payload,
    slack_service,
)
from reliability.inputs.telegram import _telegram_button_cases, _telegram_cases, run_telegram
from reliability.inputs.web import _query_cases, run_web
from reliability.report import Section

# What the tests and the security suite take from here.
__all__ = [
    "ENTRY_POINTS",
    "FAMILIES",
    "NOW",
    "QUERY",
    "QUICK_MINIMUM",
    "ROOT",
    "ErrorLog",
    "HostilePage",
    "Lab",
    "RawSite",
    "_ics",
    "capture_errors",
    "changed_tables",
    "corpus",
    "rows",
    "run",
    "sample",
    "signed",
    "slack_command_body",
    "slack_press_payload",
    "slack_service",
]


def corpus() -> list[Case]:
    """Every case, in a fixed order."""
    return [
        *_query_cases(),
        *_telegram_cases(),
        *_telegram_button_cases(),
        *_slack_command_cases(),
        *_slack_button_cases(),
        *_slack_view_cases(),
        *_dataset_cases(),
        *_page_cases(),
        *_cli_cases(),
    ]


def sample(cases: Sequence[Case]) -> list[Case]:
    """The quick form: the first case of each family at each entry point, at least 5 each."""
    chosen: list[Case] = []
    seen: Counter[tuple[str, str]] = Counter()
    per_entry: Counter[str] = Counter()
    for case in cases:
        if seen[(case.entry, case.family)] < QUICK_PER_FAMILY:
            seen[(case.entry, case.family)] += 1
            per_entry[case.entry] += 1
            chosen.append(case)
    for case in cases:
        if per_entry[case.entry] < QUICK_MINIMUM and case not in chosen:
            per_entry[case.entry] += 1
            chosen.append(case)
    return chosen


RUNNERS: tuple[tuple[frozenset[str], Callable[[Sequence[Case], Lab, Tally], None]], ...] = (
    (frozenset({QUERY}), run_web),
    (frozenset({TELEGRAM_COMMAND, TELEGRAM_BUTTON}), run_telegram),
    (frozenset({SLACK_COMMAND, SLACK_BUTTON}), run_slack),
    (frozenset({DATASET}), run_datasets),
    (frozenset({PAGE}), run_pages),
    (frozenset({CLI}), run_cli),
)


def run(quick: bool = False) -> Section:
    """Send the corpus (or its quick sample) to every entry point; figures per entry point."""
    from config.dataset_loader import load_dataset

    everything = corpus()
    cases = sample(everything) if quick else everything
    section = Section("Hostile input" + (" (quick sample)" if quick else ""))
    tally = Tally()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="untoc-inputs-") as scratch, capture_errors() as errors:
        lab = Lab(Path(scratch), load_dataset(), errors)
        for entries, runner in RUNNERS:
            chosen = [case for case in cases if case.entry in entries]
            if not chosen:
                continue
            try:
                runner(chosen, lab, tally)
            except Exception as error:  # a broken runner must show, not hide the others
                tally.problems.append(
                    f"{sorted(entries)}: the run stopped: {type(error).__name__}: {error}"
                )
    for entry in ENTRY_POINTS:
        section.figure(
            f"{entry}: {tally.passed[entry]}/{tally.tried[entry]} passed "
            f"({tally.accepted[entry]} of them odd but valid, and served as such)"
        )
    total_tried, total_passed = sum(tally.tried.values()), sum(tally.passed.values())
    section.figure(
        f"total: {total_passed}/{total_tried} passed, corpus of {len(everything)} inputs, "
        f"{time.perf_counter() - started:.0f} s"
    )
    for problem in tally.problems[:MAX_LISTED_FAILURES]:
        section.fail(problem)
    if len(tally.problems) > MAX_LISTED_FAILURES:
        section.fail(f"... and {len(tally.problems) - MAX_LISTED_FAILURES} more")
    return section
