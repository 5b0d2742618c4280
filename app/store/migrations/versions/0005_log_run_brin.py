"""The record log's run index as a BRIN index on PostgreSQL: next to nothing to keep up per row.

Runs' ids grow with time and a run's log rows are appended together, so a
block-range index finds a run's rows (and, for purging, the rows of every run
before one) as well as a B-tree does, at a fraction of its cost on each of
the thousands of rows a batch logs. SQLite has no such index and keeps its
B-tree.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.drop_index("ix_record_log_run_id", table_name="record_log")
    op.create_index("ix_record_log_run_id", "record_log", ["run_id"], postgresql_using="brin")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.drop_index("ix_record_log_run_id", table_name="record_log")
    op.create_index("ix_record_log_run_id", "record_log", ["run_id"])
