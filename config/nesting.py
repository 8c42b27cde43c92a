"""How deeply a file the service reads may nest its lists and mappings.

The dataset needs five levels and an export three; a file nested far deeper is a mistake
or an attack. The project sets its own limit, so the reader gets the same located message
("nested too deeply") whatever limit the installed parser has of its own (libyaml stops
at 1,000 levels, pure-Python PyYAML and `json` at the interpreter's recursion limit).
"""

from __future__ import annotations

MAX_NESTING = 64


def too_deep() -> str:
    """The problem, in words, when a file goes past the limit."""
    return f"nested too deeply (more than {MAX_NESTING} levels of lists and mappings)"


def json_too_deep(text: str) -> int | None:
    """The 1-based line where JSON `text` first nests past the limit, or None.

    Counts brackets outside strings in one pass, before any parser recurses.
    """
    depth = 0
    line = 1
    in_string = escaped = False
    for char in text:
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line
        elif char in "]}":
            depth -= 1
    return None
