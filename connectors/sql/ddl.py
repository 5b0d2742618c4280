"""A ``CREATE TABLE`` for a target stream, in its database's dialect, for an admin to review and run.

Brygga never creates or alters tables in business systems (SPEC 4): this only
writes the statement. SQLAlchemy compiles it for the URL's dialect, so the
quoting, the type names and the key clause are each database's own. The types
follow the mapping's ``type:`` words (see :data:`TYPE_WORDS`); a column
without one is text, and a key column of text is ``VARCHAR(255)`` because
MariaDB cannot index an unbounded ``TEXT`` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Double, MetaData, Numeric, String, Table, Text
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable
from sqlalchemy.types import TypeEngine

from connectors.base import FieldType
from connectors.sql.table_names import parse_table

DECIMAL_PRECISION, DECIMAL_SCALE = 30, 10
"""``type: decimal`` columns: 20 digits before the point and 10 after, exact in every supported database."""

KEY_TEXT_LENGTH = 255

TYPE_WORDS: dict[FieldType, TypeEngine[Any]] = {
    "integer": BigInteger(),
    "number": Double(),
    "decimal": Numeric(DECIMAL_PRECISION, DECIMAL_SCALE),
    "boolean": Boolean(),
    "date": Date(),
    "datetime": DateTime(timezone=True),
}


@dataclass(frozen=True)
class ColumnPlan:
    """One column to create: its name, the mapping's type word for it (``None``: text), whether it is (part of)
    the key, and whether a value is always there (a ``required`` field: ``NOT NULL``)."""

    name: str
    type: FieldType | None = None
    key: bool = False
    required: bool = False


def column_type(plan: ColumnPlan) -> TypeEngine[Any]:
    """The SQLAlchemy type for a column; text is bounded for keys, unbounded otherwise."""
    if plan.type is None or plan.type == "string":
        return String(KEY_TEXT_LENGTH) if plan.key else Text()
    return TYPE_WORDS[plan.type]


def create_table(url: str, table: str, columns: Sequence[ColumnPlan]) -> str:
    """The ``CREATE TABLE`` statement, ending in ``;``, for the database ``url`` names.

    :param table: the stream's table, ``schema.table`` allowed (see :mod:`connectors.sql.table_names`)
    :param columns: in the order they should appear; key columns become the primary key
    """
    parsed = parse_table(table)
    sql_columns = [
        Column(
            plan.name,
            column_type(plan),
            primary_key=plan.key,
            autoincrement=False,
            nullable=not (plan.key or plan.required),
        )
        for plan in columns
    ]
    statement = CreateTable(Table(parsed.name, MetaData(), *sql_columns, schema=parsed.schema))
    compiled = str(statement.compile(dialect=make_url(url).get_dialect()()))
    lines = [line.rstrip().replace("\t", "    ") for line in compiled.strip().splitlines()]
    return "\n".join(lines) + ";\n"
