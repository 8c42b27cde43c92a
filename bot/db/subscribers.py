"""Subscribers and what they follow: the operations every channel's commands share.

Telegram chats, Slack channels and webhooks are all `Subscriber` rows with filters and a
personal calendar nonce (its token is made from it with the calendar key). A filter value
`!XX` on the `country` dimension mutes that country for a subscriber who otherwise
follows all of them. Functions take `now` and
never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import NO_THREAD, Acknowledgement, Subscriber, SubscriberFilter
from bot.text.i18n import LANGUAGES
from config.keys import legacy_hash, nonce_of
from schedulers.reminders import Preferences
from schedulers.timeline import Selection

DIMENSIONS = ("country", "cluster", "theme", "kind")
MUTED = "!"
MAX_LEAD_DAYS = 365
CALENDAR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class InvalidPreference(ValueError):
    """A preference value we cannot use; the message names the allowed values."""


async def find_subscriber(
    session: AsyncSession, channel: str, address: str, thread_id: str = NO_THREAD
) -> Subscriber | None:
    """The subscriber for a chat, topic or Slack channel, active or not."""
    return await session.scalar(
        select(Subscriber).where(
            Subscriber.channel == channel,
            Subscriber.address == address,
            Subscriber.thread_id == thread_id,
        )
    )


async def ensure_subscriber(
    session: AsyncSession,
    *,
    channel: str,
    address: str,
    now: dt.datetime,
    thread_id: str = NO_THREAD,
    display_name: str | None = None,
    language: str | None = None,
) -> Subscriber:
    """The subscriber for this place, created (or reactivated) if need be."""
    subscriber = await find_subscriber(session, channel, address, thread_id)
    if subscriber is None:
        subscriber = Subscriber(
            channel=channel,
            address=address,
            thread_id=thread_id,
            display_name=display_name,
            created_at=now,
            updated_at=now,
        )
        if language in LANGUAGES:
            subscriber.language = language
        subscriber.filters = []
        session.add(subscriber)
        await session.flush()
    elif not subscriber.active:
        subscriber.active = True
        subscriber.deactivated_reason = None
        subscriber.updated_at = now
    return subscriber


async def find_subscriber_by_token(
    session: AsyncSession, token: str, key: bytes
) -> Subscriber | None:
    """The active subscriber whose personal calendar token is `token`, with its filters.

    A token of ours carries its nonce and an HMAC of it under `key`; one made before
    nonces is found by its hash.
    """
    if not CALENDAR_TOKEN.match(token):
        return None  # not one of ours: no query, and nothing to learn from timing
    nonce = nonce_of(key, token)
    whose = (
        Subscriber.calendar_nonce == nonce
        if nonce is not None
        else Subscriber.calendar_legacy_hash == legacy_hash(token)
    )
    return await session.scalar(select(Subscriber).where(whose, Subscriber.active))


def selection_of(subscriber: Subscriber) -> Selection:
    """The subscriber's filters as a timeline `Selection`."""
    return _selection((item.dimension, item.value) for item in subscriber.filters)


def _selection(filters: Iterable[tuple[str, str]]) -> Selection:
    chosen: dict[str, set[str]] = {dimension: set() for dimension in DIMENSIONS}
    for dimension, value in filters:
        chosen.setdefault(dimension, set()).add(value)
    countries = {c for c in chosen["country"] if not c.startswith(MUTED)}
    return Selection(
        countries=countries,
        clusters={int(n) for n in chosen["cluster"] if n.isascii() and n.isdigit()},
        kinds=chosen["kind"],
        themes=chosen["theme"],
        muted_countries={c[1:] for c in chosen["country"] if c.startswith(MUTED)},
    )


async def follow(
    session: AsyncSession,
    subscriber: Subscriber,
    values: Mapping[str, Iterable[str]],
    now: dt.datetime,
) -> None:
    """Add filter values (already validated) per dimension; following a muted country unmutes it."""
    present: set[tuple[str, str]] = {(f.dimension, f.value) for f in subscriber.filters}
    for dimension, items in values.items():
        if dimension not in DIMENSIONS:
            raise InvalidPreference(f"unknown filter {dimension!r}; use {', '.join(DIMENSIONS)}")
        for value in items:
            if dimension == "country":
                await _drop(session, subscriber, "country", MUTED + value)
            if (dimension, value) not in present:
                subscriber.filters.append(SubscriberFilter(dimension=dimension, value=value))
                present.add((dimension, value))
    subscriber.updated_at = now


async def unfollow(
    session: AsyncSession,
    subscriber: Subscriber,
    values: Mapping[str, Iterable[str]] | None,
    now: dt.datetime,
) -> None:
    """Remove the given filter values, or every filter when `values` is None."""
    if values is None:
        await session.execute(
            delete(SubscriberFilter).where(SubscriberFilter.subscriber_id == subscriber.id)
        )
        await session.refresh(subscriber, ["filters"])
    else:
        for dimension, items in values.items():
            for value in items:
                await _drop(session, subscriber, dimension, value)
    subscriber.updated_at = now


