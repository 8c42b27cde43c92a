"""Reading the dataset: the YAML files, layer over layer, validated and cross-checked.

`load_dataset` reads the bundled files, then the operator's (`UNTOC_DATA_DIR`, the same
id replaces), validates each entry as its model and checks the references between
collections (countries, clusters, milestone rules and their chains, series). Every
problem is reported with its file and line, all at once, so an operator can fix a file
in one pass. With a cache directory, a dataset validated before from the very same files
is reused (`config.dataset_cache`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

import config.dataset
from config import dataset_cache
from config.dataset import (
    Accession,
    Action,
    Cluster,
    Dataset,
    Delay,
    Event,
    Group,
    Instrument,
    MilestoneDate,
    MilestoneRule,
    NonParty,
    Offset,
    PartyCount,
    Progress,
    Reviewers,
    ReviewPlan,
    ReviewStart,
    Series,
    Source,
    StateParty,
)

BUNDLED_DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True)
class _Collection:
    """How one top-level YAML key maps to a model and to the key that identifies an entry."""

    model: type[BaseModel]
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
    # The code that makes a dataset out of the files is part of what the cache is keyed on.
    inputs = [Path(config.dataset.__file__), Path(__file__), *(p for ps in layers for p in ps)]
    return dataset_cache.cached(
        cache_dir, inputs, str(data_dir), lambda: _load_and_validate(data_dir, bundled_dir)
    )


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
