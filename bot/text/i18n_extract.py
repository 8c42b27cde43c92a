"""The translations template: every message in the code, the page templates and the dataset.

`make translations` writes `bot/text/locales/messages.pot` with `python -m bot.text.i18n_extract
--write`, and the catalog test compares the committed template with `template()`: one
function, so the two cannot disagree. Python code is read with Python's own parser
(`extract_python`), not with Babel's token-level heuristics, whose treatment of nested
calls has changed between Babel releases; the page templates are read by Jinja's
extractor and the dataset by `extract_dataset`.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "bot" / "text" / "locales" / "messages.pot"
TRANSLATED_FIELDS = frozenset({"title", "hint", "note"})
# The names a translatable message is passed to, and which arguments are messages: the
# gettext family's, and the project's own.
KEYWORDS: dict[str, tuple[int, ...]] = {
    **{
        name: tuple(p for p in spec if isinstance(p, int)) if isinstance(spec, tuple) else (1,)
        for name, spec in DEFAULT_KEYWORDS.items()
        if spec is None or (isinstance(spec, tuple) and all(isinstance(p, int) for p in spec))
    },
    "texts": (1,),
    "words": (1,),
    "t": (1,),
    "N_": (1,),
    "plural": (1, 2),
}
METHODS = [
    ("bot/**.py", "bot.text.i18n_extract:extract_python"),
    ("feeds/**.py", "bot.text.i18n_extract:extract_python"),
    ("config/**.py", "bot.text.i18n_extract:extract_python"),
    ("schedulers/**.py", "bot.text.i18n_extract:extract_python"),
    ("bot/web/templates/**.html", "jinja2.ext:babel_extract"),
    ("config/data/*.yaml", "bot.text.i18n_extract:extract_dataset"),
]
OPTIONS = {"bot/web/templates/**.html": {"silent": "false"}}
WIDTH = 100

Extracted = tuple[int, str, str | tuple[str, ...], list[str]]


def extract_python(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[Extracted]:
    """Yield every call of a keyword whose message arguments are plain string literals."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.id
            if isinstance(node.func, ast.Name)
            else node.func.attr
            if isinstance(node.func, ast.Attribute)
            else None
        )
        if name is None or name not in KEYWORDS:
            continue
        places = KEYWORDS[name]
        if len(node.args) < len(places):
            continue
        messages = [node.args[place - 1] for place in places]
        if not all(isinstance(m, ast.Constant) and isinstance(m.value, str) for m in messages):
            continue
        texts = tuple(str(m.value) for m in messages if isinstance(m, ast.Constant))
        yield node.lineno, name, texts[0] if len(texts) == 1 else texts, []


def extract_dataset(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[Extracted]:
    """Yield (line, funcname, message, comments) for every translated field in a file."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=yaml.SafeLoader)
    if root is not None:
        yield from _walk(root)


def _walk(node: yaml.Node) -> Iterator[Extracted]:
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


def template() -> Catalog:
    """The template as the code, the page templates and the dataset stand now."""
    catalog = Catalog(project="UNTOC Watch", fuzzy=False)
    for path, line, message, comments, context in extract_from_dir(
        ROOT,
        METHODS,
        {pattern: dict(o) for pattern, o in OPTIONS.items()},
        keywords={name: places for name, places in KEYWORDS.items()},
        comment_tags=(),
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(path, line)], auto_comments=comments, context=context)
    return catalog


def write_template(path: Path = TEMPLATE) -> int:
    """Write the template where the catalogs are updated from; returns its message count."""
    catalog = template()
    with path.open("wb") as handle:
        write_po(
            handle,
            catalog,
            width=WIDTH,
            no_location=True,
            omit_header=False,
            sort_output=True,
        )
    return len(catalog)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {TEMPLATE.relative_to(ROOT)}")
    arguments = parser.parse_args()
    if arguments.write:
        print(f"{write_template()} messages written to {TEMPLATE.relative_to(ROOT)}")
    else:
        print(f"{len(template())} messages")


if __name__ == "__main__":
    main()
