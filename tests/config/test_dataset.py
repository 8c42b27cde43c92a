"""The dataset loader: the bundled facts, operator overrides, and clear errors with lines."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from config.dataset_loader import BUNDLED_DATA_DIR, DatasetError, load_dataset


@pytest.fixture(scope="module")
def bundled():
    return load_dataset()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(data_dir: Path) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(data_dir)
    return [str(p) for p in caught.value.problems]


EVENT = """\
events:
  - id: cd-2030-tip
    kind: constructive-dialogue
    title: Constructive Dialogue on Trafficking in Persons
    themes: [tip]
    start: {start}
    registration: {{deadline: {deadline}, zone: {zone}}}
    source: test
    confidence: reported
"""


def test_bundled_dataset_has_every_state_party_and_the_domain_facts(bundled):
    assert len(bundled.states) == 193
    assert {"EU", "CK", "VA", "NU", "PS", "NO"} <= set(bundled.states)  # NO is Norway
    assert set(bundled.non_parties).isdisjoint(bundled.states)
    assert bundled.group_of("AT")[0].number == 2
    assert bundled.group_of("GB")[0].number == 1
    assert bundled.group_of("FR") is None  # unknown until an operator records it
    assert [c.number for c in bundled.clusters.values()] == [1, 2, 3, 4]
    assert bundled.clusters[1].articles["untoc"] == [2, 5, 6, 8, 9, 10, 15, 23]
    assert bundled.clusters[3].confidence == "reported"
    assert list(bundled.milestones) == [
        "focal-points",
        "governmental-experts",
        "consultations",
        "self-assessment",
        "written-feedback",
        "lists-of-observations",
    ]
    assert bundled.milestones["written-feedback"].after == "self-assessment"
    som_tip = bundled.events["cd-2022-som-tip"]
    assert som_tip.start == dt.date(2022, 7, 1)
    assert som_tip.registration is not None
    assert som_tip.registration.deadline == dt.date(2022, 5, 8)
    assert som_tip.registration.zone == "Europe/Vienna"
    assert bundled.events["cop-11"].end == dt.date(2022, 10, 21)
    assert len(bundled.sources) >= 4


def test_every_bundled_fact_carries_a_source_and_a_confidence(bundled):
    collections = [
        bundled.instruments,
        bundled.clusters,
        bundled.groups,
        bundled.states,
        bundled.milestones,
        bundled.events,
        bundled.sources,
    ]
    for collection in collections:
        for fact in collection.values():
            assert fact.source.strip()
            assert fact.confidence in {"confirmed", "reported", "projected"}


def test_an_override_replaces_the_bundled_fact_with_the_same_id(tmp_path):
    write(
        tmp_path,
        "moved.yaml",
        """\
        events:
          - id: cd-2022-som-tip
            kind: constructive-dialogue
            title: Constructive Dialogues on Smuggling of Migrants and Trafficking in Persons
            themes: [som, tip]
            start: 2022-07-01
            registration: {deadline: 2022-05-17, zone: Europe/Vienna}
            source: https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html
            confidence: confirmed
        groups:
          - number: 3
            source: operator
            confidence: reported
            cluster_starts: [{cluster: 1, date: 2022-11-01, source: operator, confidence: reported}]
            members: [{countries: [FR], source: operator, confidence: reported}]
        """,
    )
    data = load_dataset(tmp_path)
    registration = data.events["cd-2022-som-tip"].registration
    assert registration is not None
    assert registration.deadline == dt.date(2022, 5, 17)
    group = data.group_of("FR")
    assert group is not None
    assert group[0].number == 3
    assert len(data.events) == len(load_dataset().events)
    assert tmp_path / "moved.yaml" in data.files


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    write(tmp_path, "broken.yaml", "events:\n  - id: x\n    title: [unclosed\n  - id: y\n")
    (problem,) = problems_of(tmp_path)
    assert "broken.yaml:" in problem
    assert "malformed YAML" in problem
    assert problem.split("broken.yaml:")[1].split(":")[0] in {"3", "4"}


def test_unknown_country_code_is_reported_with_suggestions(tmp_path):
    write(
        tmp_path,
        "g.yaml",
        """\
        review_starts:
          - {country: XA, cluster: 1, date: 2021-11-01, source: s, confidence: reported}
          - {country: Austria, cluster: 1, date: 2021-11-01, source: s, confidence: reported}
        """,
    )
    found = problems_of(tmp_path)
    assert any("g.yaml:2:" in p and "unknown country code 'XA'" in p for p in found)
    assert any("g.yaml:3:" in p and "country" in p for p in found)


def test_a_valid_code_that_is_not_a_party_is_refused_where_a_party_is_needed(tmp_path):
    write(
        tmp_path,
        "r.yaml",
        "review_starts:\n  - {country: IR, cluster: 1, date: 2021-11-01, source: s, confidence: reported}\n",
    )
    (problem,) = problems_of(tmp_path)
    assert "IR is not listed in 'states'" in problem


def test_impossible_date_is_reported_at_its_line(tmp_path):
    write(
        tmp_path,
        "e.yaml",
        EVENT.format(start="2030-02-30", deadline="2030-01-10", zone="Europe/Vienna"),
    )
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'e.yaml'}:6:")
    assert "start" in problem


def test_zone_that_does_not_exist_is_reported(tmp_path):
    write(
        tmp_path,
        "e.yaml",
        EVENT.format(start="2030-03-01", deadline="2030-01-10", zone="Europe/Viena"),
    )
    (problem,) = problems_of(tmp_path)
    assert "e.yaml:7:" in problem
    assert "'Europe/Viena' does not exist" in problem
    assert "Europe/Vienna" in problem  # the suggestion


def test_fixed_offsets_are_refused_in_favour_of_iana_zones(tmp_path):
    write(tmp_path, "e.yaml", EVENT.format(start="2030-03-01", deadline="2030-01-10", zone="CET"))
    (problem,) = problems_of(tmp_path)
    assert "not an IANA zone name" in problem


def test_a_time_inside_the_dst_gap_is_refused(tmp_path):
    write(
        tmp_path,
        "e.yaml",
        """\
        events:
          - id: gap
            kind: other
            title: Gap
            start: 2030-05-01
            registration: {deadline: 2030-03-31, time: "02:30", zone: Europe/Vienna}
            source: s
            confidence: reported
        """,
    )
    (problem,) = problems_of(tmp_path)
    assert "does not exist in Europe/Vienna (DST gap)" in problem


def test_unknown_rule_and_cycles_are_reported(tmp_path):
    write(
        tmp_path,
        "m.yaml",
        """\
        milestones:
          - {id: a, title: A, after: b, offset: {weeks: 1}, actor: x, hint: y, source: s, confidence: reported}
          - {id: b, title: B, after: a, offset: {weeks: 1}, actor: x, hint: y, source: s, confidence: reported}
          - {id: c, title: C, after: nowhere, offset: {weeks: 1}, actor: x, hint: y, source: s, confidence: reported}
        """,
    )
    found = problems_of(tmp_path)
    assert any("m.yaml:4:" in p and "unknown rule 'nowhere'" in p for p in found)
    assert sum(p.endswith("rules are chained in a cycle") for p in found) == 2


def test_duplicate_ids_in_one_layer_name_both_places(tmp_path):
    body = EVENT.format(start="2030-03-01", deadline="2030-01-10", zone="Europe/Vienna")
    write(tmp_path, "a.yaml", body)
    write(tmp_path, "b.yaml", body)
    (problem,) = problems_of(tmp_path)
    assert "b.yaml:2:" in problem
    assert "duplicate id 'cd-2030-tip'" in problem
    assert "a.yaml:2" in problem


def test_duplicate_keys_unknown_sections_and_fields_are_reported(tmp_path):
    write(tmp_path, "a.yaml", "events: []\nevents: []\n")
    write(tmp_path, "b.yaml", "meetings: []\n")
    write(
        tmp_path,
        "c.yaml",
        "states:\n  - {code: AT, source: s, confidence: sure}\n  - {code: AT, source: s, confidence: reported, colour: red}\n",
    )
    found = problems_of(tmp_path)
    assert any("a.yaml:2:" in p and "duplicate key 'events'" in p for p in found)
    assert any("b.yaml:1:" in p and "unknown section 'meetings'" in p for p in found)
    assert any("c.yaml:2:" in p and "confidence" in p for p in found)
    assert any("c.yaml:3:" in p and "colour" in p for p in found)


def test_unknown_milestone_in_recorded_dates(tmp_path):
    write(
        tmp_path,
        "d.yaml",
        "milestone_dates:\n  - {country: AT, cluster: 1, milestone: saq, date: 2022-04-01, source: s, confidence: confirmed}\n",
    )
    (problem,) = problems_of(tmp_path)
    assert "unknown milestone 'saq'" in problem
    assert "self-assessment" in problem


def test_non_utf8_and_non_mapping_files_are_reported(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes("events: []\n# caf\xe9\n".encode("latin-1"))
    write(tmp_path, "list.yaml", "- a\n- b\n")
    found = problems_of(tmp_path)
    assert any("latin1.yaml" in p and "UTF-8" in p for p in found)
    assert any("list.yaml:1:" in p and "expected a mapping" in p for p in found)


def test_a_broken_override_leaves_the_bundled_files_untouched(tmp_path):
    before = {p.name: p.read_bytes() for p in BUNDLED_DATA_DIR.glob("*.yaml")}
    write(tmp_path, "broken.yaml", "events: [\n")
    problems_of(tmp_path)
    assert {p.name: p.read_bytes() for p in BUNDLED_DATA_DIR.glob("*.yaml")} == before
    assert len(load_dataset().events) > 0


def test_missing_data_dir_is_a_clear_error(tmp_path):
    (problem,) = problems_of(tmp_path / "nope")
    assert "UNTOC_DATA_DIR is not a directory" in problem


def test_the_cache_returns_the_same_dataset_and_follows_file_changes(tmp_path):
    cache = tmp_path / "cache"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    body = EVENT.format(start="2030-03-01", deadline="2030-01-10", zone="Europe/Vienna")
    write(data_dir, "e.yaml", body)
    first = load_dataset(data_dir, cache_dir=cache)
    assert len(list(cache.glob("dataset-*.pickle"))) == 1
    again = load_dataset(data_dir, cache_dir=cache)
    assert again == first
    assert again.group_of("AT") == first.group_of("AT")
    write(data_dir, "e.yaml", body.replace("2030-03-01", "2030-03-02"))
    changed = load_dataset(data_dir, cache_dir=cache)
    assert changed.events["cd-2030-tip"].start == dt.date(2030, 3, 2)
    assert len(list(cache.glob("dataset-*.pickle"))) == 1  # the stale entry is gone


def test_a_broken_file_is_reported_even_when_an_older_version_was_cached(tmp_path):
    cache = tmp_path / "cache"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write(
        data_dir,
        "e.yaml",
        EVENT.format(start="2030-03-01", deadline="2030-01-10", zone="Europe/Vienna"),
    )
    load_dataset(data_dir, cache_dir=cache)
    write(data_dir, "e.yaml", "events: [\n")
    with pytest.raises(DatasetError):
        load_dataset(data_dir, cache_dir=cache)


def test_a_corrupt_or_unwritable_cache_only_costs_speed(tmp_path):
    cache = tmp_path / "cache"
    load_dataset(cache_dir=cache)
    (entry,) = cache.glob("dataset-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert len(load_dataset(cache_dir=cache).states) == 193
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert len(load_dataset(cache_dir=blocked).states) == 193


class _Planted:
    """What a planted pickle runs when it is loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_planted_cache_file_is_never_unpickled(tmp_path):
    import pickle

    cache = tmp_path / "cache"
    load_dataset(cache_dir=cache)
    (entry,) = cache.glob("dataset-*.pickle")
    marker = tmp_path / "ran"
    entry.write_bytes(pickle.dumps(_Planted(str(marker))))
    dataset = load_dataset(cache_dir=cache)
    assert not marker.exists()
    assert dataset.events  # validated afresh


