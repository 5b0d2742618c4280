"""Keys compared byte by byte on PostgreSQL, and no index on the record log's time.

The ID map, the record log and the dead letters take thousands of source keys
per batch; under a language collation each comparison in their key indexes
costs several times what a byte comparison does. Purging old log entries goes
by run id (indexed already) instead of by time, so that index only cost
every insert.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_KEYED = ("id_map", "record_log", "dead_letters")  # each keyed by (sync, source_key)


def upgrade() -> None:
    op.drop_index("ix_record_log_at", table_name="record_log")
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite compares text byte by byte already
    for table in _KEYED:
        for column in ("sync", "source_key"):
            op.alter_column(
                table, column, type_=sa.Text(collation="C"), existing_type=sa.Text(), existing_nullable=False
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in _KEYED:
            for column in ("sync", "source_key"):
                op.alter_column(
                    table, column, type_=sa.Text(), existing_type=sa.Text(collation="C"), existing_nullable=False
                )
    op.create_index("ix_record_log_at", "record_log", ["at"])
