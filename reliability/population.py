"""Who and what the suite runs the service with: a season of deadlines and subscribers.

Every bundled deadline lies in the past, and processes read the system clock. So the
suite moves the bundled season forward (an `UNTOC_DATA_DIR` that replaces the groups'
review starts and the events with copies whose dates are shifted by whole days), choosing
the shift that puts the dataset's busiest day of reminders right ahead of now. Subscribers
are inserted in bulk with a fixed-seed mix of filters, languages, time zones, lead times
and digests, in private chats and groups.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert

from bot.db.models import Subscriber, SubscriberFilter
from bot.db.store import Store
from bot.text.i18n import LANGUAGES
from config.dataset import THEMES, Dataset
from config.keys import calendar_token, new_nonce
from reliability.service import CALENDAR_SECRET
from schedulers.reminders import DEFAULT_LEAD_DAYS
from schedulers.timeline import compute_deadlines

PRIVATE_CHATS = 1_000_000_000  # chat ids of people: positive
GROUP_CHATS = -1_009_000_000_000  # supergroups: -100..., paced at 20 messages a minute
# (value, weight): where NGOs read their alerts, in which language, how early.
ZONES = (
    ("Europe/Vienna", 18),
    ("Europe/London", 6),
    ("Europe/Paris", 6),
    ("Africa/Lagos", 8),
    ("Africa/Nairobi", 6),
    ("America/New_York", 10),
    ("America/Mexico_City", 6),
    ("America/Bogota", 5),
    ("America/Sao_Paulo", 5),
    ("Asia/Kolkata", 7),
    ("Asia/Bangkok", 5),
    ("Asia/Manila", 4),
    ("Asia/Beirut", 4),
    ("Asia/Tokyo", 2),
    ("Australia/Sydney", 3),
    ("Pacific/Auckland", 1),
)
LANGUAGE_WEIGHTS = {"en": 50, "es": 15, "fr": 15, "ar": 7, "ru": 7, "zh": 6}
LEADS = (
    (DEFAULT_LEAD_DAYS, 55),
    ((7, 1, 0), 15),
    ((14, 1), 10),
    ((30, 7), 10),
    ((1, 0), 10),
)
MORNING = ((7, 10), (8, 20), (9, 50), (10, 20))
DIGESTS = (("off", 85), ("daily", 10), ("weekly", 5))
GROUP_SHARE = 0.1  # of subscribers that are groups, where 20 messages a minute is the limit


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


# The season


def reminder_days(
    dataset: Dataset, leads: Iterable[int] = DEFAULT_LEAD_DAYS
) -> collections.Counter[dt.date]:
    """How many deadlines are reminded on each day, at these lead times."""
    counts: collections.Counter[dt.date] = collections.Counter()
    for deadline in compute_deadlines(dataset, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)):
        due = deadline.local if isinstance(deadline.local, dt.datetime) else deadline.due
        day = due.date() if isinstance(due, dt.datetime) else due
        for lead in leads:
            counts[day - dt.timedelta(days=lead)] += 1
    return counts


def busiest_day(dataset: Dataset, at_most: int | None = None) -> dt.date:
    """The day the most deadlines are reminded on at the default lead times (of the days
    with at most `at_most` of them, when given)."""
    counts = reminder_days(dataset)
    days = [day for day, n in counts.items() if at_most is None or n <= at_most]
    return max(days, key=lambda day: (counts[day], day))


def _shifted(value: Any, days: dt.timedelta) -> Any:
    if isinstance(value, dt.datetime):
        return value + days
    if isinstance(value, dt.date):
        return value + days
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, Mapping):
        return {key: _shifted(item, days) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shifted(item, days) for item in value]
    return value


def _shifted_event(event: dict[str, Any], days: dt.timedelta) -> Any:
    """An event moved by `days`; one known only to the month stays on its month's 1st."""
    moved = _shifted(event, days)
    if moved.get("precision") == "month" and isinstance(moved.get("start"), dt.date):
        moved["start"] = moved["start"].replace(day=1)
    return moved


@dataclass(frozen=True)
class Season:
    """The bundled season moved forward: where its files are and by how much it moved."""

    directory: Path
    shift: dt.timedelta
    busiest: dt.date  # the busiest day, in the bundled dates


