"""Reports from subscribers: what they tell us, checked before it waits for an operator.

A report says that a step of one State's review happened on a day (`AT self-assessment
2027-01-15 https://...`, the words of `untoc-watch record`), or that a known event is on
another day. It becomes a proposal in the watcher's queue; nothing enters the timeline
before an operator approves it. Pure: the dataset, the words and `today` in, a `Report`
or the problems out. The problems are codes with values, worded by the bot in the
reporter's language.

Hostile words are refused, never cleaned into something else: control characters,
markup, an oversized text, a link that is not http(s) or points at a private address.
What is kept is plain text, escaped again wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from config.dataset import Dataset, Event
from config.urls import check_web_url

Origin = Literal["telegram", "slack", "web", "question"]
ProblemCode = Literal[
    "usage",
    "unknown_country",
    "unknown_step",
    "unknown_cluster",
    "unknown_event",
    "not_a_date",
    "future",
    "out_of_range",
    "no_evidence",
    "too_long",
    "control_characters",
    "markup",
    "bad_link",
    "private_link",
    "too_many",
    "blocked",
    "duplicate",
]


@dataclass(frozen=True)
class ReportLimits:
    """What one report may hold and how often one reporter may send one: data, not code."""

    per_day: int = 5
    max_text: int = 500
    max_line: int = 1000
    earliest_year: int = 2018
    latest_year: int = 2035


LIMITS = ReportLimits()
# Markup a reader's client could render: tags, entities, Slack's <!here> and links.
_MARKUP = re.compile(r"<\s*[/!@#a-zA-Z]|&[#a-zA-Z0-9]+;")
# Control, format (bidi overrides, zero-width), surrogate and private-use characters.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co"})
# A word that is a link, or means to be one (so `javascript:...` is refused as a link).
_LINKISH = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|(?:javascript|data|vbscript|file):)", re.I)
_PRIVATE_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")


@dataclass(frozen=True)
class Problem:
    """Why a report cannot be taken, with the values its wording needs."""

    code: ProblemCode
    values: Mapping[str, str] = field(default_factory=dict)


class ReportRefused(Exception):
    """A report that cannot be taken; `problems` say why, in codes the bot words."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(", ".join(p.code for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Report:
    """A checked report: one step of one review, or one known event, on one day."""

    origin: Origin
    reporter: str
    language: str
    date: dt.date
    words: str
    url: str | None
    country: str | None = None
    cluster: int = 1
    milestone: str | None = None
    event: Event | None = None

    @property
    def evidence(self) -> str:
        """The evidence in one line: the link and the words, as the reporter gave them."""
        return " ".join(part for part in (self.url, self.words) if part)

    @property
    def kind(self) -> str:
        return "milestone" if self.event is None else "change"

    @property
    def target_id(self) -> str | None:
        if self.event is not None:
            return self.event.id
        return f"m-{(self.country or '').lower()}-c{self.cluster}-{self.milestone}"

    @property
    def key(self) -> str:
        """The same report from the same reporter twice is one proposal."""
        said = f"report|{self.reporter}|{self.target_id}|{self.date.isoformat()}"
        return hashlib.sha256(said.encode()).hexdigest()[:32]

    @property
    def summary(self) -> str:
        """One line for the operators, in English like the rest of the CLI."""
        if self.event is not None:
            return f"reported: {self.event.id} on {self.date.isoformat()}"
        return (
            f"reported: {self.country} cluster {self.cluster} {self.milestone} "
            f"completed on {self.date.isoformat()}"
        )

    def payload(self) -> dict[str, Any]:
        """What approval records: a milestone date, or the event as it would be after."""
        if self.event is not None:
            return self.event.model_dump(mode="json", exclude_none=True)
        return {
            "country": self.country,
            "cluster": self.cluster,
            "milestone": self.milestone,
            "date": self.date.isoformat(),
            "source": self.evidence,
        }


def check_text(text: str, limit: int) -> list[Problem]:
    """Problems with free text a reporter typed (empty list: it can be kept)."""
    problems = []
    if len(text) > limit:
        problems.append(Problem("too_long", {"limit": str(limit)}))
    if _hidden(text):
        problems.append(Problem("control_characters"))
    if _MARKUP.search(text):
        problems.append(Problem("markup"))
    return problems


def _hidden(text: str) -> bool:
    """Whether `text` holds a character a reader cannot see (other than a line break)."""
    return any(unicodedata.category(char) in _HIDDEN and char not in "\n\t" for char in text)


