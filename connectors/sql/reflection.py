"""A table as Brygga needs it from the database: its columns, primary key and unique keys, nothing more.

SQLAlchemy's full reflection also reads foreign keys (and the tables they
point to), check constraints, comments and options, each a catalog query
compiled afresh for every new connection pool: about half of a run's
start-up for a table with no foreign keys, more for one with some. Brygga
reads and writes columns by a key, so this is all it asks for; on PostgreSQL
the keys come from one catalog query of its own.
"""

from __future__ import annotations

import re
import warnings

from sqlalchemy import (
    Column,
    Connection,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    bindparam,
    inspect,
    text,
)
from sqlalchemy.engine import Inspector
from sqlalchemy.exc import SAWarning
from sqlalchemy.types import JSON, Text

from connectors.sql.mariadb_values import JsonText

_POSTGRES_KEYS = text(
    """
    SELECT i.indisprimary, ARRAY(
             SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.n <= i.indnkeyatts ORDER BY k.n), x.relname
    FROM pg_index i
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace s ON s.oid = t.relnamespace
    JOIN pg_class x ON x.oid = i.indexrelid
    WHERE t.relname = :table AND (s.nspname = :schema OR (:schema IS NULL AND pg_table_is_visible(t.oid)))
      AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
    ORDER BY x.relname
    """
).bindparams(bindparam("schema", type_=Text()))
"""A PostgreSQL table's primary key and unique indexes (a unique constraint has one) of whole columns
over every row, key columns only (not INCLUDE ones), in one query: SQLAlchemy's inspector asks three
times, each a catalog query compiled afresh for every new connection pool (~7 ms of a run's start)."""


def reflect_table(conn: Connection, name: str, schema: str | None) -> Table:
    """The table's columns with their types, its primary key, unique constraints and unique indexes
    (of whole columns, over every row: an index on an expression, or on some rows only, keys nothing).

    :raises NoSuchTableError: when there is no such table or view
    """
    with warnings.catch_warnings():
        # a type SQLAlchemy does not know reads as it is; an index on an expression is left out
        warnings.simplefilter("ignore", SAWarning)
        inspector = inspect(conn)
        table = _columns(inspector, name, schema)
        if getattr(conn.dialect, "is_mariadb", False):
            _mariadb_json(conn, table, name, schema)
        if conn.dialect.name == "postgresql":
            _postgres_keys(conn, table, name, schema)
        else:
            _keys(inspector, table, name, schema)
        return table


def _columns(inspector: Inspector, name: str, schema: str | None) -> Table:
    """The table with its columns, nothing else yet.

    :raises NoSuchTableError: when there is no such table or view
    """
    columns = inspector.get_columns(name, schema)
    for found in columns:
        if isinstance(found["type"], JSON):
            # a null field is SQL NULL, as in every other column, not the JSON text null (SQLAlchemy's default)
            found["type"].none_as_null = True
    return Table(
        name,
        MetaData(),
        *(Column(found["name"], found["type"], nullable=found["nullable"]) for found in columns),
        schema=schema,
    )


_MARIADB_CHECKS = text(
    """
    SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
    WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table
    """
).bindparams(bindparam("schema", type_=Text()))
_JSON_VALID = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)


def _mariadb_json(conn: Connection, table: Table, name: str, schema: str | None) -> None:
    """MariaDB's ``JSON`` is a ``LONGTEXT`` with a ``json_valid`` check, and reflects as one: such columns get
    :class:`~connectors.sql.mariadb_values.JsonText`, so that lists, mappings and decimals are written as
    JSON (read, they stay the text they were)."""
    for (clause,) in conn.execute(_MARIADB_CHECKS, {"table": name, "schema": schema}):
        found = _JSON_VALID.fullmatch(clause.strip())
        column = found and table.c.get(found.group(1).replace("``", "`"))
        if column is not None:
            column.type = JsonText()


def _postgres_keys(conn: Connection, table: Table, name: str, schema: str | None) -> None:
    """Add the table's primary key and unique indexes, as :data:`_POSTGRES_KEYS` finds them."""
    for primary, names, index in conn.execute(_POSTGRES_KEYS, {"table": name, "schema": schema}):
        if primary:
            table.append_constraint(PrimaryKeyConstraint(*names))
        else:
            Index(index, *(table.c[column] for column in names), unique=True)  # joins the table


def _keys(inspector: Inspector, table: Table, name: str, schema: str | None) -> None:
    """Add the table's primary key, unique constraints and unique indexes, as the inspector finds them."""
    primary_key = inspector.get_pk_constraint(name, schema).get("constrained_columns") or []
    if primary_key:
        table.append_constraint(PrimaryKeyConstraint(*primary_key))
    for constraint in inspector.get_unique_constraints(name, schema):
        table.append_constraint(UniqueConstraint(*constraint["column_names"]))
    for index in inspector.get_indexes(name, schema):
        names = [column for column in index["column_names"] if column is not None]  # None: an expression
        partial = any(option.endswith("_where") for option in index.get("dialect_options", {}))
        if index["unique"] and not partial and names and len(names) == len(index["column_names"]):
            Index(index["name"], *(table.c[column] for column in names), unique=True)  # joins the table
