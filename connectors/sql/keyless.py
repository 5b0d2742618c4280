"""Rows whose key is NULL: read too, so that each fails alone as a record without a key.

Such a row cannot be synced (nothing identifies it in the target or the ID
map), and a read that left it out lost it without a word. Read, it reaches
the engine as a record without a key: it fails alone into the dead letters,
as a CSV row with an empty key cell does, and settles there (its dead
letter's stand-in key is the record's hash, so reading it again changes
nothing). Keyset pagination by key cannot page through these rows, so they
are read after a full read's keyed rows (before a changes read's), in pages
of their own:

- by the table's primary key where it is not the stream's key and none of
  its columns can be NULL (an ``id`` beside the nullable ``email`` key), or
  on SQLite by the rowid of a table whose primary key may hold NULL;
- else by ``OFFSET``, in the order of every column (cast to text on
  PostgreSQL, where some types have no order): a view, a query, a table
  without such a key.

A key column that cannot be NULL (a primary key on PostgreSQL or MariaDB, a
``NOT NULL`` column) costs nothing: no query is made. Otherwise a full read
makes one more query, and a changes read one (``key IS NULL AND cursor >=
…``, over the cursor range the read reads anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, bindparam, cast, literal_column, or_, select, tuple_
from sqlalchemy.types import Integer

from connectors.sql.databases import Backend
from connectors.sql.streams import StreamShape

_LIMIT = "brygga_limit"
_OFFSET = "brygga_offset"
SINCE = "brygga_since"


@dataclass(frozen=True)
class KeylessPages:
    """The statements that read a stream's rows whose key is NULL, a page at a time.

    :param first: the first page of a full read
    :param next: the pages after it (after the row-order values bound as ``after_N``, or at an offset)
    :param changes_first: as ``first``, of the rows whose cursor is at least the one bound as ``brygga_since``
    :param changes_next: as ``next``, for those
    :param by_offset: whether pages go by ``OFFSET`` (no row order unique without the key); else each row's
        columns are followed by its row-order values
    """

    first: Select[Any]
    next: Select[Any]
    changes_first: Select[Any] | None
    changes_next: Select[Any] | None
    by_offset: bool

    def page(self, after: Sequence[Any] | int | None, size: int) -> dict[str, Any]:
        """The parameters of the page of ``size`` rows after ``after``: the last row's order values, or the
        number of rows read so far (``None``: the first page)."""
        if after is None:
            return {_LIMIT: size}
        if isinstance(after, int):
            return {_OFFSET: after, _LIMIT: size}
        return {**{f"after_{index}": value for index, value in enumerate(after)}, _LIMIT: size}


def keyless_pages(
    shape: StreamShape, columns: Sequence[ColumnElement[Any]], since: ColumnElement[bool] | None
) -> KeylessPages | None:
    """The statements reading ``shape``'s rows with a NULL key (as ``columns``), or ``None`` where its key
    cannot be NULL; ``since`` is a changes read's condition on the cursor (``None`` without a cursor), which
    compares the value bound as ``brygga_since`` as the keyed rows' read does."""
    if not _key_may_be_null(shape):
        return None
    source = shape.source
    missing = or_(*(source.c[name].is_(None) for name in shape.key))
    order = _row_order(shape)
    by_offset = order is None
    ordered = order if order is not None else _every_column(shape)
    labelled = [value.label(f"brygga_keyset_{index}") for index, value in enumerate(ordered)] if not by_offset else []
    base = select(*columns, *labelled).where(missing).order_by(*ordered).limit(bindparam(_LIMIT, type_=None))
    after = (
        base.offset(bindparam(_OFFSET, type_=Integer()))
        if by_offset
        else base.where(_after(ordered, shape.backend is Backend.MYSQL))
    )
    changes_first = changes_next = None
    if since is not None:
        changes_first, changes_next = base.where(since), after.where(since)
    return KeylessPages(base, after, changes_first, changes_next, by_offset)


def _key_may_be_null(shape: StreamShape) -> bool:
    """Whether a row read may have a NULL key: always through a query (its columns say nothing); from a
    table, where a key column is nullable (SQLite lets a primary key hold NULL, unless it is declared
    ``NOT NULL`` or is the ``INTEGER PRIMARY KEY``, whose ``IS NULL`` SQLite answers at once)."""
    table = shape.table
    if shape.options.query is not None or table is None:
        return True
    return any(table.c[name].nullable for name in shape.key)


def _row_order(shape: StreamShape) -> list[ColumnElement[Any]] | None:
    """What tells a table's rows apart without the stream's key, never NULL: its primary key; on SQLite,
    where a primary key may hold NULL (only a table with a rowid lets it), the rowid. ``None`` where there
    is nothing such (a query, a view, a table without a primary key)."""
    table = shape.table
    if table is None or shape.options.query is not None:
        return None
    primary = list(table.primary_key.columns)
    nullable = any(column.nullable for column in primary)
    if primary and not nullable and not {column.name for column in primary} & set(shape.key):
        return [shape.source.c[column.name] for column in primary]
    if shape.backend is Backend.SQLITE and nullable:  # a table with a rowid (WITHOUT ROWID keys are NOT NULL)
        rowid = next((name for name in _ROWID_NAMES if name not in table.c), None)
        return [literal_column(rowid)] if rowid is not None else None
    return None


_ROWID_NAMES = ("rowid", "_rowid_", "oid")
"""SQLite's names for a table's rowid, each unless a column of the table has it."""


def _every_column(shape: StreamShape) -> list[ColumnElement[Any]]:
    """Every column, in order, each as text on PostgreSQL (``json``, ``point`` and others have no order)."""
    columns = [shape.source.c[name] for name in shape.columns]
    if shape.backend is Backend.POSTGRESQL:
        return [cast(column, Text()) for column in columns]
    return list(columns)


def _after(ordered: Sequence[ColumnElement[Any]], expanded: bool) -> ColumnElement[bool]:
    """Rows after the order values bound as ``after_0``, ``after_1``, … (the order's columns are never NULL)."""
    bounds = [bindparam(f"after_{index}", type_=value.type) for index, value in enumerate(ordered)]
    if len(ordered) == 1:
        return ordered[0] > bounds[0]
    if not expanded:
        return tuple_(*ordered) > tuple_(*bounds)
    clauses: ColumnElement[bool] = ordered[-1] > bounds[-1]
    for column, bound in zip(reversed(ordered[:-1]), reversed(bounds[:-1]), strict=True):
        clauses = or_(column > bound, and_(column == bound, clauses))
    return clauses