def write_season(
    dataset: Dataset,
    directory: Path,
    now: dt.datetime,
    *,
    at_most: int | None = None,
) -> Season:
    """Overrides that shift the season so its busiest day of reminders starts about now
    (the busiest with at most `at_most` deadlines reminded, when given)."""
    busiest = busiest_day(dataset, at_most)
    shift = (now + dt.timedelta(hours=6)).date() - busiest
    sections: dict[str, list[Any]] = {
        "groups": [
            _shifted(g.model_dump(exclude_none=True), shift) for g in dataset.groups.values()
        ],
        "events": [
            _shifted_event(e.model_dump(exclude_none=True), shift) for e in dataset.events.values()
        ],
        "review_starts": [
            _shifted(r.model_dump(exclude_none=True), shift) for r in dataset.review_starts.values()
        ],
        "milestone_dates": [
            _shifted(m.model_dump(exclude_none=True), shift)
            for m in dataset.milestone_dates.values()
        ],
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "season.yaml").write_text(
        "# The bundled season, moved forward for the reliability suite.\n"
        + yaml.safe_dump(
            {k: v for k, v in sections.items() if v}, sort_keys=False, allow_unicode=True
        )
    )
    return Season(directory, shift, busiest)


def write_overrides(directory: Path, sections: Mapping[str, list[dict[str, Any]]]) -> Path:
    """A dataset directory holding just these entries (it adds to the bundled files)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "overrides.yaml").write_text(
        yaml.safe_dump(dict(sections), sort_keys=False, allow_unicode=True)
    )
    return directory


# Subscribers


@dataclass(frozen=True)
class Population:
    """The subscribers one run inserted: chat addresses and calendar tokens by id."""

    addresses: dict[int, str]
    tokens: list[str]
    filters: int
    zones: int
    languages: int
    groups: int

    @property
    def ids(self) -> list[int]:
        return list(self.addresses)


def _filters(rng: random.Random, countries: Sequence[str]) -> list[tuple[str, str]]:
    roll = rng.random()
    if roll < 0.42:  # their own country
        return [("country", rng.choice(countries))]
    if roll < 0.57:  # a region
        return [("country", code) for code in rng.sample(countries, rng.randint(2, 3))]
    if roll < 0.67:  # a theme, every country
        return [("theme", theme) for theme in rng.sample(THEMES, rng.randint(1, 2))]
    if roll < 0.77:  # a country and a theme
        return [("country", rng.choice(countries)), ("theme", rng.choice(THEMES))]
    if roll < 0.92:  # dialogues and their registrations only
        return [("kind", "registration"), ("kind", "event")]
    return []  # everything


async def add_subscribers(
    store: Store,
    count: int,
    dataset: Dataset,
    now: dt.datetime,
    *,
    seed: int = 2022,
    first: int = 0,
    channel: str = "telegram",
    group_share: float = GROUP_SHARE,
) -> Population:
    """Insert `count` subscribers with a realistic mix, in a few statements."""
    rng = random.Random(seed)
    countries = sorted(dataset.states)
    languages = [(code, LANGUAGE_WEIGHTS.get(code, 1)) for code in LANGUAGES]
    rows: list[dict[str, Any]] = []
    chosen: list[list[tuple[str, str]]] = []
    for number in range(first, first + count):
        group = rng.random() < group_share
        address = GROUP_CHATS - number if group else PRIVATE_CHATS + number
        digest = _pick(rng, DIGESTS)
        quiet = rng.random() < 0.2
        rows.append(
            {
                "channel": channel,
                "address": str(address),
                "thread_id": "",
                "display_name": f"Reader {number}",
                "language": _pick(rng, languages),
                "timezone": _pick(rng, ZONES),
                "lead_days": list(_pick(rng, LEADS)),
                "morning_hour": _pick(rng, MORNING),
                "quiet_start": 22 if quiet else None,
                "quiet_end": 7 if quiet else None,
                "digest": digest,
                "digest_hour": _pick(rng, MORNING),
                "digest_weekday": rng.randrange(7),
                "calendar_nonce": new_nonce(),
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
        )
        chosen.append(_filters(rng, countries))
    async with store.sessions() as session, session.begin():
        result = await session.execute(
            insert(Subscriber).returning(Subscriber.id, sort_by_parameter_order=True), rows
        )
        ids = [row[0] for row in result]
        filters = [
            {"subscriber_id": sid, "dimension": dimension, "value": value}
            for sid, picked in zip(ids, chosen, strict=True)
            for dimension, value in sorted(set(picked))
        ]
        if filters:
            await session.execute(insert(SubscriberFilter), filters)
    return Population(
        addresses={sid: row["address"] for sid, row in zip(ids, rows, strict=True)},
        # the links the run's processes make and check (reliability/service.py)
        tokens=[calendar_token(CALENDAR_SECRET.encode(), row["calendar_nonce"]) for row in rows],
        filters=len(filters),
        zones=len({row["timezone"] for row in rows}),
        languages=len({row["language"] for row in rows}),
        groups=sum(1 for row in rows if row["address"].startswith("-")),
    )
