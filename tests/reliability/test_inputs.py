"""The hostile-input corpus at every entry point, and the problems it found, one test each.

`run(quick=True)` sends the first cases of every family to every entry point of the real
service parts; the full corpus (`make reliability`) is only counted here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import re
from collections import Counter

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli.app import app
from bot.db.migrate import upgrade
from bot.db.models import Subscriber
from bot.db.subscribers import InvalidPreference, set_preferences
from bot.filters.query import QueryError, parse_query
from bot.web.app import API_PARAMS
from config.dataset import check_zone
from config.dataset_loader import load_dataset
from config.nesting import MAX_NESTING, json_too_deep
from config.yamlfile import YamlError, read_yaml
from feeds.fetch import (
    MAX_RETRY_AFTER,
    AddressPolicy,
    Fetcher,
    HostPacer,
    SourceRefused,
    _retry_after,
)
from feeds.formats import UnreadableDocument, read_calendar
from reliability import inputs
from reliability.inputs import HostilePage, RawSite
from tests.bot.telegram_harness import ALICE, OPERATOR, private, running_bot, texts_of
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.unodc_site import FakeUnodcSite

FIGURE = re.compile(r"^(?P<entry>[a-z ]+): (?P<passed>\d+)/(?P<tried>\d+) passed")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def test_the_quick_sample_passes_at_every_entry_point():
    section = inputs.run(quick=True)
    assert section.held, "\n".join(section.failures)
    tried = {
        match["entry"]: int(match["tried"])
        for match in map(FIGURE.match, section.figures)
        if match and match["entry"] in inputs.ENTRY_POINTS
    }
    expected = Counter(case.entry for case in inputs.sample(inputs.corpus()))
    assert tried == dict(expected)
    assert min(tried.values()) >= inputs.QUICK_MINIMUM


def test_the_full_corpus_has_500_inputs_across_every_entry_point_and_family():
    cases = inputs.corpus()
    per_entry = Counter(case.entry for case in cases)
    assert len(cases) >= 500
    assert set(per_entry) == set(inputs.ENTRY_POINTS)
    assert min(per_entry.values()) >= 50
    families = {case.family for case in cases}
    assert set(inputs.FAMILIES) <= families
    assert len({case.label for case in cases if case.entry == inputs.QUERY}) > 400  # distinct
    quick = inputs.sample(cases)
    for entry in inputs.ENTRY_POINTS:  # every family an entry point has is in the sample
        assert {c.family for c in quick if c.entry == entry} == {
            c.family for c in cases if c.entry == entry
        }


# What the corpus found, fixed.


@pytest.mark.parametrize(("name", "value"), [("cluster", "²"), ("days", "²"), ("days", "١٢")])
def test_digits_that_int_refuses_are_a_400_not_a_500(dataset, name, value):
    with pytest.raises(QueryError, match=name) as error:
        parse_query([(name, value)], dataset, API_PARAMS)
    assert error.value.status == 400


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 900, 3000, 100_000])
def test_yaml_nested_too_deeply_is_a_located_error(tmp_path, levels):
    # Below, at and above libyaml's own limit (1,000) and the recursion limit: one message.
    path = tmp_path / "deep.yaml"
    path.write_text("# a comment\nevents:\n  " + "[" * levels + "]" * levels + "\n")
    with pytest.raises(YamlError, match="nested too deeply") as raised:
        read_yaml(path)
    assert raised.value.line == 3
    assert str(raised.value).startswith(f"{path}:3: ")


def test_yaml_nested_to_the_limit_is_read(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("events: " + "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1) + "\n")
    assert read_yaml(path)["events"] is not None


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{"a": ' + "[" * 70 + "]" * 70 + "}", 1),
        ('{\n"a":\n' + "[" * 5000 + "]" * 5000 + "}", 3),
        ('{"a": "' + "[" * 500 + '"}', None),  # brackets in a string do not count
        ('{"a": "\\"' + "}" * 3 + ', "b": [[]]}', None),
    ],
)
def test_json_nesting_is_counted_before_it_is_parsed(text, line):
    assert json_too_deep(text) == line


@pytest.mark.parametrize("zone", ["Europe", "America/Argentina"])
async def test_a_zone_that_is_a_folder_of_the_zone_database_is_refused(zone):
    with pytest.raises(ValueError, match=r"does not exist|not an IANA zone"):
        check_zone(zone)
    with pytest.raises(InvalidPreference):
        await set_preferences(None, Subscriber(), dt.datetime.now(dt.UTC), timezone=zone)  # type: ignore[arg-type]


def test_retry_after_is_capped_and_only_ascii_digits_count():
    assert _retry_after("99999999999999999999") == MAX_RETRY_AFTER
    assert _retry_after("120") == 120
    assert _retry_after("²") is None


def _loopback_fetcher(client: httpx.AsyncClient) -> Fetcher:
    """A fetcher that may reach the local site on 127.0.0.1 and nothing else private."""
    policy = AddressPolicy(allowed=(ipaddress.ip_network("127.0.0.1/32"),))
    return Fetcher(client, user_agent="test", policy=policy, pacer=HostPacer(0.0))


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:99999/", "javascript:alert(1)", "http://127.0.0.1:-5/"],
)
async def test_a_redirect_to_no_url_is_refused_not_a_crash(location):
    with FakeUnodcSite() as site:
        site.redirect("/moved", location)
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = _loopback_fetcher(client)
            with pytest.raises(SourceRefused):
                await fetcher.fetch(site.url("/moved"))


async def test_a_body_that_lies_about_its_encoding_is_refused():
    page = HostilePage(body=b"<p>plain</p>", headers=(("Content-Encoding", "gzip"),))
    with RawSite() as site:
        site.pages["/page"] = page
        async with httpx.AsyncClient(trust_env=False) as client:
            fetcher = _loopback_fetcher(client)
            with pytest.raises(SourceRefused, match="cannot be decoded"):
                await fetcher.fetch(site.url("/page"))


def test_a_calendar_event_that_cannot_be_read_is_skipped_or_the_calendar_refused():
    good = inputs._ics(summary="Good")
    bad = inputs._ics(start=";VALUE=DATE:20230230", summary="Bad")
    with pytest.raises(UnreadableDocument, match="no event could be read"):
        read_calendar(bad)
    with pytest.raises(UnreadableDocument):
        read_calendar(inputs._ics(start=";TZID=America/Argentina:20220601T100000"))
    both = good.replace(b"END:VCALENDAR\r\n", b"") + bad[bad.index(b"BEGIN:VEVENT") :]
    document = read_calendar(both)
    assert [line.split(" | ")[1] for line in document.lines] == ["Good"]


async def test_an_unknown_command_in_a_private_chat_gets_an_answer(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    with FakeTelegram() as fake:
        async with running_bot(fake, url) as bot:
            said = texts_of(await bot.say(private(ALICE), fake.user(ALICE), "/subscrbe AT"))
            assert len(said) == 1 and "Unknown command “/subscrbe”" in said[0]
            assert "/help" in said[0]
            group = {"id": -100_123, "type": "supergroup", "title": "G"}
            assert texts_of(await bot.say(group, fake.user(ALICE), "/other_bots_command")) == []
            operator = fake.user(OPERATOR, "Op")
            recorded = texts_of(
                await bot.say(private(OPERATOR), operator, "/record AT c² saq 2022-01-01 x")
            )
            assert recorded and "went wrong" not in recorded[0]


@pytest.mark.parametrize(
    ("args", "file"),
    [
        (["proposals", "approve", "99999999999999999999"], None),
        (["preview", "--from", "2022-04-01", "--to", "2022-05-01", "--tz", "Europe"], None),
        (["subscribers", "import", "FILE"], b"[" * 100_000 + b"]" * 100_000),
        (
            ["subscribers", "import", "FILE"],
            b'{"version": 1, "subscribers": [{"channel": "telegram", "address": "1", "filters": [["cluster", "\\u00b2"]]}]}',
        ),
        (
            ["subscribers", "import", "FILE"],
            b'{"version": 1, "subscribers": [{"channel": "telegram", "address": "1", "display_name": "a\\u0000b"}]}',
        ),
        (
            ["subscribers", "import", "FILE"],
            b'{"version": 1, "subscribers": [{"channel": "telegramtelegramtelegramtelegram!", "address": "1"}]}',
        ),
        (
            ["subscribers", "import", "FILE"],
            json.dumps(
                {
                    "version": 1,
                    "subscribers": [
                        {"channel": "telegram", "address": str(n), "calendar_token": "T" * 43}
                        for n in (1, 2)
                    ],
                }
            ).encode(),
        ),
    ],
)
def test_bad_command_line_input_exits_2_with_a_message(tmp_path, args, file):
    database = tmp_path / "cli.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{database}"))
    if file is not None:
        (tmp_path / "in.json").write_bytes(file)
        args = [str(tmp_path / "in.json") if arg == "FILE" else arg for arg in args]
    runner = CliRunner(
        env={"DATABASE_URL": f"sqlite:///{database}", "UNTOC_CACHE_DIR": str(tmp_path / "cache")}
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "rror" in result.output and "Traceback" not in result.output
    assert inputs.rows(database)["subscribers"] == []
