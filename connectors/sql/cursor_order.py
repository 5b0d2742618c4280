"""A text cursor column compared and ordered by its code points, whatever its column's collation.

A changes read takes the rows whose cursor is at least the stored one, in
cursor order. Under a linguistic collation a text that came later can sort
before one that came earlier: PostgreSQL's ICU ``und-x-icu`` and MariaDB's
``utf8mb4_unicode_ci`` put ``.`` before ``+``, so the ``timestamptz`` text
``2024-05-01 12:00:01.5+00`` sorts before ``2024-05-01 12:00:01+00``, and a
row stamped half a second after the stored cursor was never read. Case-blind
collations (MariaDB's ``utf8mb4_general_ci``, SQLite's ``NOCASE``) move
letters about ``[\\]^_```. By code points, as Python compares text and the
``C`` collation compares UTF-8, ISO 8601 texts of one format sort in time,
and the stored cursor is the greatest text read, by any program's measure.

What it costs: an index on the column under its own collation cannot serve a
comparison under another. On PostgreSQL a ``COLLATE "C"`` read of a column
under ICU or a glibc locale scans the table and sorts it, each batch, unless
the table has an index ``ON t ((updated_at COLLATE "C"), id)``, which then
serves it (docs/connectors/sql.md says so to the admin). On MariaDB no
index serves a ``CAST(… AS BINARY)``: a column declared with a ``_bin``
collation is read as it is, by its index. A column that compares by code
points already (``C``, ``POSIX``, ``C.utf8``, or the default collation of a
database created so; a MariaDB ``_bin`` one) is left as it is, so its index
serves as before. SQLite's ``COLLATE BINARY`` is its default: an index on a
column that does not say ``NOCASE`` still serves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    LargeBinary,
    Select,
    case,
    cast,
    column,
    func,
    literal,
    select,
    table,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.sql.backends import Backend

_PG_CODE_POINT_COLLATIONS = frozenset({"c", "posix", "ucs_basic", "c.utf8", "c.utf-8", "pg_c_utf8", "pg_unicode_fast"})
"""PostgreSQL collations (lower case, unquoted) that compare text by its code points: libc's ``C`` and
``C.UTF-8`` (glibc 2.35 and Debian's before it sort C.UTF-8 by code point), PostgreSQL 17's built-in ones."""

_PG_DATABASE_COLLATION = text(
    "SELECT d.datcollate, to_jsonb(d) ->> 'datlocprovider' FROM pg_database d WHERE d.datname = current_database()"
)
"""The database's default collation and its provider (a column PostgreSQL 15 added: read through JSON)."""


def code_point_order(value: ColumnElement[Any], backend: Backend) -> ColumnElement[Any]:
    """``value`` (a text column, or a bound value for it) as its code points compare.

    On PostgreSQL the column is collated as it is, not cast, so that an index on ``(column COLLATE "C")``
    matches it."""
    if backend is Backend.SQLITE:
        return value.collate("BINARY")
    if backend is Backend.POSTGRESQL:
        return value.collate("C")
    return cast(value, LargeBinary())  # UTF-8 bytes, without MariaDB's PAD SPACE


async def collated_otherwise(conn: AsyncConnection, source: FromClause, name: str, backend: Backend) -> bool:
    """Whether text column ``name`` of ``source`` (a table, or a query) compares by a collation other than
    its code points, so that reads must compare it by :func:`code_point_order`."""
    if backend is Backend.SQLITE:
        return True  # COLLATE BINARY costs nothing where the column has no other collation
    collation = (await conn.execute(_collation_of(source, name, backend))).scalar()
    if collation is None:
        return False  # no collation: not a text column (a PostgreSQL enum)
    if backend is Backend.MYSQL:
        return not (collation == "binary" or collation.endswith("_bin"))
    plain = collation.replace('"', "").removeprefix("pg_catalog.").lower()
    if plain == "default":
        collate, provider = (await conn.execute(_PG_DATABASE_COLLATION)).one()
        return not (provider == "b" or (provider in (None, "c") and str(collate).lower() in _PG_CODE_POINT_COLLATIONS))
    return plain not in _PG_CODE_POINT_COLLATIONS


def _collation_of(source: FromClause, name: str, backend: Backend) -> Select[Any]:
    """The collation of column ``name`` as ``source`` gives it: one row even where ``source`` has none (its
    NULL keeps the column's collation); NULL on PostgreSQL for a type without collations."""
    one = select(literal(1).label("brygga_one")).subquery("brygga_one")
    row = select(source.c[name].label("value")).select_from(one.outerjoin(source, true())).limit(1).subquery()
    if backend is Backend.MYSQL:
        return select(func.collation(row.c.value))
    collatable = select(_PG_TYPE.c.typcollation != 0).where(_PG_TYPE.c.oid == func.pg_typeof(row.c.value))
    return select(case((collatable.scalar_subquery(), func.pg_collation_for(row.c.value)))).select_from(row)


_PG_TYPE = table("pg_type", column("oid"), column("typcollation"))
