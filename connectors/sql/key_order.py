"""Keyset pagination over key columns whose collation takes distinct texts for equal.

A full read pages by key: the next page is the rows whose key is greater than
the last one read. Where the key column's collation takes ``a``, ``A`` and
``a `` for equal (MariaDB's ``_ci`` and PAD SPACE collations, SQLite's
``NOCASE``, PostgreSQL's ``citext`` or a nondeterministic collation), and the
column is not unique, the rows holding ``A`` and ``a `` are not greater than
``a``: a page that ended at ``a`` skipped them, without a word (and a
``mirror`` sync took their records for gone). Such columns are ordered and
compared by their bytes instead, which tell every distinct text apart.

A key the table keeps unique (its primary key, a unique index) holds no two
such texts: it is read as before, in the order its index gives.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Text, cast

from connectors.sql.coercion import Kind
from connectors.sql.databases import Backend
from connectors.sql.streams import StreamShape, unique_column_sets


def tied_keys(shape: StreamShape) -> set[str]:
    """The key columns to order by their bytes: text columns whose comparison may take distinct values
    for equal, of a key the table does not keep unique (or of a query's, on SQLite and MariaDB, where
    the query's columns keep their tables' collations)."""
    table, key = shape.table, shape.key
    if table is not None and shape.options.query is None and set(key) in unique_column_sets(table):
        return set()
    texts = [name for name in key if name in shape.types and shape.types[name].kind in (Kind.TEXT, Kind.OTHER)]
    if shape.backend is Backend.SQLITE:  # COLLATE BINARY is SQLite's default: its index still serves
        return {name for name in texts if shape.types[name].kind is Kind.TEXT}
    folds = shape.key_equality.folds if shape.key_equality is not None else None
    if folds is None:
        return {name for name in texts if shape.types[name].kind is Kind.TEXT} if _query_on_mariadb(shape) else set()
    return {name for name, fold in zip(key, folds, strict=True) if fold is not None and name in texts}


def _query_on_mariadb(shape: StreamShape) -> bool:
    return shape.options.query is not None and shape.backend is Backend.MYSQL


def binary_order(value: ColumnElement[Any], backend: Backend) -> ColumnElement[Any]:
    """``value`` (a column, or a bound value for it) as its bytes compare."""
    if backend is Backend.SQLITE:
        return value.collate("BINARY")
    if backend is Backend.POSTGRESQL:
        return cast(value, Text()).collate("C")
    return cast(value, LargeBinary())
