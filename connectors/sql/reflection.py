"""A table as Brygga needs it from the database: its columns, primary key and unique keys, nothing more.

SQLAlchemy's full reflection also reads foreign keys (and the tables they
point to), check constraints, comments and options, each a catalog query
compiled afresh for every new connection pool: about half of a run's
start-up for a table with no foreign keys, more for one with some. Brygga
reads and writes columns by a key, so this is all it asks for.
"""

from __future__ import annotations

import warnings

from sqlalchemy import Column, Connection, Index, MetaData, PrimaryKeyConstraint, Table, UniqueConstraint, inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.exc import SAWarning


def reflect_table(conn: Connection, name: str, schema: str | None) -> Table:
    """The table's columns with their types, its primary key, unique constraints and unique indexes
    (of whole columns, over every row: an index on an expression, or on some rows only, keys nothing).

    :raises NoSuchTableError: when there is no such table or view
    """
    with warnings.catch_warnings():
        # a type SQLAlchemy does not know reads as it is; an index on an expression is left out
        warnings.simplefilter("ignore", SAWarning)
        return _reflect(inspect(conn), name, schema)


def _reflect(inspector: Inspector, name: str, schema: str | None) -> Table:
    columns = inspector.get_columns(name, schema)
    table = Table(
        name,
        MetaData(),
        *(Column(found["name"], found["type"], nullable=found["nullable"]) for found in columns),
        schema=schema,
    )
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
    return table
