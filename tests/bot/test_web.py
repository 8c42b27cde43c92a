"""The web app: feeds with validators, filters, personal feeds, the page, the API, bad input."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from sqlalchemy import bindparam, text

from bot.db.engine import create_engine
from bot.db.migrate import upgrade, upgrade_engine
from bot.db.models import Subscriber, SubscriberFilter, UTCDateTime
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.web.app import create_app
from config.dataset_loader import load_dataset
from config.keys import calendar_key, calendar_token, new_nonce
from config.settings import load_settings

MARCH_2022 = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def make_client(dataset, store=None, clock=None, **settings_overrides):
    settings = load_settings(**settings_overrides)
    publisher = Publisher(
        dataset, store, "https://watch.example.org", clock=clock or Clock(MARCH_2022)
    )
    app = create_app(settings, dataset, publisher)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(dataset, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    async with make_client(dataset) as http:
        yield http


def events_of(body: bytes):
    return {str(e["UID"]).split("@")[0]: e for e in Calendar.from_ical(body).walk("VEVENT")}


async def test_the_full_calendar_with_validators(client):
    response = await client.get("/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert "Accept-Encoding" in response.headers["vary"]
    events = events_of(response.content)
    assert "r-cd-2022-som-tip" in events and "m-at-c1-focal-points" in events
    head = await client.head("/calendar.ics")
    assert head.status_code == 200 and head.headers["etag"] == response.headers["etag"]


async def test_conditional_requests_answer_304(client):
    first = await client.get("/calendar.ics")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = await client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    listed = await client.get("/calendar.ics", headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    stale = await client.get("/calendar.ics", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    since = await client.get("/calendar.ics", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    earlier = await client.get(
        "/calendar.ics", headers={"If-Modified-Since": "Mon, 01 Jan 2018 00:00:00 GMT"}
    )
    assert earlier.status_code == 200
    garbage = await client.get("/calendar.ics", headers={"If-Modified-Since": "yesterday"})
    assert garbage.status_code == 200


async def test_gzip_when_asked_with_its_own_etag(client):
    plain = await client.get("/calendar.ics", headers={"Accept-Encoding": "identity"})
    zipped = await client.get("/calendar.ics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decodes; the bytes are the same feed
    assert int(zipped.headers["content-length"]) < len(plain.content) / 5
    assert zipped.headers["etag"] != plain.headers["etag"]
    not_modified = await client.get(
        "/calendar.ics",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]},
    )
    assert not_modified.status_code == 304


async def test_filters_language_and_alarms(client):
    response = await client.get(
        "/calendar.ics",
        params={"country": "Austria", "kind": "milestone", "lang": "fr", "alarms": "P7D,PT2H"},
    )
    events = events_of(response.content)
    assert set(events) == {
        "m-at-c1-focal-points",
        "m-at-c1-governmental-experts",
        "m-at-c1-consultations",
        "m-at-c1-self-assessment",
        "m-at-c1-written-feedback",
        "m-at-c1-lists-of-observations",
    }
    focal = events["m-at-c1-focal-points"]
    assert (
        str(focal["SUMMARY"]) == "Autriche: Désignation des points de contact (groupe thématique 1)"
    )
    assert "Ce que vous pouvez faire maintenant" in str(focal["DESCRIPTION"])
    assert len(focal.walk("VALARM")) == 2
    firearms = events_of(
        (await client.get("/calendar.ics?theme=firearms&kind=registration")).content
    )
    # the 2022 and 2023 calls as announced, and the 2024 one as the rhythm expects it
    assert set(firearms) == {"r-cd-2022-firearms", "r-cd-2023-firearms", "r-cd-2024-firearms"}


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("country=Narnia", 400, "unknown country 'Narnia'"),
        ("country=Austira", 400, "did you mean AT (Austria)"),
        ("cluster=9", 400, "allowed: 1, 2, 3, 4"),
        ("cluster=one", 400, "cluster 'one' is unknown"),
        ("kind=meeting", 400, "allowed: milestone, registration, event"),
        ("theme=drugs", 400, "allowed: tip, som, firearms"),
        ("lang=de", 400, "allowed: ar, en, es, fr, ru, zh"),
        ("lang=fr&lang=es", 400, "given more than once"),
        ("alarms=P7X", 400, "ISO 8601 duration"),
        ("alarms=P999W", 400, "longer than a year"),
        ("alarms=" + ",".join(f"PT{n}H" for n in range(1, 13)), 400, "more than 10 alarms"),
        ("colour=red", 400, "unknown parameter 'colour'"),
        ("country=" + "A" * 150, 400, "too long"),
        ("country=AT&" * 300, 414, "longer than 2048"),
    ],
)
async def test_bad_queries_get_a_4xx_that_names_the_value(client, query, status, words):
    response = await client.get("/calendar.ics?" + query)
    assert response.status_code == status
    assert words in response.text
    assert response.headers["content-type"].startswith("text/plain")


async def test_wrong_methods_and_unknown_paths(client):
    assert (await client.post("/calendar.ics")).status_code == 405
    assert (await client.delete("/")).status_code == 405
    assert (await client.get("/calendar/does-not-exist.ics")).status_code == 404
    assert (await client.get("/nowhere")).status_code == 404


async def test_api_upcoming_and_its_errors(client):
    rows = (await client.get("/api/upcoming", params={"kind": "registration"})).json()
    assert [r["id"] for r in rows] == [
        "r-se4u-2022-course",
        "r-se4u-2022-workshop",
        "r-cd-2022-cooperation-technical-assistance",
        "r-cd-2022-firearms",
        "r-cd-2022-som-tip",
    ]
    assert rows[-1]["due"] == "2022-05-08T22:00:00Z"
    assert (await client.get("/api/upcoming?days=-1")).status_code == 400
    assert (await client.get("/api/upcoming?alarms=P1D")).status_code == 400  # not an API filter


async def test_the_page_lists_filters_and_offers_subscriptions(client):
    response = await client.get("/", params={"country": "AT", "days": "120"})
    assert response.status_code == 200
    html = response.text
    assert 'id="m-at-c1-self-assessment"' in html
    assert "m-gb-c1" not in html
    assert 'href="webcal://watch.example.org/calendar.ics?country=AT&amp;lang=en"' in html
    assert "calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fwatch.example.org" in html
    assert 'href="/calendar.ics?country=AT&amp;lang=en"' in html
    assert "subscribe-telegram" not in html  # no bot configured
    assert "in 2 months" in html or "in 9 weeks" in html
    french = await client.get("/", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"})
    assert french.headers["content-language"] == "fr"
    assert 'lang="fr"' in french.text and "Clôture des inscriptions" in french.text
    assert 'href="?lang=es"' in french.text


async def test_the_telegram_button_carries_the_filters(dataset, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "untoc_watch_bot")
    async with make_client(dataset) as http:
        html = (await http.get("/?country=AT&theme=tip")).text
    assert 'href="https://t.me/untoc_watch_bot?start=sub-AT-tip"' in html


async def add_personal_subscriber(
    store: Store, *, language: str, filters: list[tuple[str, str]]
) -> str:
    nonce = new_nonce()
    now = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    async with store.sessions() as session, session.begin():
        subscriber = Subscriber(
            channel="telegram",
            address="12345",
            language=language,
            calendar_nonce=nonce,
            created_at=now,
            updated_at=now,
        )
        subscriber.filters = [SubscriberFilter(dimension=d, value=v) for d, v in filters]
        session.add(subscriber)
    return calendar_token(calendar_key(load_settings()), nonce)


async def test_a_personal_feed_follows_its_subscriber(dataset, database_url, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    await upgrade(database_url)
    store = await Store.open(database_url)
    try:
        token = await add_personal_subscriber(
            store, language="es", filters=[("country", "AT"), ("kind", "milestone")]
        )
        async with make_client(dataset, store) as http:
            response = await http.get(f"/calendar/{token}.ics")
            assert response.status_code == 200
            # its address is its owner's secret: no shared cache keeps a copy
            assert response.headers["cache-control"] == "private, max-age=300"
            public = await http.get("/calendar.ics")
            assert public.headers["cache-control"] == "public, max-age=300"
            events = events_of(response.content)
            assert set(events) >= {"m-at-c1-focal-points"} and all("-at-" in key for key in events)
            assert "Designación de los coordinadores" in str(
                events["m-at-c1-focal-points"]["SUMMARY"]
            )
            wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
            assert (await http.get(f"/calendar/{wrong}.ics")).status_code == 404
            assert (await http.get("/calendar/short.ics")).status_code == 404
    finally:
        await store.close()


async def test_a_copy_of_the_database_opens_no_personal_calendar(
    dataset, database_url, monkeypatch
):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    await upgrade(database_url)
    store = await Store.open(database_url)
    try:
        token = await add_personal_subscriber(store, language="en", filters=[])
        async with store.sessions() as session:
            (stored,) = (await session.execute(text("SELECT * FROM subscribers"))).all()
        held = [str(value) for value in stored if value is not None]
        assert all(token not in value for value in held)  # the token is nowhere in the row
        nonce = token[:22]
        async with make_client(dataset, store) as http:
            assert (await http.get(f"/calendar/{token}.ics")).status_code == 200
            # what a copy holds, alone or signed with any key but the service's
            assert (await http.get(f"/calendar/{nonce}.ics")).status_code == 404
            forged = calendar_token(b"a-key-that-is-not-the-service-s-own", nonce)
            assert (await http.get(f"/calendar/{forged}.ics")).status_code == 404
        # Another key (a lost key file, a changed secret): the links made so far stop working.
        other = "another-calendar-secret-" + "z" * 32
        async with make_client(dataset, store, CALENDAR_SECRET=other) as http:
            assert (await http.get(f"/calendar/{token}.ics")).status_code == 404
    finally:
        await store.close()


async def test_a_link_made_before_nonces_keeps_working_after_the_upgrade(
    dataset, database_url, monkeypatch
):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    old = "an-old-calendar-token-made-before-nonces-01"
    engine = create_engine(database_url)
    try:
        await upgrade_engine(engine, "0004")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO subscribers (channel, address, calendar_token, created_at,"
                    " updated_at) VALUES ('telegram', '7', :token, :now, :now)"
                ).bindparams(bindparam("now", MARCH_2022, type_=UTCDateTime()), token=old)
            )
        await upgrade_engine(engine)
        async with engine.connect() as connection:
            row = (await connection.execute(text("SELECT * FROM subscribers"))).one()
    finally:
        await engine.dispose()
    assert old not in [str(value) for value in row]  # kept as its hash only
    store = await Store.open(database_url)
    try:
        async with make_client(dataset, store) as http:
            response = await http.get(f"/calendar/{old}.ics")
            assert response.status_code == 200 and b"BEGIN:VCALENDAR" in response.content
            assert (await http.get(f"/calendar/{old[:-1]}2.ics")).status_code == 404
            # should a backup from before the upgrade leak, the operator ends those links
            assert await store.forget_old_calendar_links() == 1
            assert (await http.get(f"/calendar/{old}.ics")).status_code == 404
    finally:
        await store.close()


async def test_a_personal_feed_leaves_out_the_muted_countries(dataset, database_url, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    await upgrade(database_url)
    store = await Store.open(database_url)
    try:
        token = await add_personal_subscriber(
            store, language="en", filters=[("country", "!AT"), ("kind", "milestone")]
        )
        async with make_client(dataset, store) as http:
            response = await http.get(f"/calendar/{token}.ics")
        events = events_of(response.content)
        assert response.status_code == 200 and len(events) > 10
        countries = {key.split("-")[1] for key in events if key.startswith("m-")}
        assert "at" not in countries and len(countries) > 5
    finally:
        await store.close()


async def test_a_moved_date_raises_sequence_and_changes_the_etag(
    dataset, database_url, monkeypatch
):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    await upgrade(database_url)
    store = await Store.open(database_url)
    clock = Clock(dt.datetime(2022, 9, 1, tzinfo=dt.UTC))
    try:
        async with make_client(dataset, store, clock) as http:
            before = await http.get("/calendar.ics?country=AT")
            events = events_of(before.content)
            assert events["m-at-c1-written-feedback"]["SEQUENCE"] == 0
            await store.record_milestone_date(
                country="AT",
                cluster=1,
                milestone="self-assessment",
                date=dt.date(2022, 8, 31),
                source="https://example.org/at",
                recorded_by="test",
                now=clock.now,
            )
            cached = await http.get("/calendar.ics?country=AT")
            assert (
                cached.headers["etag"] == before.headers["etag"]
            )  # facts are re-read every few seconds
            clock.now += dt.timedelta(seconds=10)
            after = await http.get(
                "/calendar.ics?country=AT", headers={"If-None-Match": before.headers["etag"]}
            )
            assert after.status_code == 200
            events = events_of(after.content)
            feedback = events["m-at-c1-written-feedback"]
            assert feedback["SEQUENCE"] == 1
            assert feedback["DTSTART"].dt == dt.date(2023, 2, 28)
            assert feedback["LAST-MODIFIED"].dt == clock.now
            assert events["m-at-c1-focal-points"]["SEQUENCE"] == 0
            assert after.headers["last-modified"] == "Thu, 01 Sep 2022 00:00:10 GMT"
    finally:
        await store.close()


QUERY_KEYS = st.sampled_from(
    ["country", "cluster", "kind", "theme", "lang", "alarms", "days", "x", "", "country[]"]
)
QUERY_VALUES = st.one_of(
    st.sampled_from(
        ["AT", "at", "Austria", "EU", "1", "4", "0", "milestone", "tip", "fr", "P7D", "PT2H", "120"]
    ),
    st.text(max_size=60),
    st.text(alphabet="0123456789,-PTDWHM", max_size=30),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/", "/calendar.ics", "/api/upcoming", "/countries", "/country/AT"]),
    pairs=st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=6),
)
async def test_no_query_string_makes_the_server_fail(client, path, pairs):
    query = urllib.parse.urlencode(pairs)
    response = await client.get(f"{path}?{query}")
    assert response.status_code in {200, 400, 414}, (path, query, response.text[:200])
    if response.status_code != 200:
        assert response.text.strip()


DECEMBER_2026 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
async def late_client(dataset, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://watch.example.org")
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "untoc_watch_bot")
    async with make_client(dataset, clock=Clock(DECEMBER_2026)) as http:
        yield http


@pytest.mark.parametrize("language", ["ar", "en", "es", "fr", "ru", "zh"])
async def test_a_state_page_in_each_language(late_client, language):
    response = await late_client.get(f"/country/at?lang={language}")
    assert response.status_code == 200
    html = response.text
    assert f'lang="{language}"' in html
    assert ('dir="rtl"' in html) == (language == "ar")
    assert 'id="m-at-c1-self-assessment"' in html and 'data-status="no_news"' in html
    assert 'data-status="overdue"' not in html
    assert 'id="phase-2" data-status="planned" data-behind="true"' in html
    assert 'href="/calendar.ics?country=AT&amp;lang=' in html
    assert 'href="https://t.me/untoc_watch_bot?start=sub-AT"' in html
    assert 'id="ngo-actions"' in html and 'id="freshness"' in html


async def test_a_state_whose_group_is_unknown_gets_what_is_known(late_client):
    html = (await late_client.get("/country/FR")).text
    assert 'id="what-is-known"' in html and 'id="tell-us"' in html
    assert "81 reviews progressing and 108 not started" in html
    assert "within 6 months of the start of the review" in html
    assert 'id="steps-1"' not in html
    assert "expected between" in html and "Why we expect it" in html


async def test_the_api_gives_the_facts_of_the_page(late_client):
    facts = (await late_client.get("/api/country/at")).json()
    html = (await late_client.get("/country/AT")).text
    assert facts["country"] == "AT" and facts["group"] == 2
    steps = [s for cluster in facts["clusters"] for s in cluster["steps"]]
    assert {s["status"] for s in steps} == {"no_news"}
    for step in steps:
        assert f'id="{step["id"]}" data-status="{step["status"]}"' in html
    for phase in facts["planned"]:
        assert phase["status"] == "planned"
        assert f'id="phase-{phase["cluster"]}"' in html
    for event in facts["events"]:
        assert f'id="{event["id"]}" data-status="{event["status"]}"' in html
    assert facts["calendar"] == "https://watch.example.org/calendar.ics?country=AT"
    france = (await late_client.get("/api/country/FR")).json()
    assert france["group"] is None and france["clusters"] == []
    assert [g["group"] for g in france["what_is_known"]["groups"]] == [1, 2, 3]


async def test_the_index_sorts_filters_and_links_as_the_api(late_client):
    page = await late_client.get("/countries?group=2&sort=name&lang=en")
    assert page.status_code == 200
    api = (await late_client.get("/api/countries?group=2&sort=name")).json()
    codes = [row["country"] for row in api["countries"]]
    assert "AT" in codes and "FR" not in codes and api["count"] == len(codes)
    listed = [part.split('"')[0] for part in page.text.split('<tr id="state-')[1:]]
    assert listed == codes
    unknown = (await late_client.get("/api/countries?group=unknown")).json()
    assert "FR" in [row["country"] for row in unknown["countries"]]
    for query in ("q=Autriche", "q=奥地利", "q=австрия", "q=aus"):
        found = (await late_client.get(f"/api/countries?{query}")).json()["countries"]
        assert "AT" in [row["country"] for row in found], query
    by_group = (await late_client.get("/api/countries?sort=group")).json()["countries"]
    groups = [row["group"] or 99 for row in by_group]
    assert groups == sorted(groups)
    assert 'aria-sort="ascending"' in page.text and "sort=group" in page.text


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/country/%00", 404, "is not the ISO code"),
        ("/country/" + "A" * 5000, 404, "is not the ISO code"),
        ("/country/XX", 404, "is not the ISO code"),
        ("/country/AT?sort=name", 400, "unknown parameter"),
        ("/api/country/ZZ", 404, "not the ISO code"),
        ("/api/country/AT?x=1", 400, "no parameters"),
        ("/countries?sort=evil", 400, "allowed: name, group, news"),
        ("/countries?group=7", 400, "allowed: 1, 2, 3, unknown"),
        ("/countries?q=" + "x" * 10_000, 414, "longer than"),
        ("/countries?q=" + "x" * 200, 400, "too long"),
        ("/countries?sort=name&sort=group", 400, "more than once"),
        ("/api/countries?lang=fr", 400, "lang is for the page"),
    ],
)
async def test_hostile_state_addresses_get_a_clear_4xx(late_client, path, status, words):
    response = await late_client.get(path)
    assert response.status_code == status, response.text[:200]
    assert words in response.text
    if path.startswith("/country/") and status == 404:
        assert 'href="/countries?lang=en"' in response.text


async def test_the_front_page_when_nothing_is_announced(late_client):
    html = (await late_client.get("/?days=30")).text
    assert 'id="nothing-announced"' in html and 'id="deadlines"' not in html
    assert 'id="expected-next"' in html and "expected between" in html
    assert "Why we expect it" in html
    assert 'id="latest-held"' in html and 'id="next-actions"' in html
    assert 'id="freshness"' in html and "has not checked the UNODC pages yet" in html
    assert "in 3 months" not in html  # no countdown to a guess


@pytest.mark.parametrize("path", ["/evidence/1", "/changes/1"])
async def test_evidence_without_an_answering_database_says_so_in_the_readers_language(
    dataset, tmp_path, path
):
    url = f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}"
    await upgrade(url)
    store = await Store.open(url)
    try:
        async with store.sessions() as session, session.begin():
            for table in ("proposals", "source_changes"):  # what the pages read, gone
                await session.execute(text(f"DROP TABLE {table}"))
        async with make_client(dataset, store) as http:
            french = await http.get(path, headers={"Accept-Language": "fr"})
            missing = await http.get(path.replace("/1", "/999"), headers={"Accept-Language": "fr"})
            bad = await http.get(path.replace("/1", "/x"), headers={"Accept-Language": "ar"})
    finally:
        await store.close()
    assert french.status_code == 503 and french.headers["retry-after"] == "60"
    assert "La base de données ne répond pas" in french.text and "minute" in french.text
    assert missing.status_code == 503  # the database, not the number, is what is wrong
    assert bad.status_code == 404 and "Nothing is recorded" not in bad.text  # in Arabic