def test_a_cache_directory_others_may_write_is_not_read(tmp_path):
    cache = tmp_path / "cache"
    load_dataset(cache_dir=cache)
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    (entry,) = cache.glob("dataset-*.pickle")
    assert entry.stat().st_mode & 0o077 == 0
    cache.chmod(0o777)
    before = entry.stat().st_mtime_ns
    load_dataset(cache_dir=cache)
    assert entry.stat().st_mtime_ns == before  # neither read nor rewritten there
    # even a file signed with the right key is not unpickled once others may write there
    import hmac
    import pickle

    marker = tmp_path / "ran"
    data = pickle.dumps(_Planted(str(marker)))
    key = (cache / "dataset-cache.key").read_bytes()
    entry.write_bytes(hmac.digest(key, data, "sha256") + data)
    entry.chmod(0o600)
    assert load_dataset(cache_dir=cache).events
    assert not marker.exists()


def test_the_sessions_found_after_2022_are_in_the_dataset_with_their_sources(bundled):
    events = bundled.events
    assert (events["wg-2023-firearms"].start, events["wg-2023-firearms"].end) == (
        dt.date(2023, 5, 3),
        dt.date(2023, 5, 4),
    )
    assert events["wg-2023-som"].confidence == "reported"
    assert events["wg-2025-som"].start == dt.date(2025, 10, 9)
    assert events["prep-2025-firearms"].kind == "preparation-day"
    assert events["anniversary-2025"].start == dt.date(2025, 11, 11)
    cops = {e.id: e.start for e in events.values() if e.kind == "cop"}
    assert cops == {
        "cop-7": dt.date(2014, 10, 6),
        "cop-8": dt.date(2016, 10, 17),
        "cop-9": dt.date(2018, 10, 15),
        "cop-10": dt.date(2020, 10, 12),
        "cop-11": dt.date(2022, 10, 17),
        "cop-12": dt.date(2024, 10, 14),
        "cop-13": dt.date(2026, 10, 1),
    }
    assert all(e.end is not None for e in events.values() if e.kind == "cop" and e.id != "cop-13")


