"""The layout's last rule that import-linter cannot see: a function-level import outside
`bot/cli/` says why, in a comment on it or on the lines just above its block."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "config", "feeds", "schedulers")
CLI = ROOT / "bot" / "cli"


def _unexplained(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for function in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            above = node.lineno - 2  # walk up through the block of imports it belongs to
            while above >= 0 and (
                not lines[above].strip()
                or lines[above].strip().startswith(("import ", "from ", ")"))
            ):
                above -= 1
            explained = "#" in lines[node.lineno - 1] or lines[above].strip().startswith("#")
            if not explained:
                found.append(f"{path.name}:{node.lineno}:{lines[node.lineno - 1]}")
    return found


def test_every_function_level_import_outside_the_cli_says_why():
    paths = [p for package in PRODUCT for p in sorted((ROOT / package).rglob("*.py"))]
    unexplained = [line for p in paths if CLI not in p.parents for line in _unexplained(p)]
    assert not unexplained, "say why in a comment, or import at the top:\n" + "\n".join(unexplained)


def test_the_check_sees_an_import_without_a_reason(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "def quiet():\n    x = 1\n\n    import json\n\n\n"
        "def explained():\n    # loaded late\n    import csv\n\n    import io\n",
        encoding="utf-8",
    )
    assert _unexplained(module) == ["module.py:4:    import json"]
