"""A Babel extractor for the dataset: the titles, hints and notes readers see.

Registered as the `untoc_dataset` extractor (pyproject entry point) and used by
`babel.cfg`, so `make translations` finds dataset texts as it finds texts in code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

TRANSLATED_FIELDS = frozenset({"title", "hint", "note"})


def extract_dataset(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Yield (line, funcname, message, comments) for every translated field in a file."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=yaml.SafeLoader)
    if root is not None:
        yield from _walk(root)


def _walk(node: yaml.Node) -> Iterator[tuple[int, str, str, list[str]]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if (
                isinstance(key, yaml.ScalarNode)
                and key.value in TRANSLATED_FIELDS
                and isinstance(value, yaml.ScalarNode)
            ):
                yield value.start_mark.line + 1, "gettext", value.value, [f"dataset {key.value}"]
            else:
                yield from _walk(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item)
