"""The database tables: what operators record, who is subscribed, and what was sent.

The same models run on the embedded SQLite file and on PostgreSQL, so every choice here
is one both accept: constraints are named by one convention (migrations can refer to them
on either database), instants are stored in UTC and always come back timezone-aware, and
whole-day milestones stay `Date`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

from config.keys import new_nonce
from config.vocabulary import ZONE

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A subscriber without a forum topic or thread. Stored as '' rather than NULL because SQL
# treats NULLs as distinct, so a unique (channel, address, thread_id) would let the same
# chat subscribe twice; '' makes one plain unique constraint hold on SQLite and PostgreSQL
# alike, and lets an upsert name that constraint as its conflict target.
NO_THREAD = ""

DEFAULT_LEAD_DAYS = (30, 14, 7, 1, 0)
DEFAULT_LANGUAGE = "en"
DEFAULT_TIMEZONE = ZONE
DEFAULT_MORNING_HOUR = 9

Digest = Literal["off", "daily", "weekly"]
FilterDimension = Literal["country", "cluster", "theme", "kind"]
DeliveryState = Literal["pending", "sending", "sent", "failed", "dead"]
ProposalKind = Literal["event", "registration", "change", "milestone"]
# Where a proposal came from: the watcher's reading of a page, or a subscriber's report.
ProposalOrigin = Literal["watcher", "telegram", "slack", "web", "question"]
QuestionState = Literal["open", "happened", "not_yet", "dismissed"]
ProposalState = Literal["pending", "approved", "rejected"]
Confidence = Literal["confirmed", "reported", "projected"]
SourceHealth = Literal["ok", "failing", "selector_missing"]


def _one_of(column: str, choices: Any) -> str:
    """A CHECK expression limiting `column` to the values of a `Literal` type."""
    values = ", ".join(f"'{value}'" for value in get_args(choices))
    return f"{column} IN ({values})"


def _hour(column: str, *, nullable: bool = False) -> str:
    check = f"{column} BETWEEN 0 AND 23"
    return f"{column} IS NULL OR {check}" if nullable else check


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An instant: stored in UTC, returned timezone-aware (UTC) on every database.

    SQLite has no timezone type and hands back naive values; PostgreSQL's `timestamptz`
    answers in the session's zone. Naive input is refused, since its instant is unknown.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a timezone")
        instant = value.astimezone(dt.UTC)
        # SQLite would store the offset as text and compare strings; UTC wall time sorts right.
        return instant.replace(tzinfo=None) if dialect.name == "sqlite" else instant

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """The declarative base whose metadata the migrations compare against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, TypeEngine[Any]]] = {
        dt.datetime: UTCDateTime(),
        dt.date: Date(),
    }


