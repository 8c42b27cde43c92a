"""The watcher's memory: per-source state, and proposals made once per finding.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = True) -> sa.Column[dt.datetime]:
    """A timezone-aware timestamp column (the models store UTC in it)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Add `source_states`, and a key, a summary and a certainty to `proposals`."""
    op.create_table(
        "source_states",
        sa.Column("source_id", sa.String(length=80), nullable=False),
        sa.Column("etag", sa.String(length=400), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=True),
        sa.Column("recent_hashes", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
        _instant("failing_since"),
        sa.Column(
            "failure_notified", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        _instant("selector_missing_since"),
        sa.Column(
            "selector_notified", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        _instant("backoff_until"),
        _instant("next_poll_at"),
        _instant("last_polled_at"),
        _instant("last_success_at"),
        _instant("last_changed_at"),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("health", sa.String(length=20), server_default="ok", nullable=False),
        sa.CheckConstraint(
            "health IN ('ok', 'failing', 'selector_missing')",
            name=op.f("ck_source_states_health"),
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_states")),
    )
    op.create_index(op.f("ix_source_states_next_poll_at"), "source_states", ["next_poll_at"])
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch.add_column(sa.Column("certainty", sa.Integer(), nullable=True))
        batch.create_unique_constraint(op.f("uq_proposals_key"), ["key"])
        batch.create_check_constraint(
            op.f("ck_proposals_certainty"), "certainty IS NULL OR certainty BETWEEN 0 AND 100"
        )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("proposals") as batch:
        batch.drop_constraint(op.f("ck_proposals_certainty"), type_="check")
        batch.drop_constraint(op.f("uq_proposals_key"), type_="unique")
        batch.drop_column("certainty")
        batch.drop_column("summary")
        batch.drop_column("key")
    op.drop_index(op.f("ix_source_states_next_poll_at"), table_name="source_states")
    op.drop_table("source_states")
