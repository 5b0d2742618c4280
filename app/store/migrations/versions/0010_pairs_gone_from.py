"""Two-way pairs remember a delete that ``delete_in`` does not carry: ``id_map.gone_from``.

A pair whose record was deleted on one side, where ``delete_in`` does not name the other, was unlinked and
its record left taken for a record new on its side: the next run created it again on the side it was
deleted from, and it came back there after each delete. Now the pair stays, marked with the side its
record is gone from (``a`` or ``b``; null for a pair whose records both exist): the record left is not
new, and its edits are not carried to the side that deleted it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite adds a column in place (ALTER TABLE ... ADD COLUMN): the WITHOUT ROWID table of 0008 stays one
    with op.batch_alter_table("id_map", recreate="never") as table:
        table.add_column(sa.Column("gone_from", sa.Text(), nullable=True))


def downgrade() -> None:
    # a pair so marked stays: the Brygga of 0008 takes it for a pair gone on one side when next touched
    with op.batch_alter_table("id_map", table_kwargs={"sqlite_with_rowid": False}) as table:
        table.drop_column("gone_from")
