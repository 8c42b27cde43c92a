"""YAML reading that remembers where every mapping and key came from.

Dataset errors must name the file and the line, so the loader keeps PyYAML's marks on
the mappings it builds. Timestamps are left as strings: an impossible date such as
2022-02-30 is then reported by validation with its line, instead of crashing the parser.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from config.nesting import MAX_NESTING, too_deep

try:  # the C parser is several times faster; the constructor stays in Python either way
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class LineDict(dict[str, Any]):
    """A mapping that knows the line it starts on and the line of each key (1-based)."""

    line: int
    key_lines: dict[str, int]


class YamlError(Exception):
    """A file is not well-formed YAML; `line` is 1-based, or 0 when unknown."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class _LineLoader(_BaseLoader):
    """SafeLoader with YAML 1.2 booleans: `NO` is Norway, not False."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level registry
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[str(key)] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[str(key)] = key_node.start_mark.line + 1
    return mapping


def _construct_timestamp_as_text(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file; mappings come back as `LineDict`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(path, 0, f"not UTF-8 text ({exc.reason}); save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        _check_depth(path, text)  # a parser's own nesting limit says it in its words
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlError(path, line, f"malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        _check_depth(path, text)
        raise YamlError(path, 0, f"malformed YAML: {exc}") from None
    except RecursionError:  # the constructor recurses once per level of nesting
        _check_depth(path, text)
        raise YamlError(path, 0, f"malformed YAML: {too_deep()}") from None
    if _depth(data) > MAX_NESTING:
        _check_depth(path, text)
    return data


def _depth(data: Any) -> int:
    """How many lists and mappings deep the loaded data goes (without recursing).

    An alias makes the data a graph whose paths can be exponentially many (a "billion
    laughs" file): each container is walked again only when reached at a greater depth.
    """
    deepest = 0
    reached: dict[int, int] = {}
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if reached.get(id(node), -1) >= depth:
            continue
        reached[id(node)] = depth
        deepest = max(deepest, depth + 1)
        if deepest > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_depth(path: Path, text: str) -> None:
    """Raise the project's own located error if `text` nests past `MAX_NESTING`.

    Reads the events with PyYAML's pure-Python parser, which has no nesting limit and does
    not recurse, so the answer does not depend on the installed parser's own limits.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 0
                    raise YamlError(path, line, f"malformed YAML: {too_deep()}")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # not a nesting problem: the caller reports the parser's own error


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest mapping key along `loc` (a pydantic error location)."""
    line = data.line if isinstance(data, LineDict) else None
    node = data
    for part in loc:
        if isinstance(node, LineDict) and isinstance(part, str):
            line = node.key_lines.get(part, node.line)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, LineDict):
                line = node.line
        else:
            break
    return line
