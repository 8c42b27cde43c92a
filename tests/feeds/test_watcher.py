"""The poll cycle against the local fake UNODC site, with the watcher's memory in memory.

What is stored where (the database) is tested in tests/bot/test_watch.py; here: what
the watcher decides, poll after poll, as the fake site's pages change and fail.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket

import pytest

from config.dataset import Source
from config.dataset_loader import load_dataset
from feeds.fetch import Fetcher, HostPacer
from feeds.ledger import MemoryLedger
from feeds.watcher import BACKOFF_BASE, Watcher, backoff
from tests.fakes.unodc_site import fixture

PAGE = "/unodc/en/ngos/constructive-dialogues.html"
NOW = dt.datetime(2022, 2, 1, 9, tzinfo=dt.UTC)
LATER = dt.timedelta(hours=4)


def make_source(site, path=PAGE, *, source_id="cd", **options) -> Source:
    return Source(
        id=source_id,
        url=site.url(path),
        interval_minutes=180,
        source="test",
        confidence="reported",
        **options,
    )


def make_watcher(fetcher, *sources, ledger=None, threshold=5, events=None) -> Watcher:
    return Watcher(
        sources,
        fetcher,
        ledger if ledger is not None else MemoryLedger(),
        events=load_dataset().events if events is None else events,
        failure_threshold=threshold,
    )


def memory(watcher: Watcher) -> MemoryLedger:
    assert isinstance(watcher.ledger, MemoryLedger)
    return watcher.ledger


async def poll(watcher: Watcher, now: dt.datetime, source_id: str = "cd"):
    (outcome,) = await watcher.check([source_id], now)
    return outcome


async def test_the_first_reading_is_a_baseline_that_proposes_only_what_is_unknown(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v3.html")
    watcher = make_watcher(fetcher, make_source(site))
    outcome = await poll(watcher, NOW)
    ledger = memory(watcher)
    assert outcome.result == "baseline" and outcome.status_code == 200
    assert len(ledger.snapshots) == 1 and ledger.changes == []
    # 6 May and 27 May are known as written; 1 July's deadline moved; 2023 is known.
    (proposal,) = ledger.proposals.values()
    assert (proposal.kind, proposal.target_id) == ("change", "cd-2022-som-tip")
    assert proposal.url == site.url(PAGE)


async def test_an_unchanged_page_is_a_304_and_no_alert(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = make_watcher(fetcher, make_source(site))
    await poll(watcher, NOW)
    outcome = await poll(watcher, NOW + LATER)
    assert outcome.result == "not_modified" and outcome.status_code == 304
    assert "If-None-Match" in site.last_request(PAGE).headers
    assert len(memory(watcher).snapshots) == 1 and memory(watcher).changes == []


async def test_counters_and_last_updated_stamps_are_not_changes(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = make_watcher(fetcher, make_source(site))
    await poll(watcher, NOW)
    site.publish_fixture(PAGE, "constructive-dialogues-v1-volatile.html")
    outcome = await poll(watcher, NOW + LATER)
    assert outcome.result == "unchanged" and outcome.status_code == 200
    assert memory(watcher).changes == [] and len(memory(watcher).snapshots) == 1


async def test_a_real_change_is_summarised_and_turned_into_a_proposed_change(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = make_watcher(fetcher, make_source(site))
    await poll(watcher, NOW)
    assert memory(watcher).proposals == {}
    site.publish_fixture(PAGE, "constructive-dialogues-v2.html")
    outcome = await poll(watcher, NOW + LATER)
    assert outcome.result == "changed" and outcome.proposals == 1
    (change,) = memory(watcher).changes
    assert "+ Constructive Dialogues on Smuggling of Migrants" in change.summary
    assert "17 May 2022" in change.summary and "8 May 2022" in change.summary
    assert change.summary.endswith(site.url(PAGE)) and change.url == site.url(PAGE)
    (proposal,) = memory(watcher).proposals.values()
    assert proposal.summary.endswith("registration deadline moved from 8 May 2022 to 17 May 2022")
    assert memory(watcher).states["cd"].last_changed_at == NOW + LATER


async def test_only_new_lines_are_read_for_dates(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v2.html")
    watcher = make_watcher(fetcher, make_source(site), events={})
    await poll(watcher, NOW)
    first = set(memory(watcher).proposals)
    site.publish_fixture(PAGE, "constructive-dialogues-v3.html")
    outcome = await poll(watcher, NOW + LATER)
    new = set(memory(watcher).proposals) - first
    assert outcome.result == "changed"
    assert {memory(watcher).proposals[k].event.id for k in new} == {"cd-2023-firearms"}


async def test_flapping_content_alerts_once(site, fetcher):
    watcher = make_watcher(fetcher, make_source(site))
    results = []
    for step, name in enumerate(["v1", "v2", "v1", "v2", "v1", "v2"]):
        site.publish_fixture(PAGE, f"constructive-dialogues-{name}.html")
        results.append((await poll(watcher, NOW + step * LATER)).result)
    assert results == ["baseline", "changed", "flapping", "flapping", "flapping", "flapping"]
    assert len(memory(watcher).changes) == 1


async def test_failures_back_off_tell_the_operator_once_and_recovery_once(site, fetcher, caplog):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = make_watcher(fetcher, make_source(site), threshold=3)
    now = NOW
    await poll(watcher, now)
    site.set(PAGE, status=500)
    waits = []
    with caplog.at_level(logging.WARNING, logger="untoc_watch.watcher"):
        for _ in range(5):
            now += dt.timedelta(days=1)
            outcome = await poll(watcher, now)
            assert outcome.result == "failed" and "HTTP 500" in outcome.message
            waits.append(outcome.next_poll_at - now)
    assert waits == sorted(waits) and waits[0] < waits[-1]
    failing = [n for n in memory(watcher).notices.values() if n.kind == "operator.source_failing"]
    assert len(failing) == 1 and "failed 3 times in a row" in failing[0].message
    assert memory(watcher).states["cd"].health == "failing"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5 and all("next try in" in r.getMessage() for r in warnings)
    site.set(PAGE, status=200)
    for _ in range(2):
        now += dt.timedelta(days=1)
        assert (await poll(watcher, now)).result in {"unchanged", "not_modified"}
    kinds = sorted(n.kind for n in memory(watcher).notices.values())
    assert kinds == ["operator.source_failing", "operator.source_recovered"]
    assert memory(watcher).states["cd"].health == "ok"


async def test_a_short_blip_is_not_told(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = make_watcher(fetcher, make_source(site), threshold=3)
    await poll(watcher, NOW)
    site.set(PAGE, status=503)
    await poll(watcher, NOW + LATER)
    site.set(PAGE, status=200)
    await poll(watcher, NOW + 2 * LATER)
    assert memory(watcher).notices == {}


async def test_a_selector_that_stops_matching_is_told_once_and_its_return_once(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    watcher = make_watcher(fetcher, make_source(site, selector="ul.key-dates"))
    await poll(watcher, NOW)
    site.publish(PAGE, fixture("constructive-dialogues-v2.html").replace(b"key-dates", b"dates"))
    assert (await poll(watcher, NOW + LATER)).result == "selector_missing"
    assert (await poll(watcher, NOW + 2 * LATER)).result == "not_modified"
    assert memory(watcher).states["cd"].health == "selector_missing"
    assert [n.kind for n in memory(watcher).notices.values()] == ["operator.selector_missing"]
    assert memory(watcher).changes == []
    site.publish_fixture(PAGE, "constructive-dialogues-v2.html")
    outcome = await poll(watcher, NOW + 3 * LATER)
    assert outcome.result == "changed"  # compared with the last version it could read
    assert sorted(n.kind for n in memory(watcher).notices.values()) == [
        "operator.selector_missing",
        "operator.selector_restored",
    ]


async def test_a_redirect_to_a_private_address_fails_without_following(site, fetcher):
    site.redirect(PAGE, "http://192.168.1.1/")
    outcome = await poll(make_watcher(fetcher, make_source(site)), NOW)
    assert outcome.result == "failed" and "private address" in outcome.message


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ({"status": 404}, "HTTP 404"),
        ({"delay": 1.5}, "timed out|no complete answer"),
        ({"declared_length": 50 * 1024 * 1024}, "cap"),
        ({"stream_bytes": 1024 * 1024}, "cap"),
    ],
)
async def test_bad_answers_are_failures_not_crashes(site, fetcher, setup, words):
    site.publish(PAGE, b"<p>x</p>", **setup)
    outcome = await poll(make_watcher(fetcher, make_source(site)), NOW)
    assert outcome.result == "failed"
    assert __import__("re").search(words, outcome.message)


async def test_a_name_that_does_not_resolve_is_logged_with_its_backoff(client, caplog):
    async def no_dns(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    fetcher = Fetcher(client, user_agent="test", resolver=no_dns, pacer=HostPacer(0.0))
    source = Source(
        id="cst",
        url="https://www.unodc.org/unodc/en/ngos/cst.html",
        source="test",
        confidence="reported",
    )
    watcher = make_watcher(fetcher, source)
    with caplog.at_level(logging.WARNING, logger="untoc_watch.watcher"):
        report = await watcher.poll_due(NOW)
    (outcome,) = report.outcomes
    assert outcome.result == "failed" and "cannot resolve www.unodc.org" in outcome.message
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "failure 1 in a row, next try in 6 h" in record.getMessage()
    assert report.next_due == NOW + backoff(1, dt.timedelta(minutes=360))


async def test_a_latin1_page_and_malformed_html_are_read(site, fetcher):
    site.publish_fixture("/fr/cst.html", "cst-latin1.html", content_type="text/html")
    site.publish_fixture("/cst.html", "malformed.html")
    watcher = make_watcher(
        fetcher,
        make_source(site, "/fr/cst.html", source_id="fr", language="fr"),
        make_source(site, "/cst.html", source_id="cst"),
    )
    outcomes = await watcher.check(["fr", "cst"], NOW)
    assert [o.result for o in outcomes] == ["baseline", "baseline"]
    ids = {p.event.id: p for p in memory(watcher).proposals.values()}
    assert set(ids) == {"cd-2030-firearms", "cd-2030-tip"}
    closing = ids["cd-2030-firearms"].event.registration
    assert closing is not None and closing.deadline == dt.date(2030, 2, 12)
    assert "février" in ids["cd-2030-firearms"].excerpt


async def test_feeds_and_calendars_become_proposals_and_a_broken_feed_fails(site, fetcher):
    site.publish_fixture("/news.rss", "news.rss", content_type="application/rss+xml")
    site.publish_fixture("/broken.rss", "broken.rss", content_type="application/rss+xml")
    site.publish_fixture("/meetings.ics", "meetings.ics", content_type="text/calendar")
    watcher = make_watcher(
        fetcher,
        make_source(site, "/news.rss", source_id="news", kind="rss"),
        make_source(site, "/broken.rss", source_id="broken", kind="rss"),
        make_source(site, "/meetings.ics", source_id="indico", kind="ics"),
    )
    outcomes = {o.source_id: o for o in await watcher.check(["news", "broken", "indico"], NOW)}
    assert outcomes["broken"].result == "failed" and "not an RSS" in outcomes["broken"].message
    by_id = {p.event.id: p for p in memory(watcher).proposals.values()}
    assert by_id["cd-2030-tip"].url == "https://ngo.example.org/news/cd-tip-2030"
    assert by_id["cd-2030-tip"].source_id == "news"
    dialogue = by_id["cd-2030-som"].event
    assert (dialogue.start_time, dialogue.end_time, dialogue.zone) == (
        dt.time(10),
        dt.time(18),
        "Europe/Vienna",
    )
    assert dialogue.url == "https://indico.un.org/event/1234/"
    assert by_id["cop-16"].event.end == dt.date(2030, 10, 18)


async def test_poll_due_polls_only_what_is_due(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    site.publish_fixture("/home.html", "review-mechanism-home.html")
    watcher = make_watcher(
        fetcher,
        make_source(site),
        make_source(site, "/home.html", source_id="home").model_copy(
            update={"interval_minutes": 60}
        ),
    )
    first = await watcher.poll_due(NOW)
    assert {o.source_id for o in first.outcomes} == {"cd", "home"}
    assert first.next_due == NOW + dt.timedelta(minutes=60)
    assert (await watcher.poll_due(NOW + dt.timedelta(minutes=30))).outcomes == ()
    later = await watcher.poll_due(NOW + dt.timedelta(minutes=61))
    assert [o.source_id for o in later.outcomes] == ["home"]
    assert later.next_due == NOW + dt.timedelta(minutes=61 + 60)


async def test_changing_a_source_selector_re_reads_it_without_an_alert(site, fetcher):
    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    ledger = MemoryLedger()
    await poll(make_watcher(fetcher, make_source(site), ledger=ledger), NOW)
    tuned = make_watcher(fetcher, make_source(site, selector="ul.key-dates"), ledger=ledger)
    outcome = await poll(tuned, NOW + LATER)
    assert outcome.result == "baseline" and ledger.changes == []
    assert "If-None-Match" not in site.last_request(PAGE).headers


def test_backoff_doubles_from_its_base_to_a_day():
    interval = dt.timedelta(minutes=5)
    assert backoff(1, interval) == BACKOFF_BASE
    assert backoff(3, interval) == 4 * BACKOFF_BASE
    assert backoff(40, interval) == dt.timedelta(hours=24)
    assert backoff(1, dt.timedelta(hours=6)) == dt.timedelta(hours=6)
    assert backoff(1, interval, retry_after=3600) == dt.timedelta(hours=1)


async def test_a_bug_on_one_page_spares_the_others_and_backs_off(
    site, fetcher, monkeypatch, caplog
):
    import feeds.watcher as watcher_module

    site.publish_fixture(PAGE, "constructive-dialogues-v1.html")
    site.publish_fixture("/home.html", "review-mechanism-home.html")
    real_read = watcher_module._read

    def read(source, fetched):
        if source.id == "cd":
            raise RuntimeError("a page this code did not expect")
        return real_read(source, fetched)

    monkeypatch.setattr(watcher_module, "_read", read)
    watcher = make_watcher(
        fetcher, make_source(site), make_source(site, "/home.html", source_id="home")
    )
    with caplog.at_level(logging.WARNING, logger="untoc_watch.watcher"):
        report = await watcher.poll_due(NOW)
    results = {o.source_id: (o.result, o.message) for o in report.outcomes}
    assert results == {
        "cd": ("failed", "internal error (see the log)"),
        "home": ("baseline", "first reading: 7 lines"),
    }
    state = memory(watcher).states["cd"]
    assert state.consecutive_failures == 1 and state.next_poll_at == NOW + dt.timedelta(hours=3)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
