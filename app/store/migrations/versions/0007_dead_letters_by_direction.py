"""Dead letters are unique per direction: a two-way pair failing both ways whose a key reads as its b key
keeps two letters (``to_a`` and ``to_b``), not one that the second failure overwrites.

``direction`` becomes part of the unique key, so it may not be null: a one-way sync's letters hold
``''`` (read back as no direction).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


_KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}
"""SQLite's copy of the table would drop AUTOINCREMENT (reflection does not see it): a discarded letter's id
must never name another record, as the model says."""


def upgrade() -> None:
    op.execute("UPDATE dead_letters SET direction = '' WHERE direction IS NULL")
    with op.batch_alter_table("dead_letters", table_kwargs=_KEEP_AUTOINCREMENT) as table:
        table.alter_column("direction", existing_type=sa.Text(), nullable=False, server_default="")
        table.drop_constraint("uq_dead_letters_sync_key", type_="unique")
        table.create_unique_constraint("uq_dead_letters_sync_direction_key", ["sync", "direction", "source_key"])


def downgrade() -> None:
    # one letter per (sync, key) again: of a key's letters in both directions, the newest stays
    op.execute("DELETE FROM dead_letters WHERE id NOT IN (SELECT MAX(id) FROM dead_letters GROUP BY sync, source_key)")
    with op.batch_alter_table("dead_letters", table_kwargs=_KEEP_AUTOINCREMENT) as table:
        table.drop_constraint("uq_dead_letters_sync_direction_key", type_="unique")
        table.create_unique_constraint("uq_dead_letters_sync_key", ["sync", "source_key"])
        table.alter_column("direction", existing_type=sa.Text(), nullable=True, server_default=None)
    op.execute("UPDATE dead_letters SET direction = NULL WHERE direction = ''")
