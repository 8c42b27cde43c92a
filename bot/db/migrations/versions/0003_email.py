"""Email sign-ups: the counts that limit them, and the key that signs their links.

Revision ID: 0003_email
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_email"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `email_signups` and `service_keys`."""
    op.create_table(
        "email_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_signups")),
    )
    op.create_index(
        op.f("ix_email_signups_address_hash_created_at"),
        "email_signups",
        ["address_hash", "created_at"],
    )
    op.create_index(
        op.f("ix_email_signups_client_hash_created_at"),
        "email_signups",
        ["client_hash", "created_at"],
    )
    op.create_table(
        "service_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_keys")),
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_table("service_keys")
    op.drop_index(op.f("ix_email_signups_client_hash_created_at"), table_name="email_signups")
    op.drop_index(op.f("ix_email_signups_address_hash_created_at"), table_name="email_signups")
    op.drop_table("email_signups")