def test_cop_13_is_known_to_the_month_only(bundled):
    cop = bundled.events["cop-13"]
    assert (cop.precision, cop.confidence, cop.end) == ("month", "reported", None)
    assert cop.note and "October 2026" in cop.note


def test_a_month_precise_event_has_no_end_and_means_its_month(tmp_path):
    write(
        tmp_path,
        "m.yaml",
        """\
        events:
          - {id: x, kind: cop, title: X, start: 2026-10-14, precision: month, source: s, confidence: reported}
          - {id: y, kind: cop, title: Y, start: 2026-10-01, end: 2026-10-05, precision: month, source: s, confidence: reported}
        """,
    )
    (problem,) = problems_of(tmp_path)
    assert "m.yaml:3:" in problem and "no end" in problem


def test_parties_and_accessions_carry_their_sources(bundled):
    latest = bundled.party_count()
    assert latest is not None
    assert (latest.count, latest.confidence) == (192, "confirmed")
    bhutan = bundled.accessions["BT"]
    assert (bhutan.date, bhutan.deposited, bhutan.confidence) == (
        dt.date(2023, 3, 21),
        True,
        "confirmed",
    )
    iran = bundled.accessions["IR"]
    assert (iran.deposited, iran.confidence, iran.precision) == (False, "reported", "month")
    assert "IR" not in bundled.states


