"""The initial schema: recorded dates, subscribers, the outbox, the watcher's findings.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = False) -> sa.Column[dt.datetime]:
    """A timezone-aware timestamp column (the models store UTC in it)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table of the first release."""
    op.create_table(
        "milestone_dates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("cluster", sa.Integer(), nullable=False),
        sa.Column("milestone", sa.String(length=80), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        _instant("recorded_at"),
        sa.CheckConstraint("length(country) = 2", name=op.f("ck_milestone_dates_country_code")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone_dates")),
        sa.UniqueConstraint(
            "country",
            "cluster",
            "milestone",
            name=op.f("uq_milestone_dates_country_cluster_milestone"),
        ),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=2048), nullable=False),
        sa.Column("thread_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), server_default="en", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Vienna", nullable=False),
        sa.Column(
            "lead_days", sa.JSON(), server_default=sa.text("'[30, 14, 7, 1, 0]'"), nullable=False
        ),
        sa.Column("morning_hour", sa.Integer(), server_default=sa.text("9"), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=16), server_default="off", nullable=False),
        sa.Column("digest_hour", sa.Integer(), server_default=sa.text("9"), nullable=False),
        sa.Column("digest_weekday", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("calendar_token", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deactivated_reason", sa.Text(), nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.CheckConstraint(
            "digest IN ('off', 'daily', 'weekly')", name=op.f("ck_subscribers_digest")
        ),
        sa.CheckConstraint(
            "morning_hour BETWEEN 0 AND 23", name=op.f("ck_subscribers_morning_hour")
        ),
        sa.CheckConstraint("digest_hour BETWEEN 0 AND 23", name=op.f("ck_subscribers_digest_hour")),
        sa.CheckConstraint(
            "quiet_start IS NULL OR quiet_start BETWEEN 0 AND 23",
            name=op.f("ck_subscribers_quiet_start"),
        ),
        sa.CheckConstraint(
            "quiet_end IS NULL OR quiet_end BETWEEN 0 AND 23",
            name=op.f("ck_subscribers_quiet_end"),
        ),
        sa.CheckConstraint(
            "digest_weekday BETWEEN 0 AND 6", name=op.f("ck_subscribers_digest_weekday")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("calendar_token", name=op.f("uq_subscribers_calendar_token")),
        sa.UniqueConstraint(
            "channel",
            "address",
            "thread_id",
            name=op.f("uq_subscribers_channel_address_thread_id"),
        ),
    )
    op.create_table(
        "subscriber_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        sa.CheckConstraint(
            "dimension IN ('country', 'cluster', 'theme', 'kind')",
            name=op.f("ck_subscriber_filters_dimension"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_filters_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_filters")),
        sa.UniqueConstraint(
            "subscriber_id",
            "dimension",
            "value",
            name=op.f("uq_subscriber_filters_subscriber_id_dimension_value"),
        ),
    )
    op.create_table(
        "acknowledgements",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.String(length=200), nullable=False),
        _instant("created_at"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_acknowledgements_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "deadline_id", name=op.f("pk_acknowledgements")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("deadline_id", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _instant("due_at"),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _instant("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _instant("sent_at", nullable=True),
        _instant("created_at"),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'dead')",
            name=op.f("ck_deliveries_state"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_deliveries_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_deliveries_key")),
    )
    op.create_index(
        op.f("ix_deliveries_state_next_attempt_at"), "deliveries", ["state", "next_attempt_at"]
    )
    op.create_index(op.f("ix_deliveries_subscriber_id"), "deliveries", ["subscriber_id"])
    op.create_table(
        "source_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=80), nullable=False),
        _instant("fetched_at"),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=400), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_snapshots")),
    )
    op.create_index(
        op.f("ix_source_snapshots_source_id_fetched_at"),
        "source_snapshots",
        ["source_id", "fetched_at"],
    )
    op.create_table(
        "source_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=80), nullable=False),
        _instant("detected_at"),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("old_hash", sa.String(length=128), nullable=True),
        sa.Column("new_hash", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_changes")),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=80), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("confidence", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("target_id", sa.String(length=80), nullable=True),
        _instant("created_at"),
        _instant("decided_at", nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "kind IN ('event', 'registration', 'change')", name=op.f("ck_proposals_kind")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected')", name=op.f("ck_proposals_state")
        ),
        sa.CheckConstraint(
            "confidence IN ('confirmed', 'reported', 'projected')",
            name=op.f("ck_proposals_confidence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_table(
        "deadline_versions",
        sa.Column("deadline_id", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _instant("modified_at"),
        sa.PrimaryKeyConstraint("deadline_id", name=op.f("pk_deadline_versions")),
    )


def downgrade() -> None:
    """Drop every table of the first release, children before their parents."""
    op.drop_table("deadline_versions")
    op.drop_table("proposals")
    op.drop_table("source_changes")
    op.drop_index(op.f("ix_source_snapshots_source_id_fetched_at"), table_name="source_snapshots")
    op.drop_table("source_snapshots")
    op.drop_index(op.f("ix_deliveries_subscriber_id"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_state_next_attempt_at"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("acknowledgements")
    op.drop_table("subscriber_filters")
    op.drop_table("subscribers")
    op.drop_table("milestone_dates")
