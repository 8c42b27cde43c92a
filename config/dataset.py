"""The curated dataset's models: what the review mechanism is, who is in it, what is scheduled.

Facts live in YAML files (`config/data/` ships with the service; operators add or
override facts with files in `UNTOC_DATA_DIR`). Every fact carries its `source` and its
`confidence`. `config.dataset_loader.load_dataset` reads and validates them into a
`Dataset`, reporting every problem at once with its file and line.

The models stay in one module because they are one schema: the `Dataset` holds every one
of them, the later ones (events, series, sources) refer to the earlier ones, and a
cached dataset is unpickled by their names here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from config.urls import check_web_url
from config.vocabulary import THEMES as THEMES  # declared once, with their words
from config.vocabulary import ZONE
from config.vocabulary import Theme as Theme

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
    url: WebUrl | None = None


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