def test_an_undeposited_accession_of_a_party_is_refused(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        "accessions:\n  - {country: AT, date: 2004-09-23, deposited: false, source: s, confidence: reported}\n",
    )
    (problem,) = problems_of(tmp_path)
    assert "a.yaml:2:" in problem and "not deposited" in problem


def test_where_sources_disagree_on_the_clusters_both_readings_are_kept(bundled):
    for number in (2, 3, 4):
        note = bundled.clusters[number].note
        assert note and "disagree" in note
    assert bundled.clusters[2].title.startswith("International cooperation")
    assert [r.title for r in bundled.clusters[2].readings] == [
        "Prevention, technical assistance, protection and other measures"
    ]
    assert bundled.clusters[4].readings[0].title.startswith("International cooperation")
    assert all(r.confidence == "reported" for r in bundled.clusters[4].readings)


def test_progress_figures_and_the_plan_are_dated_and_sourced(bundled):
    figures = {key[0]: p for key, p in bundled.progress.items()}
    assert (figures[dt.date(2024, 4, 1)].started, figures[dt.date(2024, 4, 1)].total) == (73, 189)
    assert figures[dt.date(2024, 4, 1)].precision == "month"
    assert (figures[dt.date(2024, 9, 30)].started, figures[dt.date(2024, 9, 30)].not_started) == (
        81,
        108,
    )
    assert figures[dt.date(2024, 10, 16)].started == 84
    plan = bundled.review_plan["phases"]
    assert (plan.phase_months, plan.ends, plan.precision) == (24, dt.date(2030, 10, 1), "month")


