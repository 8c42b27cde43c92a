"""The curated dataset: what the review mechanism is, who is in it, and what is scheduled.

Facts live in YAML files (`config/data/` ships with the service; operators add or
override facts with files in `UNTOC_DATA_DIR`). Every fact carries its `source` and its
`confidence`. `load_dataset` validates everything and reports every problem at once,
each with its file and line, so an operator can fix a file in one pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import hmac
import os
import pickle
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import VERSION as pydantic_version
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from config.urls import check_web_url
from config.vocabulary import THEMES as THEMES  # declared once, with their words
from config.vocabulary import ZONE
from config.vocabulary import Theme as Theme

BUNDLED_DATA_DIR = Path(__file__).with_name("data")
VIENNA = ZONE

Confidence = Literal["confirmed", "reported", "projected"]
CONFIDENCE_ORDER: dict[str, int] = {"projected": 0, "reported": 1, "confirmed": 2}
EventKind = Literal[
    "constructive-dialogue", "preparation-day", "cop", "working-group", "training", "other"
]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
# How precisely a date is known: "month" means only its month is (the day is the 1st and is
# never to be shown as a day: "October 2026", not "1 October 2026").
Precision = Literal["day", "month"]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# A link that is shown to readers (an href, an iCal URL): http(s) only.
WebUrl = Annotated[Text, AfterValidator(check_web_url)]


def weakest(*levels: Confidence) -> Confidence:
    """The least certain of several confidence levels: a chain is as sure as its weakest link."""
    return min(levels, key=CONFIDENCE_ORDER.__getitem__)


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    source: Text
    confidence: Confidence


class Instrument(_Fact):
    id: Id
    short: Text
    name: Text


class Reading(_Fact):
    """What another source says a cluster is, where the sources disagree."""

    title: Text


class Cluster(_Fact):
    """A thematic cluster. Where sources disagree on what it covers, `readings` holds the
    other readings, each with its source, and `note` says so to the reader."""

    number: int = Field(ge=1, le=9)
    title: Text
    themes: list[Theme] = Field(default_factory=list)
    articles: dict[Id, list[int]] = Field(default_factory=dict)
    readings: list[Reading] = Field(default_factory=list)
    note: Text | None = None


class ClusterStart(_Fact):
    cluster: int = Field(ge=1, le=9)
    date: dt.date
    note: Text | None = None


class Membership(_Fact):
    countries: list[Code]


class Group(_Fact):
    number: int = Field(ge=1, le=9)
    reviews: int | None = Field(default=None, ge=0)
    cluster_starts: list[ClusterStart] = Field(default_factory=list)
    members: list[Membership] = Field(default_factory=list)


class StateParty(_Fact):
    code: Code
    aliases: list[Text] = Field(default_factory=list)


class NonParty(_Fact):
    code: Code


def _check_precision(day: dt.date, precision: Precision, what: str) -> None:
    """Nothing to refuse: with precision "month" only the month of the date is read.

    Readers take such a date as its month (`month_start`), so a date copied with its
    precision and moved by some days still says the right month.
    """


def month_start(day: dt.date, precision: Precision) -> dt.date:
    """The first day a date may mean: the 1st of its month if only the month is known."""
    return day.replace(day=1) if precision == "month" else day


class Accession(_Fact):
    """A State's accession to (or ratification of) the Convention, or a step towards it.

    `deposited: false` records a step short of a party (a parliament's approval, say) that
    no depositary text confirms: the State is then not counted as a party.
    """

    country: Code
    date: dt.date
    precision: Precision = "day"
    deposited: bool = True
    note: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> Accession:
        _check_precision(self.date, self.precision, "date")
        return self


class PartyCount(_Fact):
    """How many States parties a source counted on a date."""

    date: dt.date
    precision: Precision = "day"
    count: int = Field(ge=1, le=250)

    @model_validator(mode="after")
    def _check(self) -> PartyCount:
        _check_precision(self.date, self.precision, "date")
        return self


class Progress(_Fact):
    """A mechanism-wide progress figure: how many country reviews had started, on a date."""

    date: dt.date
    precision: Precision = "day"
    cluster: int = Field(default=1, ge=1, le=9)
    started: int | None = Field(default=None, ge=0)
    not_started: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)
    quote: Text

    @model_validator(mode="after")
    def _check(self) -> Progress:
        _check_precision(self.date, self.precision, "date")
        return self


class ReviewPlan(_Fact):
    """The plan of the procedures: each cluster a phase of `phase_months`, all ending by `ends`.

    A plan, not a schedule: the facts (`progress`) say how far behind it the reviews are.
    """

    id: Id
    phase_months: int = Field(ge=1, le=120)
    ends: dt.date
    precision: Precision = "day"
    note: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> ReviewPlan:
        _check_precision(self.ends, self.precision, "ends")
        return self


class Action(_Fact):
    """Something an NGO can do now about its State's review, whatever the step."""

    id: Id
    title: Text
    url: Text | None = None


class Delay(_Fact):
    """A source saying that a step of one State's review is late: only this makes it `overdue`."""

    country: Code
    cluster: int = Field(ge=1, le=9)
    milestone: Id
    reported_on: dt.date
    note: Text | None = None


class ReviewStart(_Fact):
    """The actual start of one State's review for one cluster (overrides its group's)."""

    country: Code
    cluster: int = Field(ge=1, le=9)
    date: dt.date


class Reviewers(_Fact):
    country: Code
    cluster: int = Field(ge=1, le=9)
    states: list[Code] = Field(min_length=1, max_length=2)


class Offset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    days: int = Field(default=0, ge=0, le=3650)
    weeks: int = Field(default=0, ge=0, le=520)
    months: int = Field(default=0, ge=0, le=120)


class MilestoneRule(_Fact):
    """One step of a country review, due `offset` after the review start or another step.

    With `after` naming another step the rule is chained: the due date runs from that
    step's recorded actual date, or from its due date (then only `projected`).
    """

    id: Id
    title: Text
    after: Id = "start"
    offset: Offset
    actor: Text
    hint: Text


class MilestoneDate(_Fact):
    """A recorded actual date on which a step of a review was completed."""

    country: Code
    cluster: int = Field(ge=1, le=9)
    milestone: Id
    date: dt.date


_TIME = re.compile(r"^(midnight|([01]\d|2[0-3]):[0-5]\d)$")


class Registration(BaseModel):
    """A registration deadline: a local date, a time ("midnight" = end of that day), a zone."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    deadline: dt.date
    time: str = "midnight"
    zone: str = VIENNA
    url: WebUrl | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> Registration:
        if not _TIME.match(self.time):
            raise ValueError(f"time {self.time!r} must be 'midnight' or HH:MM (24-hour)")
        zone = check_zone(self.zone)
        if self.local_time is not None and not wall_time_exists(
            self.deadline, self.local_time, zone
        ):
            raise ValueError(f"{self.deadline} {self.time} does not exist in {self.zone} (DST gap)")
        return self

    @property
    def local_time(self) -> dt.time | None:
        """The wall-clock time, or None for "midnight" (the end of the date)."""
        return None if self.time == "midnight" else dt.time.fromisoformat(self.time)


class Event(_Fact):
    """A dated event: a constructive dialogue, a COP session, a Working Group, a training."""

    id: Id
    kind: EventKind
    title: Text
    themes: list[Theme] = Field(default_factory=list)
    start: dt.date
    end: dt.date | None = None
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    zone: str = VIENNA
    place: Text | None = None
    url: WebUrl | None = None
    registration: Registration | None = None
    status: Literal["scheduled", "cancelled"] = "scheduled"
    note: Text | None = None
    # "month": only the month is known (start is its 1st, no end); never shown as a day.
    precision: Precision = "day"
    # The recurring series (`rhythm` ids) this event is the occurrence of, for its year.
    series: list[Id] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Event:
        _check_precision(self.start, self.precision, "start")
        if self.precision == "month" and (self.end is not None or self.start_time is not None):
            raise ValueError("an event known only to the month has no end and no times")
        zone = check_zone(self.zone)
        if self.start_time is not None and not wall_time_exists(self.start, self.start_time, zone):
            raise ValueError(
                f"{self.start} {self.start_time} does not exist in {self.zone} (DST gap)"
            )
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.end_time is not None and self.start_time is None:
            raise ValueError("end_time needs a start_time")
        return self


def _placeholders(template: str) -> set[str]:
    return set(re.findall(r"\{[a-z]+\}", template))


_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
SeriesKind = Literal[
    "cop", "working-group", "constructive-dialogue", "preparation-day", "application-call"
]


class Window(BaseModel):
    """Where in the year the first day of an occurrence may fall ("MM-DD" to "MM-DD").

    `years` narrows it to the years with a COP session (`cop`), to the others (`other`),
    or not at all (`every`): the Trafficking in Persons dialogue is in June or July in COP
    years and in October otherwise.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    years: Literal["every", "cop", "other"] = "every"
    start: str
    end: str

    @model_validator(mode="after")
    def _check(self) -> Window:
        for value in (self.start, self.end):
            if not _MONTH_DAY.match(value):
                raise ValueError(f"{value!r} must be a month and day, MM-DD")
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


class Placement(BaseModel):
    """An occurrence placed from another series' occurrence of the same year.

    `working_days: 1` ends it on the working day before the other's first day (a Working
    Group before its dialogue; the preparation day); `weeks: [7, 15]` puts it 7 to 15
    weeks before (an application deadline before the dialogue it is for).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    series: Id
    working_days: int | None = Field(default=None, ge=1, le=30)
    weeks: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _check(self) -> Placement:
        if (self.working_days is None) == (self.weeks is None):
            raise ValueError("give exactly one of working_days or weeks")
        if self.weeks is not None and not 0 <= self.weeks[0] <= self.weeks[1] <= 52:
            raise ValueError(f"weeks {list(self.weeks)} must be [fewest, most], 0 to 52")
        return self


class Series(_Fact):
    """One recurring part of the mechanism's rhythm, declared once, with what it rests on.

    An occurrence is either placed in the year by `windows`, or `before` another series'
    occurrence of the same year. `event_id` is the id its occurrence of a year has
    (`{year}`; `{number}` counts sessions from `number` in `first_year`), so one identity
    runs from the projection to the announced event. An application call has no id of its
    own: it is the registration of the dialogue it is `before`.
    `occurrences` are the dataset events it rests on; `pattern` says the rule in words.
    """

    id: Id
    kind: SeriesKind
    title: Text
    themes: list[Theme] = Field(default_factory=list)
    event_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9{}-]+$")] | None = None
    first_year: int = Field(ge=2000, le=2100)
    every: int = Field(default=1, ge=1, le=10)
    number: int | None = Field(default=None, ge=1)
    days: int = Field(default=1, ge=1, le=31)
    weekdays: Literal["any", "working", "monday"] = "working"
    windows: list[Window] = Field(default_factory=list)
    before: Placement | None = None
    watch_weeks: int | None = Field(default=None, ge=0, le=26)
    occurrences: list[Id] = Field(default_factory=list)
    pattern: Text

    @model_validator(mode="after")
    def _check(self) -> Series:
        if bool(self.windows) == (self.before is not None):
            raise ValueError("give either windows or before, not both and not neither")
        if self.kind == "application-call":
            if self.before is None or self.before.weeks is None:
                raise ValueError("an application call is placed 'before' a dialogue, in weeks")
            if self.event_id is not None:
                raise ValueError("an application call takes its id from its dialogue")
        elif self.event_id is None or not {"{year}", "{number}"} & _placeholders(self.event_id):
            raise ValueError("event_id must name the year ({year}) or the session ({number})")
        if self.event_id is not None and "{number}" in self.event_id and self.number is None:
            raise ValueError("event_id with {number} needs number (of the first_year session)")
        return self

    def runs_in(self, year: int) -> bool:
        """Whether the series has an occurrence in `year` (every `every` years from the first)."""
        return year >= self.first_year and (year - self.first_year) % self.every == 0

    def event_id_for(self, year: int) -> str | None:
        """The id the occurrence of `year` has, announced or projected (None for a call)."""
        if self.event_id is None:
            return None
        number = (
            self.number + (year - self.first_year) // self.every if self.number is not None else 0
        )
        return self.event_id.replace("{year}", str(year)).replace("{number}", str(number))


class Source(_Fact):
    """A page or feed the watcher polls for changes."""

    id: Id
    url: Annotated[str, StringConstraints(pattern=r"^https?://")]
    kind: Literal["html", "rss", "atom", "ics"] = "html"
    interval_minutes: int = Field(default=360, ge=5, le=10080)
    selector: Text | None = None
    ignore: list[Text] = Field(default_factory=list)
    language: Literal["ar", "en", "es", "fr", "ru", "zh"] = "en"
    themes: list[Theme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Source:
        for pattern in self.ignore:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"ignore pattern {pattern!r} is not a regular expression: {exc}"
                ) from None
        if self.selector is not None:
            import soupsieve  # only when validating: a cached dataset skips this

            try:
                soupsieve.compile(self.selector)
            except soupsieve.SelectorSyntaxError as exc:
                raise ValueError(
                    f"selector {self.selector!r} is not a CSS selector: {str(exc).splitlines()[0]}"
                ) from None
        return self


def wall_time_exists(day: dt.date, time: dt.time, zone: ZoneInfo) -> bool:
    """False for a wall-clock time that a daylight-saving change skips in `zone`."""
    local = dt.datetime.combine(day, time, tzinfo=zone)
    return local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == local.replace(
        tzinfo=None
    )


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_zone(zone: str) -> ZoneInfo:
    """Return the IANA zone named `zone`, or raise a ValueError that says what exists."""
    if "/" not in zone and zone != "UTC":
        raise ValueError(f"zone {zone!r} is not an IANA zone name; write e.g. Europe/Vienna")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America/Argentina" is a folder
        close = difflib.get_close_matches(zone, _zones(), n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"zone {zone!r} does not exist{hint}") from None


@dataclass(frozen=True)
class _Collection:
    """How one top-level YAML key maps to a model and to the key that identifies an entry."""

    model: type[_Fact]
    key: Callable[[Any], Hashable]


Hashable = str | int | tuple[object, ...]

COLLECTIONS: dict[str, _Collection] = {
    "instruments": _Collection(Instrument, lambda x: x.id),
    "clusters": _Collection(Cluster, lambda x: x.number),
    "groups": _Collection(Group, lambda x: x.number),
    "states": _Collection(StateParty, lambda x: x.code),
    "non_parties": _Collection(NonParty, lambda x: x.code),
    "review_starts": _Collection(ReviewStart, lambda x: (x.country, x.cluster)),
    "reviewers": _Collection(Reviewers, lambda x: (x.country, x.cluster)),
    "milestones": _Collection(MilestoneRule, lambda x: x.id),
    "milestone_dates": _Collection(MilestoneDate, lambda x: (x.country, x.cluster, x.milestone)),
    "events": _Collection(Event, lambda x: x.id),
    "sources": _Collection(Source, lambda x: x.id),
    "accessions": _Collection(Accession, lambda x: x.country),
    "party_counts": _Collection(PartyCount, lambda x: (x.date, x.source)),
    "progress": _Collection(Progress, lambda x: (x.date, x.cluster)),
    "review_plan": _Collection(ReviewPlan, lambda x: x.id),
    "delays": _Collection(Delay, lambda x: (x.country, x.cluster, x.milestone)),
    "rhythm": _Collection(Series, lambda x: x.id),
    "ngo_actions": _Collection(Action, lambda x: x.id),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the dataset, located as precisely as we can."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.message}"
            if self.line
            else f"{self.path}: {self.message}"
        )


class DatasetError(Exception):
    """The dataset cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listing = "\n  ".join(str(p) for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the dataset:\n  {listing}")


@dataclass(frozen=True)
class Dataset:
    """The validated dataset, each collection keyed by its identity, in file order."""

    instruments: dict[str, Instrument]
    clusters: dict[int, Cluster]
    groups: dict[int, Group]
    states: dict[str, StateParty]
    non_parties: dict[str, NonParty]
    review_starts: dict[tuple[str, int], ReviewStart]
    reviewers: dict[tuple[str, int], Reviewers]
    milestones: dict[str, MilestoneRule]
    milestone_dates: dict[tuple[str, int, str], MilestoneDate]
    events: dict[str, Event]
    sources: dict[str, Source]
    accessions: dict[str, Accession] = field(default_factory=dict)
    party_counts: dict[tuple[dt.date, str], PartyCount] = field(default_factory=dict)
    progress: dict[tuple[dt.date, int], Progress] = field(default_factory=dict)
    review_plan: dict[str, ReviewPlan] = field(default_factory=dict)
    delays: dict[tuple[str, int, str], Delay] = field(default_factory=dict)
    rhythm: dict[str, Series] = field(default_factory=dict)
    ngo_actions: dict[str, Action] = field(default_factory=dict)
    files: tuple[Path, ...] = field(default=())
    _membership: dict[str, tuple[Group, Membership]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        found = {
            code: (group, membership)
            for group in self.groups.values()
            for membership in group.members
            for code in membership.countries
        }
        object.__setattr__(self, "_membership", found)

    def group_of(self, code: str) -> tuple[Group, Membership] | None:
        """The group a State party was drawn into, with the fact that says so, if known."""
        return self._membership.get(code)

    def party_count(self) -> PartyCount | None:
        """The latest count of States parties a source gives (the most certain on one date)."""
        if not self.party_counts:
            return None
        return max(
            self.party_counts.values(),
            key=lambda c: (c.date, CONFIDENCE_ORDER[c.confidence]),
        )

    @property
    def aliases(self) -> dict[str, str]:
        """Other names people use for States parties (e.g. UK), mapped to their codes."""
        return {alias: code for code, state in self.states.items() for alias in state.aliases}

    def with_facts(
        self, milestone_dates: Iterable[MilestoneDate] = (), events: Iterable[Event] = ()
    ) -> Dataset:
        """A copy where facts recorded at run time override the files, by identity.

        Operators record milestone dates; approved watcher proposals add or move events.
        """
        dates = dict(self.milestone_dates)
        for item in milestone_dates:
            dates[(item.country, item.cluster, item.milestone)] = item
        merged_events = dict(self.events)
        for event in events:
            merged_events[event.id] = event
        return replace(self, milestone_dates=dates, events=merged_events)


@dataclass
class _Entry:
    value: Any
    path: Path
    line: int | None
    layer: int


def _read_layer(paths: list[Path], layer: int, problems: list[Problem]) -> list[tuple[str, _Entry]]:
    from config.yamlfile import LineDict, YamlError, line_of, read_yaml  # not on a cache hit

    entries: list[tuple[str, _Entry]] = []
    for path in paths:
        try:
            document = read_yaml(path)
        except YamlError as exc:
            problems.append(Problem(path, exc.line or None, exc.problem))
            continue
        except OSError as exc:
            problems.append(Problem(path, None, f"cannot read the file: {exc.strerror}"))
            continue
        if document is None:
            continue
        if not isinstance(document, LineDict):
            problems.append(Problem(path, 1, "expected a mapping of collections, e.g. 'events:'"))
            continue
        for name, items in document.items():
            line = document.key_lines[name]
            if name not in COLLECTIONS:
                known = ", ".join(COLLECTIONS)
                problems.append(Problem(path, line, f"unknown section {name!r}; known: {known}"))
                continue
            if not isinstance(items, list):
                problems.append(Problem(path, line, f"{name!r} must be a list of entries"))
                continue
            model = COLLECTIONS[name].model
            for item in items:
                item_line = item.line if isinstance(item, LineDict) else line
                try:
                    value = model.model_validate(item)
                except ValidationError as exc:
                    for error in exc.errors():
                        where = line_of(item, error["loc"]) or item_line
                        field_name = ".".join(str(p) for p in error["loc"]) or name
                        message = error["msg"].removeprefix("Value error, ")
                        problems.append(Problem(path, where, f"{name}: {field_name}: {message}"))
                    continue
                entries.append((name, _Entry(value, path, item_line, layer)))
    return entries


def _yaml_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_dataset(
    data_dir: Path | None = None,
    bundled_dir: Path = BUNDLED_DATA_DIR,
    *,
    cache_dir: Path | None = None,
) -> Dataset:
    """Load the bundled dataset and the operator's overrides, and validate the whole.

    With `cache_dir`, a dataset validated before from the very same files is reused:
    parsing and validating cost more than the rest of a CLI command together.
    """
    if cache_dir is None:
        return _load_and_validate(data_dir, bundled_dir)
    layers = [_yaml_files(bundled_dir)]
    if data_dir is not None and data_dir.is_dir():
        layers.append(_yaml_files(data_dir))
    cache_file = cache_dir / f"dataset-{_fingerprint(layers, data_dir)}.pickle"
    key = _cache_key(cache_dir)
    cached = _read_cache(cache_file, key) if key is not None else None
    if cached is not None:
        return cached
    dataset = _load_and_validate(data_dir, bundled_dir)
    if key is not None:
        with contextlib.suppress(OSError):  # a read-only cache directory only costs speed
            for stale in cache_dir.glob("dataset-*.pickle"):
                stale.unlink(missing_ok=True)
            partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
            data = pickle.dumps(dataset, protocol=pickle.HIGHEST_PROTOCOL)
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(hmac.digest(key, data, "sha256") + data)
            partial.replace(cache_file)
    return dataset


# The cache is a pickle, which runs code when loaded: it is read only from a directory
# that is this user's own and writable by nobody else, and only with the keyed digest
# written beside it, so a file planted there by anyone else is never unpickled.
_CACHE_KEY = "dataset-cache.key"
_DIGEST = 32


def _owned_privately(path: Path) -> bool:
    """True when `path` is no link, is this user's, and no one else may write it."""
    try:
        stat = path.lstat()
    except OSError:
        return False
    return not path.is_symlink() and stat.st_uid == os.getuid() and not stat.st_mode & (0o022)


def _cache_key(cache_dir: Path) -> bytes | None:
    """The key of the cache's digests, made on first use; None where it cannot be trusted."""
    with contextlib.suppress(OSError):
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _owned_privately(cache_dir):
        return None
    path = cache_dir / _CACHE_KEY
    with contextlib.suppress(FileExistsError, OSError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    if not _owned_privately(path):
        return None
    try:
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == 32 else None


def _read_cache(cache_file: Path, key: bytes) -> Dataset | None:
    """The cached dataset, if the file is private and its digest is the key's."""
    if not _owned_privately(cache_file):
        return None
    try:
        blob = cache_file.read_bytes()
    except OSError:
        return None
    digest, data = blob[:_DIGEST], blob[_DIGEST:]
    if not hmac.compare_digest(digest, hmac.digest(key, data, "sha256")):
        return None
    try:
        cached = pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None  # one from another version: validate afresh
    return cached if isinstance(cached, Dataset) else None


def _fingerprint(layers: list[list[Path]], data_dir: Path | None) -> str:
    """Identity of the inputs: every file's path, size and mtime, and this loader's code."""
    digest = hashlib.sha256(f"{sys.version}|{pydantic_version}|{data_dir}".encode())
    for path in [Path(__file__), *(p for layer in layers for p in layer)]:
        stat = path.stat()
        digest.update(f"|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _load_and_validate(data_dir: Path | None, bundled_dir: Path) -> Dataset:
    problems: list[Problem] = []
    layers = [_yaml_files(bundled_dir)]
    if data_dir is not None:
        if not data_dir.is_dir():
            raise DatasetError([Problem(data_dir, None, "UNTOC_DATA_DIR is not a directory")])
        layers.append(_yaml_files(data_dir))
    merged: dict[str, dict[Hashable, _Entry]] = {name: {} for name in COLLECTIONS}
    for layer, paths in enumerate(layers):
        for name, entry in _read_layer(paths, layer, problems):
            key = COLLECTIONS[name].key(entry.value)
            previous = merged[name].get(key)
            if previous is not None and previous.layer == layer:
                problems.append(
                    Problem(
                        entry.path,
                        entry.line,
                        f"{name}: duplicate id {key!r} (first at {previous.path}:{previous.line})",
                    )
                )
                continue
            merged[name][key] = entry  # a later layer overrides a bundled fact
    values: dict[str, dict[Any, Any]] = {
        name: {k: e.value for k, e in entries.items()} for name, entries in merged.items()
    }
    dataset = Dataset(**values, files=tuple(p for layer in layers for p in layer))
    where = {
        (name, k): (e.path, e.line) for name, entries in merged.items() for k, e in entries.items()
    }
    problems.extend(_cross_check(dataset, where))
    if problems:
        raise DatasetError(problems)
    return dataset


def _cross_check(
    data: Dataset, where: Mapping[tuple[str, Hashable], tuple[Path, int | None]]
) -> list[Problem]:
    """Check the references between collections: countries, clusters, steps, cycles."""
    from config.countries import is_country_code, suggest_codes  # CLDR data: not on a cache hit

    problems: list[Problem] = []

    def report(name: str, key: Hashable, message: str) -> None:
        path, line = where[(name, key)]
        problems.append(Problem(path, line, f"{name}: {message}"))

    def country(name: str, key: Hashable, code: str, *, party: bool = True) -> None:
        if not is_country_code(code):
            close = suggest_codes(code)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            report(name, key, f"unknown country code {code!r} (ISO 3166-1 alpha-2 or EU){hint}")
        elif party and code not in data.states:
            report(name, key, f"{code} is not listed in 'states' (the States parties)")

    def cluster(name: str, key: Hashable, number: int) -> None:
        if number not in data.clusters:
            report(name, key, f"unknown cluster {number}; known: {sorted(data.clusters)}")

    for code in data.states:
        country("states", code, code, party=False)
        if code in data.non_parties:
            report("states", code, f"{code} is listed both as a State party and as a non-party")
    for code in data.non_parties:
        country("non_parties", code, code, party=False)
    for number, cl in data.clusters.items():
        for instrument in cl.articles:
            if instrument not in data.instruments:
                report("clusters", number, f"unknown instrument {instrument!r}")
    seen_members: dict[str, int] = {}
    for number, group in data.groups.items():
        for start in group.cluster_starts:
            cluster("groups", number, start.cluster)
        for membership in group.members:
            for code in membership.countries:
                country("groups", number, code)
                if code in seen_members and seen_members[code] != number:
                    report("groups", number, f"{code} is also in group {seen_members[code]}")
                seen_members[code] = number
    for pair, review in data.review_starts.items():
        country("review_starts", pair, review.country)
        cluster("review_starts", pair, review.cluster)
    for pair, reviewers in data.reviewers.items():
        country("reviewers", pair, reviewers.country)
        cluster("reviewers", pair, reviewers.cluster)
        for code in reviewers.states:
            country("reviewers", pair, code)
            if code == reviewers.country:
                report("reviewers", pair, f"{code} cannot review itself")
    for rule_id, rule in data.milestones.items():
        if rule.after != "start" and rule.after not in data.milestones:
            report("milestones", rule_id, f"unknown rule {rule.after!r} in 'after'")
        if rule.offset == Offset():
            report("milestones", rule_id, "offset is zero; give days, weeks or months")
    for rule_id in _cycles(data.milestones):
        report("milestones", rule_id, "rules are chained in a cycle")
    for code, accession in data.accessions.items():
        country("accessions", code, code, party=accession.deposited)
        if not accession.deposited and code in data.states:
            report("accessions", code, f"{code} is a State party; its accession is not deposited")
    for when, progress in data.progress.items():
        cluster("progress", when, progress.cluster)
    for step, delay in data.delays.items():
        country("delays", step, delay.country)
        cluster("delays", step, delay.cluster)
        if delay.milestone not in data.milestones:
            known = ", ".join(data.milestones)
            report("delays", step, f"unknown milestone {delay.milestone!r}; known: {known}")
    _check_rhythm(data, report)
    for key, actual in data.milestone_dates.items():
        country("milestone_dates", key, actual.country)
        cluster("milestone_dates", key, actual.cluster)
        if actual.milestone not in data.milestones:
            known = ", ".join(data.milestones)
            report(
                "milestone_dates", key, f"unknown milestone {actual.milestone!r}; known: {known}"
            )
    return problems


def _check_rhythm(data: Dataset, report: Callable[[str, Hashable, str], None]) -> None:
    """Series refer to known series and events; events name known series."""
    cops = [s.id for s in data.rhythm.values() if s.kind == "cop"]
    if len(cops) > 1:
        report("rhythm", cops[1], f"only one COP series is possible (also {cops[0]!r})")
    for series_id, series in data.rhythm.items():
        if series.before is not None:
            anchor = data.rhythm.get(series.before.series)
            if anchor is None:
                report("rhythm", series_id, f"unknown series {series.before.series!r} in 'before'")
            elif anchor.before is not None:
                report(
                    "rhythm",
                    series_id,
                    f"{anchor.id!r} is itself placed 'before' another; place from a series "
                    "with windows",
                )
            elif series.kind == "application-call" and anchor.kind != "constructive-dialogue":
                report("rhythm", series_id, "an application call is before a dialogue series")
        if any(w.years != "every" for w in series.windows) and not cops:
            report("rhythm", series_id, "windows for COP years need a series of kind 'cop'")
        for event_id in series.occurrences:
            if event_id not in data.events:
                report("rhythm", series_id, f"unknown event {event_id!r} in occurrences")
    for event_id, event in data.events.items():
        for series_id in event.series:
            if series_id not in data.rhythm:
                known = ", ".join(data.rhythm)
                report("events", event_id, f"unknown series {series_id!r}; known: {known}")


def _cycles(rules: Mapping[str, MilestoneRule]) -> list[str]:
    in_cycle = []
    for rule_id in rules:
        seen = {rule_id}
        current = rules[rule_id].after
        while current in rules:
            if current in seen:
                in_cycle.append(rule_id)
                break
            seen.add(current)
            current = rules[current].after
    return in_cycle
