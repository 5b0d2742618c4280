"""Alembic environment: Brygga runs migrations itself, on a connection it passes in."""

from __future__ import annotations

from alembic import context

from app.store.tables import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
