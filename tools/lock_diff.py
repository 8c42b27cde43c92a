"""Print the installed packages whose version differs from uv.lock's (for `make test-latest`).

Reads `pip freeze` lines on standard input and the lock named on the command line; prints
one line per difference, "name: locked -> newest", or that there is none.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> None:
    lock = tomllib.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    locked = {canonical(p["name"]): p.get("version", "") for p in lock.get("package", [])}
    changes = []
    for line in sys.stdin:
        name, sep, version = line.strip().partition("==")
        if not sep:
            continue
        before = locked.get(canonical(name))
        if before != version:
            changes.append(f"  {canonical(name)}: {before or 'not locked'} -> {version}")
    print("\n".join(changes) if changes else "  none: the lock is the newest")


if __name__ == "__main__":
    main()
