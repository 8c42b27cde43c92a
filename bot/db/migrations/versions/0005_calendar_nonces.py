"""Personal calendar tokens leave the database: a nonce per subscriber, old tokens hashed.

A token is now the subscriber's nonce and an HMAC of it under the calendar key, which
lives outside the database (`CALENDAR_SECRET` or `CALENDAR_KEY_FILE`). Every token made
before keeps working: it is stored as its SHA-256, and the web finds it by that hash.

Downgrading cannot give the old tokens back (only their hashes are left): each subscriber
gets a new random token, and the links shown so far stop working.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_subscribers = sa.table(
    "subscribers",
    sa.column("id", sa.Integer()),
    sa.column("calendar_token", sa.String()),
    sa.column("calendar_nonce", sa.String()),
    sa.column("calendar_legacy_hash", sa.String()),
)


def upgrade() -> None:
    """Each subscriber gets a nonce; its old token is kept only as a hash."""
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("calendar_nonce", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("calendar_legacy_hash", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_subscribers.c.id, _subscribers.c.calendar_token))
    for subscriber_id, token in rows.fetchall():
        connection.execute(
            _subscribers.update()
            .where(_subscribers.c.id == subscriber_id)
            .values(
                calendar_nonce=secrets.token_urlsafe(16),
                calendar_legacy_hash=hashlib.sha256(token.encode("utf-8")).hexdigest(),
            )
        )
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("calendar_nonce", existing_type=sa.String(length=32), nullable=False)
        batch.drop_constraint(op.f("uq_subscribers_calendar_token"), type_="unique")
        batch.drop_column("calendar_token")
        batch.create_unique_constraint(op.f("uq_subscribers_calendar_nonce"), ["calendar_nonce"])
        batch.create_unique_constraint(
            op.f("uq_subscribers_calendar_legacy_hash"), ["calendar_legacy_hash"]
        )


def downgrade() -> None:
    """New random tokens: the old ones cannot be rebuilt from their hashes."""
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("calendar_token", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_subscribers.c.id))
    for (subscriber_id,) in rows.fetchall():
        connection.execute(
            _subscribers.update()
            .where(_subscribers.c.id == subscriber_id)
            .values(calendar_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("calendar_token", existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint(op.f("uq_subscribers_calendar_legacy_hash"), type_="unique")
        batch.drop_constraint(op.f("uq_subscribers_calendar_nonce"), type_="unique")
        batch.drop_column("calendar_legacy_hash")
        batch.drop_column("calendar_nonce")
        batch.create_unique_constraint(op.f("uq_subscribers_calendar_token"), ["calendar_token"])
