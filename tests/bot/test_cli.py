"""The command line, as an operator uses it: acceptance commands, recording, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("UNTOC_DATA_DIR", "PUBLIC_BASE_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("UNTOC_CACHE_DIR", str(tmp_path / "cache"))
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_upcoming_as_of_march_2022_lists_the_registration_deadlines_with_their_instants(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "upcoming", "--as-of", "2022-03-01", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": "sqlite:////nonexistent-dir/none.db",
            "UNTOC_CACHE_DIR": str(tmp_path / "cache"),
        },
    )
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    expected = {
        "r-cd-2022-firearms": "2022-03-17T23:00:00Z",
        "r-cd-2022-cooperation-technical-assistance": "2022-03-17T23:00:00Z",
        "r-cd-2022-som-tip": "2022-05-08T22:00:00Z",
    }
    for deadline_id, instant in expected.items():
        row = rows[deadline_id]
        assert row["due"] == instant
        assert row["kind"] == "registration"
        assert row["zone"] == "Europe/Vienna"
        assert row["confidence"] == "confirmed"
        assert row["country"] is None and row["cluster"] is None
        assert row["source"]
    assert rows["r-cd-2022-som-tip"]["local"] == "2022-05-09T00:00:00+02:00"
    assert rows["r-cd-2022-som-tip"]["local_date"] == "2022-05-08"
    assert rows["r-cd-2022-firearms"]["status"] == "due_soon"
    assert "no database yet" in result.stderr


def test_timeline_of_austria_shows_cluster_1_with_statuses(runner):
    result = invoke(runner, "timeline", "at", "--as-of", "2022-03-01", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [(r["milestone"], r["due"], r["status"]) for r in rows] == [
        ("focal-points", "2021-11-15", "no_news"),
        ("governmental-experts", "2021-11-29", "no_news"),
        ("consultations", "2021-12-13", "no_news"),
        ("self-assessment", "2022-05-01", "upcoming"),
        ("written-feedback", "2022-11-01", "upcoming"),
        ("lists-of-observations", "2023-05-01", "upcoming"),
    ]
    table = invoke(runner, "timeline", "Austria", "--as-of", "2022-03-01")
    assert "Appointment of focal points" in table.stdout
    assert "no news since" in table.stdout and "overdue" not in table.stdout


def test_record_moves_the_chained_deadlines(runner):
    assert invoke(runner, "db", "upgrade").exit_code == 0
    result = invoke(
        runner,
        "record",
        "Austria",
        "self-assessment",
        "2022-08-31",
        "--source",
        "https://example.org/austria-saq",
    )
    assert result.exit_code == 0, result.output
    assert "Recorded: AT cluster 1 self-assessment completed on 2022-08-31" in result.stdout
    rows = json.loads(
        invoke(runner, "timeline", "AT", "--as-of", "2022-09-01", "--format", "json").stdout
    )
    by_step = {r["milestone"]: r for r in rows}
    assert by_step["self-assessment"]["status"] == "done"
    assert by_step["self-assessment"]["actual"] == "2022-08-31"
    assert "https://example.org/austria-saq" in by_step["self-assessment"]["source"]
    assert by_step["written-feedback"]["due"] == "2023-02-28"
    assert by_step["written-feedback"]["confidence"] == "reported"
    # recording again replaces the date
    invoke(
        runner,
        "record",
        "AT",
        "self-assessment",
        "2022-07-15",
        "--source",
        "https://example.org/fix",
    )
    rows = json.loads(
        invoke(runner, "timeline", "AT", "--as-of", "2022-09-01", "--format", "json").stdout
    )
    assert {r["milestone"]: r["due"] for r in rows}["written-feedback"] == "2023-01-15"


def test_record_before_the_database_exists_says_how_to_create_it(runner):
    result = invoke(runner, "record", "AT", "self-assessment", "2022-08-31", "--source", "x")
    assert result.exit_code == 1
    assert "untoc-watch db upgrade" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["timeline", "Austira"], "did you mean AT (Austria)"),
        (["upcoming", "--country", "XX"], "unknown country 'XX'"),
        (["upcoming", "--kind", "meeting"], "milestone, registration, event"),
        (["upcoming", "--theme", "drugs"], "tip, som, firearms"),
        (["upcoming", "--cluster", "7"], "clusters are [1, 2, 3, 4]"),
        (["upcoming", "--as-of", "yesterday"], "use YYYY-MM-DD"),
        (["upcoming", "--as-of", "2022-03-01T10:00"], "has no offset"),
        (["record", "AT", "saq", "2022-01-01", "--source", "x"], "unknown milestone 'saq'"),
        (["record", "AT", "self-assessment", "2022-02-30", "--source", "x"], "is not a date"),
        (["record", "AT", "self-assessment", "2999-01-01", "--source", "x"], "in the future"),
        (["record", "AT", "self-assessment", "2022-01-01", "--source", "  "], "--source is empty"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message_that_names_the_fix(runner, args, words):
    result = invoke(runner, *args)
    assert result.exit_code == 2
    assert words in result.output


def test_a_broken_dataset_file_is_reported_with_file_and_line(runner, monkeypatch, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "mine.yaml").write_text("events:\n  - id: x\n    start: 2022-13-01\n")
    monkeypatch.setenv("UNTOC_DATA_DIR", str(data_dir))
    result = invoke(runner, "upcoming")
    assert result.exit_code == 2
    assert "mine.yaml:3:" in result.output


def test_a_bad_setting_is_reported_by_name(runner, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://x@y/z")
    result = invoke(runner, "check-config")
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.output


def test_check_config_summarises_dataset_and_database(runner):
    before = invoke(runner, "check-config")
    assert before.exit_code == 0
    assert "States parties: 193 (37 with a known group)" in before.stdout
    assert "not created yet" in before.stdout
    invoke(runner, "db", "upgrade")
    after = invoke(runner, "check-config")
    assert "Database OK (revision" in after.stdout


def test_timeline_of_a_state_whose_group_is_unknown_explains_what_is_known(runner):
    result = invoke(runner, "timeline", "FR", "--as-of", "2026-12-01")
    assert result.exit_code == 0
    assert "No review dates are known" not in result.stdout + result.stderr
    assert "which group it was drawn into is not known" in result.stdout
    assert "group 2: started November 2021" in result.stdout
    assert "81 reviews progressing and 108 not started" in result.stdout
    assert "Responses to the self-assessment questionnaire: within 6 months" in result.stdout
    assert "Write to your State's focal point" in result.stdout


def test_timeline_of_austria_shows_no_step_overdue_and_the_later_clusters_as_planned(runner):
    result = invoke(runner, "timeline", "AT", "--as-of", "2026-12-01")
    assert result.exit_code == 0
    assert "overdue" not in result.stdout and "no news since" in result.stdout
    assert "the later clusters, as planned" in result.stdout
    assert "behind schedule" in result.stdout and "2027-11 to 2029-11" in result.stdout
