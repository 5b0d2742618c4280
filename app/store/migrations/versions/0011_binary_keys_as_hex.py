"""Keys kept as Python's text of bytes (``b'\\x01'``) become the hex text Brygga now gives bytes (``01``).

A key read from a binary column (PostgreSQL ``bytea``, SQLite ``BLOB``, MariaDB ``VARBINARY``) was kept as
``str()`` of its bytes: no column takes that back, so such records could not be looked up, updated or
deleted by key. Brygga now writes bytes as lowercase hex. Left as they were, the ID map's old keys would
name no record read now: every record of such a sync would be taken for new (created again in a system
that assigns keys) and every old one for gone (deleted by a mirror sync).

A text cannot say whether it came from bytes: a text key that is exactly what Python writes for some bytes
(``b'x'``, with only the escapes Python itself would write) is taken for one. No system's real keys look
like that; docs/operations.md (the state database) says so. Rewritten: ``id_map`` (source and target
keys), ``record_log`` and ``dead_letters``, one part at a time in a composite key's JSON list. A key whose
new text is held already (the same sync has both) is left as it was.

Downgrading leaves hex keys as they are: a Brygga before this revision takes them for text keys.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_LONGEST = 8200
"""Longer texts are no key Python wrote for bytes (a key is at most 2,000 bytes of UTF-8, each byte at most
four characters of Python's text)."""

_SHAPES = {"one": "b'%", "quoted": 'b"%', "in_list": "[%\"b'%", "quoted_in_list": '[%"b\\"%'}
"""``LIKE`` patterns (``ESCAPE '!'``: a backslash is itself) of a key that may be, or hold, Python's text of bytes."""


def _hex(text: str) -> str | None:
    """The hex of the bytes ``text`` is Python's very text of, or ``None``."""
    if not text.startswith(("b'", 'b"')) or len(text) > _LONGEST:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value.hex() if isinstance(value, bytes) and repr(value) == text else None


def new_key(text: str | None) -> str | None:
    """``text`` with Python's text of bytes as hex, in a key of one part or in each part of a composite key's
    JSON list; ``None`` where nothing changes."""
    if text is None:
        return None
    one = _hex(text)
    if one is not None or not text.startswith("["):
        return one
    try:
        parts = json.loads(text)
    except ValueError:
        return None
    if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
        return None
    hexed = [_hex(part) for part in parts]
    if all(part is None for part in hexed):
        return None
    new = [part if found is None else found for part, found in zip(parts, hexed, strict=True)]
    return json.dumps(new, ensure_ascii=False, separators=(",", ":"))  # as app.records.format_key writes it


def _candidates(table: str, columns: tuple[str, ...], column: str) -> Iterator[sa.Row[Any]]:
    shapes = " OR ".join(f"{column} LIKE :{name} ESCAPE '!'" for name in _SHAPES)
    statement = sa.text(f"SELECT {', '.join(columns)}, {column} FROM {table} WHERE {shapes}")
    yield from op.get_bind().execute(statement, _SHAPES)


def _rewrite_by_id(table: str, column: str, free: str = "") -> None:
    """``column`` of ``table``'s rows rewritten by their ``id``; ``free``: what else must hold (the new key
    not taken), in terms of ``:sync`` and ``:direction``."""
    changes = [
        {"id": row.id, "sync": row.sync, "direction": row.direction, "new": new}
        for row in _candidates(table, ("id", "sync", "direction"), column)
        if (new := new_key(row[-1])) is not None
    ]
    if changes:
        op.get_bind().execute(sa.text(f"UPDATE {table} SET {column} = :new WHERE id = :id {free}"), changes)


def upgrade() -> None:
    bind = op.get_bind()
    for row in list(_candidates("id_map", ("sync",), "source_key")):
        if (new := new_key(row.source_key)) is not None:
            bind.execute(
                sa.text(
                    "UPDATE id_map SET source_key = :new WHERE sync = :sync AND source_key = :old "
                    "AND NOT EXISTS (SELECT 1 FROM id_map held WHERE held.sync = :sync AND held.source_key = :new)"
                ),
                {"sync": row.sync, "old": row.source_key, "new": new},
            )
    for row in list(_candidates("id_map", ("sync",), "target_key")):
        if (new := new_key(row.target_key)) is not None:
            bind.execute(
                sa.text("UPDATE id_map SET target_key = :new WHERE sync = :sync AND target_key = :old"),
                {"sync": row.sync, "old": row.target_key, "new": new},
            )
    _rewrite_by_id("record_log", "source_key")
    _rewrite_by_id("record_log", "target_key")
    _rewrite_by_id(
        "dead_letters",
        "source_key",
        "AND NOT EXISTS (SELECT 1 FROM dead_letters held WHERE held.sync = :sync "
        "AND held.direction = :direction AND held.source_key = :new)",
    )


def downgrade() -> None:
    """Hex keys stay hex: no text says it came from bytes."""
