"""Which key texts a table holds as one row: what its key columns' collations ignore.

A key column that compares text without regard to case, accents or trailing
spaces (MariaDB's default ``utf8mb4_general_ci``, SQLite's ``COLLATE NOCASE``,
PostgreSQL's ``citext``, ``char(n)`` or a nondeterministic collation) holds
``Anna``, ``anna`` and ``anna `` as one row: an upsert of the second lands on
the first. The engine must know, or two source records are written over each
other and both counted as created.

The fold here stands in for the database's own comparison. Where it cannot be
exact (accents and case beyond ASCII differ between collations), it folds more
than the database does, never less: two keys it takes for one, and the
database does not, cost one record that fails alone with a clear message;
the other way round would lose one silently.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, text

from connectors.base import format_key, parse_key
from connectors.sql.backends import Backend

Fold = Callable[[str], str]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(value: str) -> str:
    """SQLite's NOCASE: ASCII letters only."""
    return value.translate(_ASCII_LOWER)


def _trailing_spaces(value: str) -> str:
    """PAD SPACE collations and ``char(n)``: trailing spaces do not count."""
    return value.rstrip(" ")


def _case(value: str) -> str:
    return value.casefold()


def _case_and_accents(value: str) -> str:
    """Case, accents and compatibility forms (``ﬁ`` and ``fi``): the most any common collation ignores."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def _everything(value: str) -> str:
    """A collation Brygga does not know: fold all that a collation commonly ignores."""
    return _case_and_accents(value).rstrip(" ")


def _both(first: Fold, second: Fold) -> Fold:
    return lambda value: second(first(value))


@dataclass(frozen=True)
class KeyEquality:
    """How a table tells its keys apart, column by column (``None``: by the exact text)."""

    folds: tuple[Fold | None, ...]

    def values(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """A key's values as the table compares them (text folded, other values as they are)."""
        return tuple(
            fold(value) if fold is not None and value.__class__ is str else value
            for fold, value in zip(self.folds, values, strict=True)
        )

    def text(self, key: str) -> str:
        """A key's text (:func:`format_key`) as the table compares it: two texts that fold alike name one row."""
        if len(self.folds) == 1:
            fold = self.folds[0]
            return fold(key) if fold is not None else key
        try:
            return format_key(self.values(parse_key(key, len(self.folds))))
        except ValueError:
            return key


def key_equality(conn: Connection, table: Table, key: Sequence[str], backend: Backend) -> KeyEquality | None:
    """How ``table`` compares its ``key`` columns; ``None`` where it compares every one by its exact value."""
    collations = _COLLATIONS[backend](conn, table)
    folds = tuple(collations.get(name) for name in key)
    return KeyEquality(folds) if any(fold is not None for fold in folds) else None


def _sqlite(conn: Connection, table: Table) -> dict[str, Fold]:
    """The collations of the table's unique indexes (a text primary key has one of its own): a column
    declared ``COLLATE NOCASE`` passes it on to them, and an index may name its own."""
    schema = f'"{table.schema}".' if table.schema else ""
    folds: dict[str, Fold] = {}
    for index in conn.exec_driver_sql(f"PRAGMA {schema}index_list({_quoted(table.name)})").mappings():
        if not index["unique"]:
            continue
        for column in conn.exec_driver_sql(f"PRAGMA {schema}index_xinfo({_quoted(index['name'])})").mappings():
            name, collation = column["name"], str(column["coll"] or "BINARY").upper()
            if not column["key"] or name is None or collation == "BINARY":
                continue
            fold = {"NOCASE": _ascii_lower, "RTRIM": _trailing_spaces}.get(collation, _everything)
            folds[name] = _both(folds[name], fold) if name in folds else fold  # two indexes: both count
    return folds


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_MYSQL_COLLATIONS = text(
    "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table AND COLLATION_NAME IS NOT NULL"
)


def _mysql(conn: Connection, table: Table) -> dict[str, Fold]:
    """By each text column's collation name: ``_bin`` and ``_cs`` tell case apart, ``_ci`` and ``_ai`` do
    not; all but NO PAD ones (``nopad``, MySQL 8's ``0900``) ignore trailing spaces."""
    folds: dict[str, Fold] = {}
    for name, collation_name in conn.execute(_MYSQL_COLLATIONS, {"schema": table.schema, "table": table.name}):
        collation = str(collation_name).lower()
        pads = "nopad" not in collation and "0900" not in collation
        if "_ci" in collation or "_ai" in collation:
            fold: Fold | None = _case_and_accents
        elif collation.endswith(("_bin", "_cs")) or collation == "binary":
            fold = None
        else:
            fold = _case_and_accents
        if pads:
            fold = _trailing_spaces if fold is None else _both(fold, _trailing_spaces)
        if fold is not None:
            folds[str(name)] = fold
    return folds


_POSTGRES_COLLATIONS = text(
    """
    SELECT a.attname, ty.typname, NOT COALESCE(co.collisdeterministic, TRUE)
    FROM pg_attribute a
    JOIN pg_class t ON t.oid = a.attrelid
    JOIN pg_namespace s ON s.oid = t.relnamespace
    JOIN pg_type ty ON ty.oid = a.atttypid
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    WHERE t.relname = :table AND (s.nspname = :schema OR (:schema IS NULL AND pg_table_is_visible(t.oid)))
      AND a.attnum > 0 AND NOT a.attisdropped
      AND (ty.typname IN ('citext', 'bpchar') OR NOT COALESCE(co.collisdeterministic, TRUE))
    """
)


def _postgres(conn: Connection, table: Table) -> dict[str, Fold]:
    """``citext`` ignores case, ``char(n)`` trailing spaces, a nondeterministic collation what it was
    made to (case, accents: all of it, to be safe)."""
    folds: dict[str, Fold] = {}
    for name, type_name, nondeterministic in conn.execute(
        _POSTGRES_COLLATIONS, {"schema": table.schema, "table": table.name}
    ):
        fold: Fold = _everything if nondeterministic else _case if type_name == "citext" else _trailing_spaces
        if nondeterministic and type_name == "bpchar":
            fold = _everything
        folds[str(name)] = fold
    return folds


_COLLATIONS: dict[Backend, Callable[[Connection, Table], dict[str, Fold]]] = {
    Backend.SQLITE: _sqlite,
    Backend.MYSQL: _mysql,
    Backend.POSTGRESQL: _postgres,
}