def check_link(url: str) -> list[Problem]:
    """Problems with an evidence link: http(s), absolute, and not a private address."""
    try:
        checked = check_web_url(url)
    except ValueError as error:
        return [Problem("bad_link", {"why": str(error)})]
    host = (urlsplit(checked).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(_PRIVATE_NAMES) or "." not in host.strip("[]"):
        return [Problem("private_link")]
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return []
    return [] if address.is_global else [Problem("private_link")]


def split_evidence(text: str) -> tuple[str | None, str]:
    """The first http(s)-looking word as the link, the rest as words."""
    url = None
    words = []
    for word in text.split():
        if url is None and _LINKISH.match(word):
            url = word
        else:
            words.append(word)
    return url, " ".join(words)


def parse_day(text: str) -> dt.date | None:
    """A day written YYYY-MM-DD (the form every channel asks for)."""
    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Draft:
    """What a reporter gave, before it is checked: from one line, a form or a modal."""

    country: str | None
    step: str
    date: str
    evidence: str
    cluster: int = 1


def parse_line(text: str, *, limits: ReportLimits = LIMITS) -> Draft:
    """`COUNTRY [cN] STEP DATE EVIDENCE...` or `EVENT-ID DATE EVIDENCE...` (raises)."""
    if len(text) > limits.max_line:
        raise ReportRefused([Problem("too_long", {"limit": str(limits.max_line)})])
    words = text.split()
    if len(words) >= 3 and parse_day(words[1]) is not None:
        return Draft(None, words[0], words[1], " ".join(words[2:]))
    cluster = 1
    number = words[1][1:] if len(words) > 1 and words[1].lower().startswith("c") else ""
    if number.isascii() and number.isdigit() and len(number) <= 2:
        cluster = int(number)
        del words[1]
    if len(words) < 4:
        raise ReportRefused([Problem("usage")])
    return Draft(words[0], words[1], words[2], " ".join(words[3:]), cluster)


def check_report(
    draft: Draft,
    *,
    dataset: Dataset,
    country_of: Callable[[str], str | None],
    origin: Origin,
    reporter: str,
    language: str,
    today: dt.date,
    limits: ReportLimits = LIMITS,
) -> Report:
    """The checked report, or `ReportRefused` with every problem found at once.

    `country_of` reads a typed country (a code or a name in any of our languages).
    """
    problems: list[Problem] = []
    typed = (draft.country or "", draft.step, draft.date, draft.evidence)
    if any(_hidden(text) for text in typed):  # refused, never read as something else
        raise ReportRefused([Problem("control_characters")])
    day = parse_day(draft.date)
    if day is None:
        problems.append(Problem("not_a_date", {"text": draft.date[:20]}))
    elif not limits.earliest_year <= day.year <= limits.latest_year:
        problems.append(Problem("out_of_range", {"date": day.isoformat()}))
    url, words = split_evidence(draft.evidence)
    problems += check_text(words, limits.max_text)
    if url is not None:
        problems += check_link(url)
    if url is None and not words:
        problems.append(Problem("no_evidence"))
    event = dataset.events.get(draft.step) if draft.country is None else None
    code = None
    if draft.country is None:
        if event is None:
            problems.append(Problem("unknown_event", {"text": draft.step[:60]}))
    else:
        code = country_of(draft.country)
        if code is None:
            problems.append(Problem("unknown_country", {"text": draft.country[:40]}))
        if draft.step not in dataset.milestones:
            known = ", ".join(dataset.milestones)
            problems.append(Problem("unknown_step", {"text": draft.step[:60], "known": known}))
        if draft.cluster not in dataset.clusters:
            problems.append(Problem("unknown_cluster", {"number": str(draft.cluster)}))
        if day is not None and day > today:
            problems.append(Problem("future", {"date": day.isoformat()}))
    if problems:
        raise ReportRefused(problems)
    assert day is not None
    evidence_url = check_web_url(url) if url else None
    moved = _moved(event, day, " ".join(p for p in (evidence_url, words) if p)) if event else None
    return Report(
        origin=origin,
        reporter=reporter,
        language=language,
        date=day,
        words=words,
        url=evidence_url,
        country=code,
        cluster=draft.cluster,
        milestone=draft.step if event is None else None,
        event=moved,
    )


def _moved(event: Event, day: dt.date, source: str) -> Event:
    """The event on `day` (its end moved alike), sourced to the report and `reported`."""
    values = event.model_dump()
    if event.end is not None:
        values["end"] = day + (event.end - event.start)
    values.update(start=day, source=source[:1000], confidence="reported", precision="day")
    return Event.model_validate(values)


def mask(reporter: str | None) -> str:
    """A reporter's channel identity with most of it hidden, for the operators' lists."""
    if not reporter:
        return "-"
    channel, _, address = reporter.partition(":")
    parts = [
        f"{part[:2]}…{part[-2:]}" if len(part) > 6 else f"{part[:1]}…"
        for part in address.split("/")
    ]
    return f"{channel}:{'/'.join(parts)}"