async def _drop(session: AsyncSession, subscriber: Subscriber, dimension: str, value: str) -> None:
    for item in list(subscriber.filters):
        if item.dimension == dimension and item.value == value:
            subscriber.filters.remove(item)  # delete-orphan removes the row on flush
    await session.flush()


async def mute_country(
    session: AsyncSession, subscriber: Subscriber, code: str, now: dt.datetime
) -> None:
    """Stop alerts about one country: unfollow it, or mute it if all are followed."""
    follows = {f.value for f in subscriber.filters if f.dimension == "country"}
    if code in follows:
        await _drop(session, subscriber, "country", code)
        if not any(
            f.dimension == "country" and not f.value.startswith(MUTED) for f in subscriber.filters
        ):
            subscriber.filters.append(SubscriberFilter(dimension="country", value=MUTED + code))
    elif MUTED + code not in follows:
        subscriber.filters.append(SubscriberFilter(dimension="country", value=MUTED + code))
    subscriber.updated_at = now


async def set_preferences(
    session: AsyncSession,
    subscriber: Subscriber,
    now: dt.datetime,
    *,
    language: str | None = None,
    timezone: str | None = None,
    lead_days: Iterable[int] | None = None,
    morning_hour: int | None = None,
    quiet_hours: tuple[int, int] | bool | None = False,
    digest: str | None = None,
    digest_hour: int | None = None,
    digest_weekday: int | None = None,
) -> None:
    """Change preferences; raises `InvalidPreference` naming the allowed values."""
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidPreference(f"language {language!r}: use one of {', '.join(LANGUAGES)}")
        subscriber.language = language
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder
            raise InvalidPreference(
                f"time zone {timezone!r} is not an IANA zone; write e.g. Europe/Vienna"
            ) from None
        if "/" not in timezone and timezone != "UTC":
            raise InvalidPreference(f"time zone {timezone!r}: use a city zone such as Africa/Lagos")
        subscriber.timezone = timezone
    if lead_days is not None:
        days = sorted(set(lead_days), reverse=True)
        if not days or any(not 0 <= d <= MAX_LEAD_DAYS for d in days) or len(days) > 10:
            raise InvalidPreference(f"lead times: 1 to 10 whole days from 0 to {MAX_LEAD_DAYS}")
        subscriber.lead_days = days
    for name, hour in (("morning hour", morning_hour), ("digest hour", digest_hour)):
        if hour is not None and not 0 <= hour <= 23:
            raise InvalidPreference(f"{name} {hour}: use 0 to 23")
    if morning_hour is not None:
        subscriber.morning_hour = morning_hour
    if quiet_hours is not False:
        if quiet_hours is None or quiet_hours is True:
            subscriber.quiet_start = subscriber.quiet_end = None
        else:
            start, end = quiet_hours
            if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
                raise InvalidPreference("quiet hours: two different hours from 0 to 23, e.g. 22-7")
            subscriber.quiet_start, subscriber.quiet_end = start, end
    if digest is not None:
        if digest not in ("off", "daily", "weekly"):
            raise InvalidPreference(f"digest {digest!r}: use off, daily or weekly")
        subscriber.digest = digest  # type: ignore[assignment]
    if digest_hour is not None:
        subscriber.digest_hour = digest_hour
    if digest_weekday is not None:
        if not 0 <= digest_weekday <= 6:
            raise InvalidPreference("digest weekday: 0 (Monday) to 6 (Sunday)")
        subscriber.digest_weekday = digest_weekday
    subscriber.updated_at = now


async def forget(session: AsyncSession, subscriber: Subscriber) -> None:
    """Delete a subscriber with its filters and acknowledgements (`/stop`)."""
    await session.delete(subscriber)


async def deactivate(
    session: AsyncSession, subscriber_id: int, reason: str, now: dt.datetime
) -> None:
    """Stop sending to a target that is gone (bot blocked, channel archived)."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is not None and subscriber.active:
        subscriber.active = False
        subscriber.deactivated_reason = reason[:500]
        subscriber.updated_at = now


async def move_address(
    session: AsyncSession, subscriber_id: int, new_address: str, now: dt.datetime
) -> None:
    """Follow a target to its new address (a Telegram group migrated to a supergroup)."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        subscriber.address = new_address
        subscriber.updated_at = now


async def acknowledge(
    session: AsyncSession, subscriber_id: int, deadline_id: str, now: dt.datetime
) -> bool:
    """Record "done / registered"; False if it was already recorded."""
    if await session.get(Acknowledgement, (subscriber_id, deadline_id)) is not None:
        return False
    session.add(
        Acknowledgement(subscriber_id=subscriber_id, deadline_id=deadline_id, created_at=now)
    )
    return True


async def acknowledged(session: AsyncSession, subscriber_id: int) -> set[str]:
    """The deadlines a subscriber marked done."""
    rows = await session.scalars(
        select(Acknowledgement.deadline_id).where(Acknowledgement.subscriber_id == subscriber_id)
    )
    return set(rows)


