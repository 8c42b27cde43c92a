"""Hostile dataset files (YAML), read by the real loader: a located error, never a crash."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.dataset_loader import BUNDLED_DATA_DIR
from reliability.inputs._common import (
    DATASET,
    EVENT,
    NOW,
    Case,
    Lab,
    Tally,
    _first,
    fingerprint,
)


@dataclass(frozen=True)
class DatasetFile:
    """A file put next to the dataset (or over a bundled one); `loads`: it is valid."""

    name: str
    content: bytes
    loads: bool = False
    replaces_bundled: bool = False


class Raw(str):
    """A value written into YAML as it is (an unquoted date, 1e309)."""


def _yaml(section: str, *entries: dict[str, object]) -> bytes:
    """A dataset file with one section; values are written as JSON, which YAML reads."""
    lines = [f"{section}:"]
    for entry in entries:
        for index, (key, value) in enumerate(entry.items()):
            prefix = "  - " if index == 0 else "    "
            rendered = value if isinstance(value, Raw) else json.dumps(value, ensure_ascii=False)
            lines.append(f"{prefix}{key}: {rendered}")
    return ("\n".join(lines) + "\n").encode()


def _event_yaml(**changes: object) -> bytes:
    event: dict[str, object] = {**EVENT}
    event.update(changes)
    return _yaml("events", event)


def _bomb(levels: int = 9, width: int = 10) -> bytes:
    lines = ["x0: &x0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*x{level - 1}"] * width)
        lines.append(f"x{level}: &x{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def _dataset_cases() -> list[Case]:
    files: list[tuple[str, str, bytes]] = [
        ("syntax", "a tab for indentation", b"events:\n\t- id: x\n"),
        ("syntax", "an unclosed quote", b'events:\n  - id: "x\n'),
        ("syntax", "an unclosed bracket", b"events: [{id: x\n"),
        ("syntax", "bad indentation", b"events:\n  - id: x\n   kind: other\n"),
        ("syntax", "a mapping in a scalar", b"events: a: b: c\n"),
        ("syntax", "two documents", b"events: []\n---\nstates: []\n"),
        ("syntax", "a bad escape", b'events:\n  - id: "\\xZZ"\n'),
        ("shape", "a list at the top", b"- events\n- states\n"),
        ("shape", "a number at the top", b"42\n"),
        ("shape", "a string at the top", b"just some text\n"),
        ("shape", "an unknown section", b"subscribers:\n  - id: x\n"),
        ("shape", "a section that is no list", b"events: null\n"),
        ("shape", "a section that is a mapping", b"events:\n  id: x\n"),
        ("shape", "an entry that is a string", b"events:\n  - just text\n"),
        ("shape", "an entry that is a list", b"events:\n  - [1, 2]\n"),
        ("shape", "a key that is a list", b"events:\n  - ? [a, b]\n    : x\n"),
        ("shape", "a duplicated key", b"events:\n  - id: x\n    id: y\n"),
        ("shape", "a duplicated id", _event_yaml() + _event_yaml()[len(b"events:\n") :]),
        ("encoding", "invalid UTF-8", b"events:\n  - id: \xff\xfe\xfa\n"),
        ("encoding", "UTF-16 with a BOM", "events:\n  - id: x\n".encode("utf-16")),
        ("encoding", "Latin-1", "events:\n  - title: Réunion\n".encode("latin-1")),
        ("nul", "NUL bytes", b"events:\n  - id: x\x00y\n"),
        ("control", "control characters", b"events:\n  - id: x\x1b[31m\n"),
        (
            "tags",
            "a Python object tag",
            b"events: !!python/object/apply:os.system ['echo pwned']\n",
        ),
        ("tags", "a Python name tag", b"events: !!python/name:os.system\n"),
        ("tags", "an unknown tag", b"events: !include /etc/passwd\n"),
        ("tags", "binary data", b"events: !!binary aGVsbG8=\n"),
        ("bomb", "billion laughs", _bomb()),
        (
            "bomb",
            "billion laughs inside an event",
            _bomb() + _event_yaml(themes="PLACEHOLDER").replace(b'"PLACEHOLDER"', b"*x8"),
        ),
        (
            "bomb",
            "merge keys",
            b"a: &a {k0: 1}\n"
            + b"".join(
                b"m%d: &m%d {<<: [*%s, *%s], k%d: 1}\n"
                % (
                    i,
                    i,
                    b"a" if i == 0 else b"m%d" % (i - 1),
                    b"a" if i == 0 else b"m%d" % (i - 1),
                    i + 1,
                )
                for i in range(25)
            ),
        ),
        ("nesting", "lists nested 3,000 deep", b"events: " + b"[" * 3000 + b"]" * 3000 + b"\n"),
        (
            "nesting",
            "mappings nested 3,000 deep",
            b"events: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n",
        ),
        (
            "nesting",
            "blocks nested 1,500 deep",
            b"".join(b"  " * i + b"k%d:\n" % i for i in range(1500)),
        ),
    ]
    changes: list[tuple[str, str, dict[str, object]]] = [
        ("date", "start 2023-02-30", {"start": "2023-02-30"}),
        ("date", "start 2022-13-01", {"start": "2022-13-01"}),
        ("date", "start 0000-00-00", {"start": "0000-00-00"}),
        ("date", "start yesterday", {"start": "yesterday"}),
        ("date", "end before start", {"end": "2022-03-15"}),
        ("date", "start_time 25:00", {"start_time": "25:00"}),
        ("date", "a DST gap", {"start": "2022-03-27", "start_time": "02:30"}),
        (
            "date",
            "registration 24:00",
            {"registration": {"deadline": "2022-05-20", "time": "24:00"}},
        ),
        ("type", "start a list", {"start": [1, 2]}),
        ("type", "title a mapping", {"title": {"en": "x"}}),
        ("type", "themes a string", {"themes": "tip"}),
        ("type", "start a huge number", {"start": 10**30}),
        ("type", "an unknown field", {"colour": "red"}),
        ("unknown", "kind party", {"kind": "party"}),
        ("unknown", "status maybe", {"status": "maybe"}),
        ("unknown", "confidence sure", {"confidence": "sure"}),
        ("unknown", "theme drugs", {"themes": ["drugs"]}),
        ("zone", "zone Mars/Base", {"zone": "Mars/Base"}),
        ("zone", "zone Europe", {"zone": "Europe"}),
        ("zone", "zone America/Argentina", {"zone": "America/Argentina"}),
        ("zone", "zone ../../etc/passwd", {"zone": "../../etc/passwd"}),
        ("zone", "zone with a NUL", {"zone": "Europe/Vienna\x00"}),
        ("overlong", "a 5,000-character title", {"title": "A" * 5000}),
        ("blank", "an empty title", {"title": "   "}),
        ("sql", "an SQL id", {"id": "x'; DROP TABLE subscribers; --"}),
        ("traversal", "a path as id", {"id": "../../etc/passwd"}),
        ("direction", "an RTL override in the id", {"id": "a\u202eb"}),
        ("unicode", "an uppercase id", {"id": "Hostile"}),
        (
            "number",
            "registration in a DST gap",
            {"registration": {"deadline": "2022-03-27", "time": "02:30"}},
        ),
    ]
    for family, label, change in changes:
        files.append((family, label, _event_yaml(**change)))
    fact = {"source": "s", "confidence": "confirmed"}
    rule = {"title": "t", "offset": {"days": 1}, "actor": "a", "hint": "h", **fact}
    site = {"id": "s", "url": "https://example.org", **fact}
    others: list[tuple[str, str, bytes]] = [
        ("unknown", "country code XX", _yaml("states", {"code": "XX", **fact})),
        ("unknown", "country code at", _yaml("states", {"code": "at", **fact})),
        ("unknown", "country code AUT", _yaml("states", {"code": "AUT", **fact})),
        (
            "unknown",
            "reviewer XX",
            _yaml("reviewers", {"country": "AT", "cluster": 1, "states": ["XX"], **fact}),
        ),
        (
            "unknown",
            "reviewing itself",
            _yaml("reviewers", {"country": "AT", "cluster": 1, "states": ["AT"], **fact}),
        ),
        ("number", "cluster 0", _yaml("clusters", {"number": 0, "title": "t", **fact})),
        (
            "number",
            "cluster 1e309",
            _yaml("clusters", {"number": Raw("1e309"), "title": "t", **fact}),
        ),
        ("number", "cluster -1", _yaml("clusters", {"number": -1, "title": "t", **fact})),
        ("number", "cluster two", _yaml("clusters", {"number": "two", "title": "t", **fact})),
        (
            "number",
            "offset 10^20 days",
            _yaml("milestones", {**rule, "id": "m", "offset": {"days": 10**20}}),
        ),
        ("number", "offset zero", _yaml("milestones", {**rule, "id": "m", "offset": {}})),
        (
            "unknown",
            "a chain to nowhere",
            _yaml("milestones", {**rule, "id": "m", "after": "nowhere"}),
        ),
        (
            "unknown",
            "a chain in a cycle",
            _yaml(
                "milestones",
                {**rule, "id": "m1", "after": "m2"},
                {**rule, "id": "m2", "after": "m1"},
            ),
        ),
        (
            "date",
            "a recorded 2023-02-30",
            _yaml(
                "milestone_dates",
                {"country": "AT", "cluster": 1, "milestone": "self-assessment", **fact}
                | {"date": Raw("2023-02-30")},
            ),
        ),
        ("traversal", "a file:// source", _yaml("sources", {**site, "url": "file:///etc/passwd"})),
        ("markup", "a javascript: source", _yaml("sources", {**site, "url": "javascript:x()"})),
        ("syntax", "a bad ignore pattern", _yaml("sources", {**site, "ignore": ["("]})),
        ("syntax", "a bad selector", _yaml("sources", {**site, "selector": "div["})),
        ("number", "an interval of 0", _yaml("sources", {**site, "interval_minutes": 0})),
    ]
    files += others
    cases = [
        Case(DATASET, family, label, DatasetFile("hostile.yaml", content))
        for family, label, content in files
    ]
    # A broken bundled file (an operator editing config/data in place).
    events = (BUNDLED_DATA_DIR / "events.yaml").read_bytes()
    half = DatasetFile("events.yaml", events[: len(events) // 2], replaces_bundled=True)
    cases.append(Case(DATASET, "syntax", "a bundled file cut in half", half))
    # Odd text that is valid: it loads, and every page and feed shows it as text.
    valid = [
        ("format", "a format string as title", {"title": "{0.__class__} %s%n {texts}"}),
        ("markup", "a script as title", {"title": "<script>alert(1)</script> & <b>"}),
        ("direction", "an RTL override in the title", {"title": "\u202eevil\u202c meeting"}),
        ("unicode", "emoji and combining marks", {"title": "🇦🇹 Ä\u0308\u0308 meeting"}),
        ("sql", "SQL in the title", {"title": "'; DROP TABLE subscribers; --"}),
    ]
    for family, label, title in valid:
        content = _event_yaml(**title)
        cases.append(
            Case(
                DATASET,
                family,
                label + " (valid)",
                DatasetFile("hostile.yaml", content, loads=True),
            )
        )
    return cases


def _renders(dataset: Any, title: str) -> str | None:
    """Whether the web shows a dataset with odd text: as text, on every page and feed."""
    import httpx

    from bot.publishing.publisher import Publisher
    from bot.web.app import create_app
    from config.settings import load_settings

    async def fetch() -> str | None:
        publisher = Publisher(dataset, None, "https://watch.example.org", clock=lambda: NOW)
        app = create_app(load_settings(), dataset, publisher)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
            for address in (
                "/",
                "/?lang=fr",
                "/calendar.ics",
                "/calendar.ics?lang=es",
                "/api/upcoming",
            ):
                response = await http.get(address)
                if response.status_code != 200:
                    return f"GET {address} answered HTTP {response.status_code}"
                page = address.startswith("/?") or address == "/"
                if page and "<script>alert(1)</script>" in response.text:
                    return f"GET {address} shows a script from the dataset unescaped"
            listed = (await http.get("/api/upcoming")).json()
            if not any(row.get("title") == title for row in listed):
                return "the API does not show the title as written"
        return None

    return asyncio.run(fetch())


def run_datasets(cases: Sequence[Case], lab: Lab, tally: Tally) -> None:
    """Broken dataset files, read by the loader from a scratch copy of the dataset."""
    from config.dataset_loader import DatasetError, load_dataset

    bundled = lab.root / "bundled"
    shutil.copytree(BUNDLED_DATA_DIR, bundled)
    shipped = fingerprint(BUNDLED_DATA_DIR)
    for number, case in enumerate(cases):
        file: DatasetFile = case.payload
        base = bundled
        extra = lab.root / f"extra-{number}"
        extra.mkdir()
        if file.replaces_bundled:
            base = lab.root / f"bundled-{number}"
            shutil.copytree(bundled, base)
            (base / file.name).write_bytes(file.content)
        else:
            (extra / file.name).write_bytes(file.content)
        before, mark = fingerprint(base, extra), lab.errors.mark()
        problem: str | None = None
        accepted = False
        try:
            dataset = load_dataset(extra, base, cache_dir=lab.root / f"cache-{number}")
        except DatasetError as error:
            message = str(error)
            if file.loads:
                problem = f"a valid file was refused: {message[:120]}"
            elif file.name not in message:
                problem = f"the error does not name the file: {message[:120]}"
        except Exception as error:
            problem = f"the loader crashed: {type(error).__name__}: {str(error)[:100]}"
        else:
            accepted = True
            if not file.loads:
                problem = "a broken file was accepted"
            else:
                title = dataset.events["hostile-event"].title
                problem = _renders(dataset, title)
        leftovers = list((lab.root / f"cache-{number}").glob("*.pickle"))
        if leftovers and not accepted:
            problem = problem or "a broken dataset was cached"
        problem = _first(
            problem,
            None if fingerprint(base, extra) == before else "the dataset files changed",
            lab.logged(mark),
        )
        tally.add(case, problem, accepted=accepted)
    if fingerprint(BUNDLED_DATA_DIR) != shipped:
        tally.problems.append(f"{DATASET}: the shipped dataset files changed")
    load_dataset(None, bundled)  # the copy still loads: nothing above harmed it
