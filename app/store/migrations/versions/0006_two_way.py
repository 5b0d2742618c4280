"""Two-way syncs: per pair the values last synchronised on each side, directions in the record log and
dead letters, conflicts and per-direction counts in runs.

The ID map keeps one row per pair (a's key as the source key, b's as the target key); ``base`` holds,
as typed JSON, the values Brygga last synchronised on each side, the base of each field's three-way
comparison. Pairs are also found by b's key, hence the index on (sync, target_key).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("id_map") as table:
        table.add_column(sa.Column("base", sa.Text(), nullable=True))
    op.create_index("ix_id_map_sync_target", "id_map", ["sync", "target_key"])
    with op.batch_alter_table("record_log") as table:
        table.add_column(sa.Column("direction", sa.Text(), nullable=True))
        table.add_column(sa.Column("detail", sa.Text(), nullable=True))
    with op.batch_alter_table("dead_letters") as table:
        table.add_column(sa.Column("direction", sa.Text(), nullable=True))
    with op.batch_alter_table("runs") as table:
        table.add_column(sa.Column("conflicts", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("by_direction", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as table:
        table.drop_column("by_direction")
        table.drop_column("conflicts")
    with op.batch_alter_table("dead_letters") as table:
        table.drop_column("direction")
    with op.batch_alter_table("record_log") as table:
        table.drop_column("detail")
        table.drop_column("direction")
    op.drop_index("ix_id_map_sync_target", table_name="id_map")
    with op.batch_alter_table("id_map") as table:
        table.drop_column("base")