async def acknowledged_by(
    session: AsyncSession, subscriber_ids: Iterable[int]
) -> dict[int, set[str]]:
    """The deadlines each of several subscribers marked done, in one query."""
    ids = list(subscriber_ids)
    done: dict[int, set[str]] = {sid: set() for sid in ids}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(Acknowledgement.subscriber_id, Acknowledgement.deadline_id).where(
                Acknowledgement.subscriber_id.in_(ids[start : start + 500])
            )
        )
        for subscriber_id, deadline_id in rows:
            done[subscriber_id].add(deadline_id)
    return done


async def active_subscribers(session: AsyncSession, channel: str | None = None) -> list[Subscriber]:
    """Every active subscriber (of one channel, if given), with filters loaded."""
    query = select(Subscriber).where(Subscriber.active).order_by(Subscriber.id)
    if channel is not None:
        query = query.where(Subscriber.channel == channel)
    return list(await session.scalars(query))


async def planning_preferences(session: AsyncSession) -> list[Preferences]:
    """Every active subscriber as the reminder planner sees it, read in three plain queries.

    The planner runs every minute; reading rows as tuples instead of loading each
    subscriber with its filters keeps that cheap with tens of thousands of subscribers.
    Subscribers with the same filters share one `Selection`.
    """
    connection = await session.connection()  # plain rows: no ORM bookkeeping per row
    active = select(Subscriber.id).where(Subscriber.active).scalar_subquery()
    filters: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for subscriber_id, dimension, value in await connection.execute(
        select(SubscriberFilter.subscriber_id, SubscriberFilter.dimension, SubscriberFilter.value)
        .where(SubscriberFilter.subscriber_id.in_(active))
        .order_by(
            SubscriberFilter.subscriber_id, SubscriberFilter.dimension, SubscriberFilter.value
        )
    ):
        filters[subscriber_id].append((dimension, value))
    done: dict[int, set[str]] = defaultdict(set)
    for subscriber_id, deadline_id in await connection.execute(
        select(Acknowledgement.subscriber_id, Acknowledgement.deadline_id).where(
            Acknowledgement.subscriber_id.in_(active)
        )
    ):
        done[subscriber_id].add(deadline_id)
    selections: dict[tuple[tuple[str, str], ...], Selection] = {}
    preferences = []
    rows = await connection.execute(
        select(
            Subscriber.id,
            Subscriber.timezone,
            Subscriber.lead_days,
            Subscriber.morning_hour,
            Subscriber.quiet_start,
            Subscriber.quiet_end,
            Subscriber.digest,
            Subscriber.digest_hour,
            Subscriber.digest_weekday,
        )
        .where(Subscriber.active)
        .order_by(Subscriber.id)
    )
    for sid, zone, leads, morning, quiet_start, quiet_end, digest, hour, weekday in rows:
        chosen = tuple(filters.get(sid, ()))
        selection = selections.get(chosen)
        if selection is None:
            selection = selections[chosen] = _selection(chosen)
        preferences.append(
            Preferences(
                subscriber_id=sid,
                selection=selection,
                timezone=zone,
                lead_days=tuple(leads),
                morning_hour=morning,
                quiet=(quiet_start, quiet_end)
                if quiet_start is not None and quiet_end is not None
                else None,
                digest=digest,
                digest_hour=hour,
                digest_weekday=weekday,
                acknowledged=frozenset(done.get(sid, ())),
            )
        )
    return preferences


async def subscribers_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Subscriber]:
    """The subscribers with these ids (the ones still there), by id."""
    found = await session.scalars(select(Subscriber).where(Subscriber.id.in_(ids)))
    return {s.id: s for s in found}


async def subscribers_at(session: AsyncSession, channel: str, address: str) -> list[int]:
    """Every subscriber of one address on a channel: a chat itself and its forum topics."""
    rows = await session.scalars(
        select(Subscriber.id).where(Subscriber.channel == channel, Subscriber.address == address)
    )
    return list(rows)


async def others_named(
    session: AsyncSession, channel: str, display_name: str, keep: int
) -> list[Subscriber]:
    """The active subscribers of a channel with this name, but `keep`."""
    found = await session.scalars(
        select(Subscriber).where(
            Subscriber.channel == channel,
            Subscriber.display_name == display_name,
            Subscriber.active,
            Subscriber.id != keep,
        )
    )
    return list(found)


async def subscriber_counts(session: AsyncSession) -> dict[tuple[str, bool], int]:
    """How many subscribers each channel has, active and not."""
    rows = await session.execute(
        select(Subscriber.channel, Subscriber.active, func.count()).group_by(
            Subscriber.channel, Subscriber.active
        )
    )
    return {(channel, bool(active)): count for channel, active, count in rows}


async def everyone(session: AsyncSession) -> tuple[list[Subscriber], dict[int, list[str]]]:
    """Every subscriber in id order, and the deadlines each marked done (for an export)."""
    people = list(await session.scalars(select(Subscriber).order_by(Subscriber.id)))
    done: dict[int, list[str]] = {}
    for ack in await session.scalars(select(Acknowledgement)):
        done.setdefault(ack.subscriber_id, []).append(ack.deadline_id)
    return people, done
