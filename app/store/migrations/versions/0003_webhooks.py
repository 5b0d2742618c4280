"""The webhook inbox: every accepted delivery, and where each sync is with it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.store.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.Text(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("system", "delivery_id", name="uq_webhook_events_delivery"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_events_system_id", "webhook_events", ["system", "id"])
    op.create_table(
        "webhook_progress",
        sa.Column("event_id", sa.Integer(), primary_key=True),
        sa.Column("sync", sa.Text(), primary_key=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_progress_sync_status", "webhook_progress", ["sync", "status", "event_id"])


def downgrade() -> None:
    op.drop_table("webhook_progress")
    op.drop_table("webhook_events")
