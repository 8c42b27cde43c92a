"""A watched page full of control characters (a binary file served as HTML, a NUL in the
text) is read and stored like any other, on SQLite and on PostgreSQL, which refuses NUL
in text."""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx
from sqlalchemy import select

from bot.db.models import SourceSnapshot
from bot.delivery.watch import build_watcher
from config.dataset import Source
from config.dataset_loader import load_dataset
from config.settings import load_settings
from feeds.fetch import LOOPBACK_NETWORKS
from feeds.reading import ProcessReader
from tests.fakes.unodc_site import FakeUnodcSite

NOW = dt.datetime(2022, 2, 1, 9, tzinfo=dt.UTC)
PAGE = "/unodc/en/ngos/cst.html"


async def test_a_page_with_control_characters_is_read_and_stored(store):
    body = b"<main><p>Dialogue\x00 on 6\x07 May 2022\x1b</p><p>\x01\x02\x03</p></main>"
    with FakeUnodcSite() as site:
        site.publish(PAGE, body)
        source = Source(id="cst", url=site.url(PAGE), source="test", confidence="reported")
        dataset = dataclasses.replace(load_dataset(), sources={"cst": source})
        async with (
            httpx.AsyncClient(timeout=2.0, trust_env=False) as client,
            ProcessReader() as reader,
        ):
            watcher = build_watcher(
                load_settings(WATCHER_HOST_DELAY=0),
                dataset,
                store,
                client,
                reader,
                allowed=LOOPBACK_NETWORKS,
            )
            (outcome,) = await watcher.check(["cst"], NOW)
    assert outcome.result == "baseline", outcome.message
    async with store.sessions() as session:
        (snapshot,) = await session.scalars(select(SourceSnapshot))
    assert snapshot.content == "Dialogue on 6 May 2022"
