"""Reports from subscribers, their evidence, blocked reporters and the service's questions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003_email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('event', 'registration', 'change')"
NEW_KINDS = "kind IN ('event', 'registration', 'change', 'milestone')"
ORIGINS = "origin IN ('watcher', 'telegram', 'slack', 'web', 'question')"


def _instant(name: str, *, nullable: bool = True) -> sa.Column[dt.datetime]:
    """A timezone-aware timestamp column (the models store UTC in it)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Reports join the proposals; recorded dates keep their confidence and evidence."""
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=16), server_default="watcher", nullable=False)
        )
        batch.add_column(sa.Column("reporter", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reporter_subscriber_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("snapshot_id", sa.Integer(), nullable=True))
        batch.drop_constraint(op.f("ck_proposals_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_proposals_kind"), NEW_KINDS)
        batch.create_check_constraint(op.f("ck_proposals_origin"), ORIGINS)
        batch.create_index(op.f("ix_proposals_reporter_created_at"), ["reporter", "created_at"])
    with op.batch_alter_table("milestone_dates") as batch:
        batch.add_column(
            sa.Column(
                "confidence", sa.String(length=16), server_default="confirmed", nullable=False
            )
        )
        batch.add_column(sa.Column("proposal_id", sa.Integer(), nullable=True))
    op.create_table(
        "blocked_reporters",
        sa.Column("reporter", sa.String(length=200), nullable=False),
        _instant("blocked_at", nullable=False),
        sa.Column("blocked_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("reporter", name=op.f("pk_blocked_reporters")),
    )
    op.create_table(
        "report_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("deadline_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="open", nullable=False),
        _instant("asked_at", nullable=False),
        _instant("answered_at"),
        sa.CheckConstraint(
            "state IN ('open', 'happened', 'not_yet', 'dismissed')",
            name=op.f("ck_report_questions_state"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_report_questions_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_questions")),
        sa.UniqueConstraint(
            "subscriber_id",
            "deadline_id",
            name=op.f("uq_report_questions_subscriber_id_deadline_id"),
        ),
    )


def downgrade() -> None:
    """Drop what `upgrade` added (reports of review steps go with their kind)."""
    op.drop_table("report_questions")
    op.drop_table("blocked_reporters")
    with op.batch_alter_table("milestone_dates") as batch:
        batch.drop_column("proposal_id")
        batch.drop_column("confidence")
    op.execute("DELETE FROM proposals WHERE kind = 'milestone'")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_index(op.f("ix_proposals_reporter_created_at"))
        batch.drop_constraint(op.f("ck_proposals_origin"), type_="check")
        batch.drop_constraint(op.f("ck_proposals_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_proposals_kind"), OLD_KINDS)
        batch.drop_column("snapshot_id")
        batch.drop_column("language")
        batch.drop_column("reporter_subscriber_id")
        batch.drop_column("reporter")
        batch.drop_column("origin")
