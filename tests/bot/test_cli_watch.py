"""The watcher's commands, as an operator runs them against the local fake UNODC site."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from tests.fakes.unodc_site import FIXTURES, FakeUnodcSite

ROOT = Path(__file__).resolve().parents[2]
PAGE = "/unodc/en/ngos/cst.html"


@pytest.fixture
def site():
    with FakeUnodcSite() as fake:
        yield fake


@pytest.fixture
def runner(monkeypatch, tmp_path, site):
    monkeypatch.chdir(tmp_path)
    for name in ("PUBLIC_BASE_URL", "PORT", "WATCHER_USER_AGENT"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    (data / "sources.yaml").write_text(
        "sources:\n"
        f"  - {{id: fake-cst, url: '{site.url(PAGE)}', source: test, confidence: reported}}\n"
        f"  - {{id: fake-broken, url: '{site.url('/broken.rss')}', kind: rss,"
        " source: test, confidence: reported}\n"
    )
    monkeypatch.setenv("UNTOC_DATA_DIR", str(data))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("UNTOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WATCHER_ALLOW_PRIVATE", "true")  # the fake site is on loopback
    monkeypatch.setenv("WATCHER_HOST_DELAY", "0")
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_check_then_review_then_approve_puts_the_date_in_the_timeline(runner, site):
    site.publish_fixture(PAGE, "cst-latin1.html", content_type="text/html")
    assert invoke(runner, "db", "upgrade").exit_code == 0
    checked = invoke(runner, "sources", "check", "fake-cst", "--format", "json")
    assert checked.exit_code == 0, checked.output
    (row,) = json.loads(checked.stdout)
    assert (row["id"], row["result"], row["status_code"], row["new_proposals"]) == (
        "fake-cst",
        "baseline",
        200,
        1,
    )
    listed = json.loads(invoke(runner, "sources", "list", "--format", "json").stdout)
    by_id = {r["id"]: r for r in listed}
    assert by_id["fake-cst"]["health"] == "ok" and by_id["fake-cst"]["next_poll_at"]
    assert by_id["unodc-constructive-dialogues"]["health"] == "not polled yet"

    (proposal,) = json.loads(invoke(runner, "proposals", "list", "--format", "json").stdout)
    assert proposal["kind"] == "event" and proposal["event"]["id"] == "cd-2030-firearms"
    assert proposal["url"] == site.url(PAGE)
    table = invoke(runner, "proposals", "list")
    assert "New: Constructive Dialogue on Firearms, 5 April 2030" in table.stdout

    approved = invoke(runner, "proposals", "approve", str(proposal["id"]), "--by", "ana")
    assert approved.exit_code == 0 and "is now in the timeline" in approved.stdout
    again = invoke(runner, "proposals", "approve", str(proposal["id"]))
    assert again.exit_code == 2 and "already approved" in again.output and "by ana" in again.output

    upcoming = invoke(
        runner, "upcoming", "--as-of", "2030-01-15", "--kind", "registration", "--format", "json"
    )
    found = json.loads(upcoming.stdout)
    # the approved date takes the place of the projected one, under the same id
    (deadline,) = [d for d in found if d["id"] == "r-cd-2030-firearms"]
    assert deadline["status"] != "expected"
    assert all(d["status"] == "expected" for d in found if d is not deadline)
    assert deadline["id"] == "r-cd-2030-firearms"
    assert deadline["due"] == "2030-02-12T23:00:00Z"
    # The source cites the page, the words the date was read from and the day it was checked.
    assert (
        deadline["source"].startswith("127.0.0.1 page, ") and deadline["confidence"] == "reported"
    )
    assert "5 avril 2030" in deadline["source"] and ", checked on " in deadline["source"]


def test_check_without_a_database_is_a_dry_run(runner, site):
    site.publish_fixture(PAGE, "cst-latin1.html")
    result = invoke(runner, "sources", "check", "fake-cst")
    assert result.exit_code == 0
    assert "dry run" in result.output and "baseline" in result.stdout


def test_a_failing_source_exits_non_zero_and_says_why(runner, site):
    site.publish_fixture("/broken.rss", "broken.rss")
    result = invoke(runner, "sources", "check", "fake-broken")
    assert result.exit_code == 1
    assert "failed" in result.stdout and "not an RSS" in result.stdout


def test_extract_shows_findings_of_a_file_and_what_they_would_propose(runner):
    result = invoke(
        runner,
        "extract",
        str(FIXTURES / "constructive-dialogues-v2.html"),
        "--as-of",
        "2022-02-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["kind"] == "html" and shown["lines"] > 5
    moved = [f for f in shown["findings"] if f["start"] == "2022-07-01"]
    assert moved[0]["deadline"]["instant"] == "2022-05-17T22:00:00Z"
    assert moved[0]["proposal"].startswith("change of cd-2022-som-tip: registration deadline moved")
    table = invoke(runner, "extract", str(FIXTURES / "meetings.ics"), "--text")
    assert "Constructive Dialogue on Smuggling of Migrants" in table.stdout
    assert "2030-07-05 10:00-18:00 Europe/Vienna" in table.stdout


def test_extract_reads_a_url_and_applies_a_selector(runner, site):
    site.publish_fixture("/cd.html", "constructive-dialogues-v1.html")
    result = invoke(
        runner, "extract", site.url("/cd.html"), "--selector", "ul.key-dates", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["selector_matched"] is True and shown["lines"] == 3
    missing = invoke(runner, "extract", site.url("/cd.html"), "--selector", "#nothing")
    assert "matches nothing" in missing.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sources", "check", "fake-cts"], "unknown source 'fake-cts'; did you mean 'fake-cst'?"),
        (["extract", "missing.html"], "cannot read missing.html"),
        (["extract", "ftp://example.org/x"], "only http:// and https://"),
        (["extract", "x.html", "--selector", "div["], "is not a CSS selector"),
        (["extract", "x.html", "--source", "nope"], "unknown source 'nope'"),
        (["proposals", "approve", "41"], "no database yet"),
    ],
)
def test_bad_input_exits_with_a_message_that_names_the_fix(runner, args, words):
    result = invoke(runner, *args)
    assert result.exit_code in {1, 2}
    assert words in result.output


def test_an_unknown_proposal_id_exits_2(runner):
    invoke(runner, "db", "upgrade")
    for verb in ("approve", "reject"):
        result = invoke(runner, "proposals", verb, "41")
        assert result.exit_code == 2
        assert "there is no proposal 41; `untoc-watch proposals list` shows them" in result.output


def test_the_watcher_commands_add_nothing_heavy_to_every_command():
    heavy = ("httpx", "bs4", "feedparser", "icalendar", "sqlalchemy", "feeds.watcher")
    probe = f"import sys, bot.cli.app; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
