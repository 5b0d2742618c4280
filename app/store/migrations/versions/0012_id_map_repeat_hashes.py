"""A key the source gives twice in one read remembers its later records' hashes: ``id_map.repeat_hashes``.

A source that gives one key twice in a read (a duplicated CSV row, a JOIN repeating a row), in different
batches, had both records written at every run: the target flipped between them within each run. With the
hashes of the later records written once as such (space-separated, the last few), the very same repeat read
again at a later run is known and skipped (docs/operations.md, "A key read twice in one run").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite adds a column in place (ALTER TABLE ... ADD COLUMN): the WITHOUT ROWID table of 0008 stays one
    with op.batch_alter_table("id_map", recreate="never") as table:
        table.add_column(sa.Column("repeat_hashes", sa.Text(), nullable=True))


def downgrade() -> None:
    # a Brygga of 0011 writes both records of such a key again at every run
    with op.batch_alter_table("id_map", table_kwargs={"sqlite_with_rowid": False}) as table:
        table.drop_column("repeat_hashes")