class MilestoneDateRecord(Base):
    """An actual date an operator recorded for a step of one State's review.

    Recording the same step again replaces the date: the latest word is the fact.
    """

    __tablename__ = "milestone_dates"
    __table_args__ = (
        UniqueConstraint("country", "cluster", "milestone"),
        CheckConstraint("length(country) = 2", name="country_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    cluster: Mapped[int]
    milestone: Mapped[str] = mapped_column(String(80))
    date: Mapped[dt.date]
    source: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime]
    # `confirmed` when an operator recorded it, `reported` when it came from a report.
    confidence: Mapped[Confidence] = mapped_column(
        String(16), default="confirmed", server_default="confirmed"
    )
    # The approved report this date came from, whose evidence the /evidence page shows.
    proposal_id: Mapped[int | None]


class Subscriber(Base):
    """A place alerts go to: a Telegram chat or topic, a Slack channel, a webhook."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("channel", "address", "thread_id"),
        CheckConstraint(_one_of("digest", Digest), name="digest"),
        CheckConstraint(_hour("morning_hour"), name="morning_hour"),
        CheckConstraint(_hour("digest_hour"), name="digest_hour"),
        CheckConstraint(_hour("quiet_start", nullable=True), name="quiet_start"),
        CheckConstraint(_hour("quiet_end", nullable=True), name="quiet_end"),
        CheckConstraint("digest_weekday BETWEEN 0 AND 6", name="digest_weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(2048))
    thread_id: Mapped[str] = mapped_column(String(64), default=NO_THREAD, server_default=NO_THREAD)
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(
        String(16), default=DEFAULT_LANGUAGE, server_default=DEFAULT_LANGUAGE
    )
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE
    )
    lead_days: Mapped[list[int]] = mapped_column(
        JSON,
        default=lambda: list(DEFAULT_LEAD_DAYS),
        server_default=text(f"'{list(DEFAULT_LEAD_DAYS)}'"),
    )
    morning_hour: Mapped[int] = mapped_column(
        default=DEFAULT_MORNING_HOUR, server_default=text(str(DEFAULT_MORNING_HOUR))
    )
    quiet_start: Mapped[int | None]
    quiet_end: Mapped[int | None]
    digest: Mapped[Digest] = mapped_column(String(16), default="off", server_default="off")
    digest_hour: Mapped[int] = mapped_column(
        default=DEFAULT_MORNING_HOUR, server_default=text(str(DEFAULT_MORNING_HOUR))
    )
    # 0 is Monday, as date.weekday() counts.
    digest_weekday: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The personal calendar's nonce: its token is this and an HMAC of it under the
    # calendar key, which the database never holds (config/keys.py).
    calendar_nonce: Mapped[str] = mapped_column(String(32), unique=True, default=new_nonce)
    # The SHA-256 of a token made before nonces, honoured so that its link keeps working.
    calendar_legacy_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    deactivated_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    filters: Mapped[list[SubscriberFilter]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class SubscriberFilter(Base):
    """One thing a subscriber cares about; no filter on a dimension means all of it."""

    __tablename__ = "subscriber_filters"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "dimension", "value"),
        CheckConstraint(_one_of("dimension", FilterDimension), name="dimension"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    dimension: Mapped[FilterDimension] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(80))

    subscriber: Mapped[Subscriber] = relationship(back_populates="filters")


class Acknowledgement(Base):
    """A subscriber said "done" or "registered" for a deadline: stop reminding them."""

    __tablename__ = "acknowledgements"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    deadline_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime]


class Delivery(Base):
    """One message in the outbox; its `key` makes planning the same alert twice harmless.

    The key names the target, the deadline or change, the kind and the lead time, so a
    restart, a second worker or a re-run of the planner finds the row already there.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(None, "state", "next_attempt_at"),
        CheckConstraint(_one_of("state", DeliveryState), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    deadline_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[dt.datetime]
    state: Mapped[DeliveryState] = mapped_column(
        String(16), default="pending", server_default="pending"
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class SourceSnapshot(Base):
    """What a watched page returned at one fetch; hashes let the watcher spot changes."""

    __tablename__ = "source_snapshots"
    __table_args__ = (Index(None, "source_id", "fetched_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(80))
    fetched_at: Mapped[dt.datetime]
    status_code: Mapped[int]
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # None when the fetch brought no body (not modified, or an error).
    content_hash: Mapped[str | None] = mapped_column(String(128))
    content: Mapped[str | None] = mapped_column(Text)


class SourceChange(Base):
    """A watched page's normalised content changed between two snapshots."""

    __tablename__ = "source_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(80))
    detected_at: Mapped[dt.datetime]
    url: Mapped[str] = mapped_column(String(2048))
    summary: Mapped[str] = mapped_column(Text)
    old_hash: Mapped[str | None] = mapped_column(String(128))
    new_hash: Mapped[str] = mapped_column(String(128))


class Proposal(Base):
    """A fact read on a page or reported by a subscriber, waiting for an operator's decision.

    For a report, `excerpt` holds the reporter's words and `url` their link; `reporter` is
    their channel identity (shown masked, never on a public page).
    """

    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ProposalKind), name="kind"),
        CheckConstraint(_one_of("origin", ProposalOrigin), name="origin"),
        Index(None, "reporter", "created_at"),
        CheckConstraint(_one_of("state", ProposalState), name="state"),
        CheckConstraint(_one_of("confidence", Confidence), name="confidence"),
        CheckConstraint("certainty IS NULL OR certainty BETWEEN 0 AND 100", name="certainty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[ProposalKind] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    excerpt: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048))
    confidence: Mapped[Confidence] = mapped_column(String(16))
    state: Mapped[ProposalState] = mapped_column(
        String(16), default="pending", server_default="pending"
    )
    # The known event this proposal would change, if it is not a new one.
    target_id: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    # The same finding read again has the same key, so it is proposed once, whatever its fate.
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    summary: Mapped[str | None] = mapped_column(Text)
    # How sure the extraction was, in percent (the `confidence` word stays `reported`).
    certainty: Mapped[int | None]
    origin: Mapped[ProposalOrigin] = mapped_column(
        String(16), default="watcher", server_default="watcher"
    )
    reporter: Mapped[str | None] = mapped_column(String(200))
    # Where the reporter is told the decision (a chat or channel), if they can be.
    reporter_subscriber_id: Mapped[int | None]
    language: Mapped[str | None] = mapped_column(String(16))
    # The stored version of the page the watcher read the date from.
    snapshot_id: Mapped[int | None]


class BlockedReporter(Base):
    """A reporter an operator blocked: their reports are refused from then on."""

    __tablename__ = "blocked_reporters"

    reporter: Mapped[str] = mapped_column(String(200), primary_key=True)
    blocked_at: Mapped[dt.datetime]
    blocked_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class ReportQuestion(Base):
    """A question the service asked a subscriber about a step that passed unrecorded.

    Asked once per subscriber and step (the unique key); answered or dismissed, it stays,
    so the same question is never asked again.
    """

    __tablename__ = "report_questions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "deadline_id"),
        CheckConstraint(_one_of("state", QuestionState), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    country: Mapped[str] = mapped_column(String(2))
    deadline_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[QuestionState] = mapped_column(String(16), default="open", server_default="open")
    asked_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]


class DeadlineVersion(Base):
    """The last date fingerprint seen for a deadline, so iCal SEQUENCE rises when it moves."""

    __tablename__ = "deadline_versions"

    deadline_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    sequence: Mapped[int]
    modified_at: Mapped[dt.datetime]


class SourceStateRecord(Base):
    """What the watcher remembers about one watched source between polls.

    Validators for conditional requests, the hash of the normalised content and the few
    before it (to recognise flapping), the failure streak with its backoff, and whether
    the operator was told about the current failure or missing selector.
    """

    __tablename__ = "source_states"
    __table_args__ = (CheckConstraint(_one_of("health", SourceHealth), name="health"),)

    source_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str | None] = mapped_column(String(128))
    recent_hashes: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    config_hash: Mapped[str | None] = mapped_column(String(64))
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    failing_since: Mapped[dt.datetime | None]
    failure_notified: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    selector_missing_since: Mapped[dt.datetime | None]
    selector_notified: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    backoff_until: Mapped[dt.datetime | None]
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    last_polled_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_changed_at: Mapped[dt.datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    health: Mapped[SourceHealth] = mapped_column(String(20), default="ok", server_default="ok")


class EmailSignup(Base):
    """One sign-up by email on the web, kept only to count sign-ups against their limits.

    The address and the client are stored as keyed hashes, never in clear: a sign-up
    that was never confirmed leaves nothing a reader could use.
    """

    __tablename__ = "email_signups"
    __table_args__ = (
        Index(None, "address_hash", "created_at"),
        Index(None, "client_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class ServiceKey(Base):
    """A secret the service made for itself (used when the environment names none)."""

    __tablename__ = "service_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
