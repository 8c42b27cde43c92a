"""The Atom feed: announcements, date changes, facts and page changes, read by feedparser."""

from __future__ import annotations

import datetime as dt

import feedparser  # type: ignore[import-untyped]
import httpx

from bot.db.migrate import upgrade
from bot.db.models import SourceChange
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.settings import load_settings
from feeds.atom import Entry, build_atom

BASE = "https://watch.example.org"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_hostile_text_still_makes_a_well_formed_feed():
    entry = Entry(
        id=f"{BASE}/feed.atom#x",
        title='<script>alert("x")</script> & \x00\x07 \ud800 ]]>',
        updated=dt.datetime(2022, 5, 1, tzinfo=dt.UTC),
        summary="a < b & c > d\x1b[31m",
        link="https://example.org/?a=1&b=<2>",
    )
    body = build_atom(
        feed_id=f"{BASE}/feed.atom",
        title="T",
        self_url=f"{BASE}/feed.atom",
        page_url=BASE,
        language="ar",
        entries=[entry],
        updated=entry.updated,
    )
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    (item,) = parsed.entries
    assert item.title.startswith('<script>alert("x")</script> &')
    assert item.link == "https://example.org/?a=1&b=<2>"


async def test_the_feed_has_changes_and_pages_and_answers_304(database_url, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE)
    await upgrade(database_url)
    store = await Store.open(database_url)
    clock = Clock(dt.datetime(2022, 9, 1, tzinfo=dt.UTC))
    dataset = load_dataset()
    publisher = Publisher(dataset, store, BASE, clock=clock)
    app = create_app(load_settings(), dataset, publisher)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            first = await http.get("/feed.atom?country=AT")
            assert first.status_code == 200
            assert first.headers["content-type"].startswith("application/atom+xml")
            assert feedparser.parse(first.content).bozo == 0
            await store.record_milestone_date(
                country="AT",
                cluster=1,
                milestone="self-assessment",
                date=dt.date(2022, 8, 31),
                source="https://example.org/at",
                recorded_by="test",
                now=clock.now,
            )
            async with store.sessions() as session, session.begin():
                session.add(
                    SourceChange(
                        source_id=next(iter(dataset.sources)),
                        detected_at=clock.now,
                        url="https://www.unodc.org/unodc/en/organized-crime/page.html",
                        summary="Added: Registration closes on 17 May 2022 & more",
                        old_hash="a",
                        new_hash="b",
                    )
                )
            clock.now += dt.timedelta(seconds=10)
            response = await http.get("/feed.atom?country=AT&lang=fr")
            assert response.status_code == 200
            parsed = feedparser.parse(response.content)
            assert parsed.bozo == 0, parsed.get("bozo_exception")
            assert parsed.feed.language == "fr"
            titles = [e.title for e in parsed.entries]
            assert any("Autriche" in t for t in titles), titles
            pages = [e for e in parsed.entries if "/page.html" in e.link]
            assert len(pages) == 1 and "& more" in pages[0].summary
            assert all("Source" in e.summary for e in parsed.entries)
            etag = response.headers["etag"]
            assert response.headers["cache-control"] == "public, max-age=300"
            again = await http.get("/feed.atom?country=AT&lang=fr", headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert (await http.get("/feed.atom?country=ZZ")).status_code == 400
            assert (await http.get("/feed.atom?alarms=P1D")).status_code == 400
            page = await http.get("/country/AT")
            assert 'type="application/atom+xml"' in page.text
            assert 'href="/feed.atom?country=AT' in page.text
            index = await http.get("/?country=AT")
            assert 'rel="alternate" type="application/atom+xml"' in index.text
    finally:
        await store.close()
