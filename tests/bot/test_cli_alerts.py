"""Operator commands for alerts: preview, broadcast, deliveries, export and import."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.db import subscribers as subs
from bot.db.store import Store
from config.keys import legacy_hash

NOW = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UNTOC_DATA_DIR", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("UNTOC_CACHE_DIR", str(tmp_path / "cache"))
    cli = CliRunner()
    assert cli.invoke(app, ["db", "upgrade"]).exit_code == 0
    return cli


def _url(tmp_path):
    return f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}"


async def _seed(url):
    store = await Store.open(url)
    try:
        async with store.sessions() as session, session.begin():
            at = await subs.ensure_subscriber(
                session, channel="telegram", address="1", now=NOW, language="fr"
            )
            await subs.follow(session, at, {"country": ["AT"], "theme": ["tip"]}, NOW)
            await subs.set_preferences(
                session, at, NOW, timezone="Africa/Lagos", quiet_hours=(22, 7)
            )
            await subs.acknowledge(session, at.id, "r-cd-2022-som-tip", NOW)
            everyone = await subs.ensure_subscriber(session, channel="slack", address="C1", now=NOW)
            await subs.follow(session, everyone, {"kind": ["event"]}, NOW)
            gb = await subs.ensure_subscriber(session, channel="telegram", address="2", now=NOW)
            await subs.follow(session, gb, {"country": ["GB"]}, NOW)
    finally:
        await store.close()


def test_preview_lists_every_alert_in_the_window_in_order(runner):
    result = runner.invoke(
        app,
        [
            "preview",
            "--from",
            "2022-04-30",
            "--to",
            "2022-05-08",
            "--country",
            "AT",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows == sorted(rows, key=lambda r: r["at"])
    assert {
        "at": "2022-05-08T18:00:00+02:00",
        "kind": "last_call",
        "deadline": "r-cd-2022-som-tip",
        "title": "Registration closes: Constructive Dialogues on Smuggling of Migrants and Trafficking in Persons",
        "lead_days": None,
    } in rows
    # a step whose date passed with nothing recorded is "no news", not late: no overdue notice
    assert ("overdue", "m-at-c1-self-assessment") not in {(r["kind"], r["deadline"]) for r in rows}
    assert not any(r["deadline"] and r["deadline"].startswith("m-gb") for r in rows)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["preview", "--from", "2022-05-01", "--to", "2022-04-01"], "after --from"),
        (["preview", "--from", "May", "--to", "2022-04-01"], "YYYY-MM-DD"),
        (["preview", "--from", "2022-04-01", "--to", "2022-04-02", "--tz", "Vienna"], "IANA"),
        (["preview", "--from", "2022-04-01", "--to", "2022-04-02", "--theme", "x"], "unknown"),
        (["broadcast", " "], "1 to 3500"),
        (["subscribers", "import", "missing.json"], "cannot read"),
    ],
)
def test_bad_input_is_refused_clearly(runner, args, words):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert words in result.output


def test_broadcast_queues_for_followers_and_deliveries_shows_it(runner, tmp_path):
    asyncio.run(_seed(_url(tmp_path)))
    result = runner.invoke(
        app, ["broadcast", "The 2022 dialogues moved online.", "--country", "AT"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "Queued for 2 subscriber(s)" in result.stdout
    )  # the AT follower and the all-countries one
    status = runner.invoke(app, ["deliveries"])
    assert "pending: 2" in status.stdout


def test_export_then_import_into_a_new_instance_keeps_everything(runner, tmp_path, monkeypatch):
    asyncio.run(_seed(_url(tmp_path)))
    exported = tmp_path / "subs.json"
    assert runner.invoke(app, ["subscribers", "export", str(exported)]).exit_code == 0
    data = json.loads(exported.read_text())
    assert len(data["subscribers"]) == 3
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{other / 'watch.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["subscribers", "import", str(exported)]).exit_code == 0
    again = tmp_path / "again.json"
    runner.invoke(app, ["subscribers", "export", str(again)])
    assert json.loads(again.read_text()) == data
    # importing twice changes nothing
    assert runner.invoke(app, ["subscribers", "import", str(exported)]).exit_code == 0
    runner.invoke(app, ["subscribers", "export", str(again)])
    assert json.loads(again.read_text()) == data


def test_an_export_from_before_nonces_keeps_its_links_as_hashes(runner, tmp_path):
    asyncio.run(_seed(_url(tmp_path)))
    old = tmp_path / "old.json"
    token = "an-old-calendar-token-from-an-older-export"
    entry = {"channel": "telegram", "address": "77", "calendar_token": token}
    old.write_text(json.dumps({"version": 1, "subscribers": [entry]}))
    assert runner.invoke(app, ["subscribers", "import", str(old)]).exit_code == 0
    exported = tmp_path / "now.json"
    assert runner.invoke(app, ["subscribers", "export", str(exported)]).exit_code == 0
    text = exported.read_text()
    (imported,) = [s for s in json.loads(text)["subscribers"] if s["address"] == "77"]
    assert token not in text and "calendar_token" not in text
    assert imported["calendar_legacy_hash"] == legacy_hash(token)
    assert len(imported["calendar_nonce"]) == 22


def test_forgetting_old_links_asks_first_and_then_ends_them(runner, tmp_path):
    asyncio.run(_seed(_url(tmp_path)))
    old = tmp_path / "old.json"
    entry = {"channel": "telegram", "address": "78", "calendar_token": "t" * 43}
    old.write_text(json.dumps({"version": 1, "subscribers": [entry]}))
    assert runner.invoke(app, ["subscribers", "import", str(old)]).exit_code == 0
    asked = runner.invoke(app, ["db", "forget-old-calendar-links"], input="n\n")
    assert asked.exit_code == 1 and "stop updating" in asked.output  # refused: nothing done
    done = runner.invoke(app, ["db", "forget-old-calendar-links", "--yes"])
    assert done.exit_code == 0 and "1 link(s)" in done.output
    again = runner.invoke(app, ["db", "forget-old-calendar-links", "--yes"])
    assert "0 link(s)" in again.output


def test_the_database_and_an_export_are_readable_by_their_owner_only(runner, tmp_path):
    asyncio.run(_seed(_url(tmp_path)))
    for made in [tmp_path / "watch.db", *tmp_path.glob("watch.db-*")]:
        assert made.stat().st_mode & 0o777 == 0o600, made
    exported = tmp_path / "subs.json"
    exported.write_text("{}")
    exported.chmod(0o644)  # an older export others could read
    assert runner.invoke(app, ["subscribers", "export", str(exported)]).exit_code == 0
    assert exported.stat().st_mode & 0o777 == 0o600
    fresh = tmp_path / "fresh.json"
    assert runner.invoke(app, ["subscribers", "export", str(fresh)]).exit_code == 0
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_an_existing_database_file_is_narrowed_to_its_owner(runner, tmp_path, monkeypatch):
    other = tmp_path / "open.db"
    other.touch()
    other.chmod(0o644)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{other}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert other.stat().st_mode & 0o777 == 0o600


def test_a_broken_import_changes_nothing(runner, tmp_path):
    asyncio.run(_seed(_url(tmp_path)))
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "version": 1,
                "subscribers": [
                    {"channel": "telegram", "address": "9"},
                    {"channel": "telegram", "address": "10", "timezone": "Mars/Base"},
                ],
            }
        )
    )
    result = runner.invoke(app, ["subscribers", "import", str(bad)])
    assert result.exit_code == 2
    assert "subscriber #2" in result.output and "nothing was imported" in result.output
    exported = tmp_path / "after.json"
    runner.invoke(app, ["subscribers", "export", str(exported)])
    assert len(json.loads(exported.read_text())["subscribers"]) == 3
