"""Dead letters keep the hash of their record, and a run keeps what its retry of dead letters dealt with.

A run asks, batch by batch, which of its records have a dead letter and the hash of the record each keeps
(a record read again unchanged is left alone): where it read every letter of its sync into memory as it
began (~220 bytes a letter: 250 MB at 1,000,000 letters). Letters kept before this revision have no hash;
it is worked out from their record when asked (the hash is the engine's: a migration cannot make it), and
stored whenever the letter is written again.

``retried_letters`` holds, for the length of one run, the records its retry of dead letters dealt with
(source key, record hash): a letter retried and cleared is gone, and the same record read again later in
the run is one record, counted once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}
"""SQLite's copy of the table would drop AUTOINCREMENT (see 0007)."""


def upgrade() -> None:
    with op.batch_alter_table("dead_letters", table_kwargs=_KEEP_AUTOINCREMENT) as table:
        table.add_column(sa.Column("hash", sa.Text(), nullable=True))
    op.create_table(
        "retried_letters",
        sa.Column("sync", _KEY, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source_key", _KEY, nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sync", "run_id", "source_key"),
    )


def downgrade() -> None:
    op.drop_table("retried_letters")
    with op.batch_alter_table("dead_letters", table_kwargs=_KEEP_AUTOINCREMENT) as table:
        table.drop_column("hash")