def test_the_rhythm_declares_each_series_once_with_what_it_rests_on(bundled):
    rhythm = bundled.rhythm
    assert {"cop", "cd-firearms", "wg-firearms", "prep-firearms", "call-firearms"} <= set(rhythm)
    for theme in ("cooperation-technical-assistance", "tip", "som"):
        assert {f"cd-{theme}", f"wg-{theme}", f"prep-{theme}", f"call-{theme}"} <= set(rhythm)
    assert rhythm["cop"].event_id_for(2028) == "cop-14"
    assert rhythm["cd-firearms"].event_id_for(2027) == "cd-2027-firearms"
    assert rhythm["cop"].runs_in(2026) and not rhythm["cop"].runs_in(2027)
    assert rhythm["call-firearms"].before is not None
    assert rhythm["call-firearms"].before.weeks == (7, 15)
    assert rhythm["cd-firearms"].occurrences == [
        "cd-2022-firearms",
        "cd-2023-firearms",
        "cd-2024-firearms",
        "cd-2025-firearms",
    ]


def test_a_broken_series_is_reported_at_its_line(tmp_path):
    write(
        tmp_path,
        "r.yaml",
        """\
        rhythm:
          - {id: wg-x, kind: working-group, title: X, event_id: "wg-{year}-x", first_year: 2022,
             before: {series: nowhere, working_days: 1}, pattern: p, source: s, confidence: reported}
          - {id: cd-x, kind: constructive-dialogue, title: X, event_id: "cd-{year}-x", first_year: 2022,
             windows: [{start: "05-01", end: "04-01"}], pattern: p, source: s, confidence: reported}
          - {id: cd-y, kind: constructive-dialogue, title: Y, event_id: "cd-y", first_year: 2022,
             windows: [{start: "04-01", end: "05-01"}], occurrences: [cd-1999-y], pattern: p, source: s, confidence: reported}
        events:
          - {id: e, kind: other, title: E, start: 2027-01-01, series: [cd-z], source: s, confidence: reported}
        """,
    )
    found = problems_of(tmp_path)
    assert any("r.yaml:2:" in p and "unknown series 'nowhere'" in p for p in found)
    assert any("r.yaml:5:" in p and "ends (04-01) before it starts" in p for p in found)
    assert any("r.yaml:6:" in p and "must name the year" in p for p in found)
    assert any("r.yaml:9:" in p and "unknown series 'cd-z'" in p for p in found)
