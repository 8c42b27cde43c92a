"""`python -m reliability [--quick] [--write-docs]`: run every part and print its figures.

The parts run one after the other (load, faults, hostile input, security), each against
real processes, so their figures do not disturb each other. The exit status is 1 when
any part did not hold. `--write-docs` puts the figures into docs/RELIABILITY.md, between
its two marker comments, with when, where and how they were produced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

from reliability.report import Section

PARTS = (
    ("load", "Load"),
    ("faults", "Faults"),
    ("inputs", "Hostile input"),
    ("security", "Security"),
)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _part(name: str) -> ModuleType | None:
    """The part's module, or None when it is not written yet."""
    try:
        return importlib.import_module(f"reliability.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"reliability.{name}":
            return None
        raise


def _machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    return f"{os.cpu_count()} cores{model}, Python {platform.python_version()}"


def write_docs(sections: list[Section], command: str, minutes: float, path: Path = DOCS) -> None:
    """Replace the figures between the markers of `path` with these sections'."""
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} ... {END} block to fill")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"Produced {when} by `{command}` in {minutes:.0f} minutes, on {_machine()}.",
        "",
        *(section.markdown() for section in sections),
    ]
    path.write_text(f"{head}{START}\n{chr(10).join(block)}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short form the tests run")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"write the figures into {DOCS.name}"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    sections: list[Section] = []
    for name, title in PARTS:
        module = _part(name)
        if module is None:
            section = Section(title)
            section.figure(f"not run: reliability/{name}.py is not written yet")
        else:
            begun = time.monotonic()
            section = module.run(quick=args.quick)
            section.figure(f"this part took {time.monotonic() - begun:.0f} s")
        print(section.markdown(), flush=True)
        sections.append(section)
    held = all(section.held for section in sections)
    if args.write_docs:
        command = "python -m reliability" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
        write_docs(sections, command, (time.monotonic() - started) / 60)
    print("all parts held" if held else "some parts did not hold", flush=True)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
