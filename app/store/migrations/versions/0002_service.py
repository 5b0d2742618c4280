"""The service's state: leases (one run of a sync at a time), per-sync state (paused, failing, slots),
and discarded dead letters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as table:
        table.add_column(sa.Column("discarded_at", UtcDateTime(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "sync_states",
        sa.Column("sync", sa.Text(), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("backoff_until", UtcDateTime(), nullable=True),
        sa.Column("announced", sa.Text(), nullable=True),
        sa.Column("last_slot", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_states")
    op.drop_table("leases")
    with op.batch_alter_table("dead_letters") as table:
        table.drop_column("discarded_at")
