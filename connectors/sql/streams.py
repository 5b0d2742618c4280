"""What a stream is in the database: the table (or query) it reads, the table it writes, its columns' types.

Brygga never creates or alters tables, so everything a stream's config names
is checked against the database before a record moves: a missing table or
column is a :class:`~app.errors.PermanentError` that names it and lists what
there is.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    FromClause,
    LargeBinary,
    Numeric,
    String,
    Table,
    Time,
    UniqueConstraint,
    Uuid,
    column,
    inspect,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Inspector, Result
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import NullType, TypeEngine

from connectors.base import PermanentError
from connectors.sql.coercion import DATE_KINDS, ColumnType, Kind, column_type, value_type
from connectors.sql.config import SqlStream
from connectors.sql.cursor_order import collated_otherwise
from connectors.sql.databases import Backend
from connectors.sql.key_equality import KeyEquality, key_equality
from connectors.sql.query_text import QueryError, one_select
from connectors.sql.reflection import reflect_table
from connectors.sql.table_names import SQLITE_SCHEMAS, TableName, parse_table

QUERY_ALIAS = "brygga_query"
_TEXT_KEYS = (Kind.TEXT, Kind.OTHER)


@dataclass
class StreamShape:
    """A stream as the database has it.

    :param where: ``system.stream``, for messages
    :param source: what reads select from: the table, or the stream's query as a subquery
    :param columns: the columns reads give, in order
    :param types: how values convert, by column (every column of a table; a query's key and cursor)
    :param table: the table writes go to, or ``None`` for a stream with only a query
    """

    where: str
    options: SqlStream
    backend: Backend
    source: FromClause
    columns: list[str]
    types: dict[str, ColumnType]
    table: Table | None
    cache: dict[Any, Any] = field(default_factory=dict)
    """Statements built for this stream, reused batch after batch."""
    key_equality: KeyEquality | None = None
    """How the table tells keys apart where not by their exact values (a key column that ignores case)."""
    cursor_by_code_points: bool = False
    """Whether reads compare the text cursor column by its code points instead of its own collation (see
    :mod:`connectors.sql.cursor_order`)."""

    @property
    def key(self) -> tuple[str, ...]:
        return self.options.key

    @property
    def keys_known(self) -> bool:
        """Whether the key columns' types are known (a query without rows does not tell them)."""
        return all(name in self.types for name in self.key)

    def check_read(self) -> None:
        """:raises PermanentError: when the key or cursor column is missing, or lookback cannot apply"""
        what = "the query" if self.options.query else f"table {self.options.table}"
        for name in (*self.key, *([self.options.cursor] if self.options.cursor else [])):
            require_column(self.where, what, name, self.columns)
        cursor = self.options.cursor
        if self.options.lookback is not None and cursor is not None and not self._dates_in(cursor):
            kind = self.types.get(cursor)
            raise PermanentError(
                f"{self.where}: lookback needs a date or datetime cursor, and column {cursor} is "
                f"{kind.name if kind else 'of an unknown type'}: remove lookback, or choose a timestamp column"
            )

    def check_write(self, fields: Sequence[str]) -> Table:
        """The table to write, checked for ``fields``, the key and the soft-delete column.

        :raises PermanentError: for a stream with only a query, a missing column, or a key without a unique index
        """
        if self.table is None:
            raise PermanentError(
                f"{self.where}: a stream with only a query can be read, not written: add 'table: NAME' to write to it"
            )
        names = [column.name for column in self.table.columns]
        soft = self.options.delete.soft if self.options.delete is not None else None
        for name in dict.fromkeys([*self.key, *fields, *([soft] if soft else [])]):
            require_column(self.where, f"table {self.options.table}", name, names)
        if soft is not None and self.types[soft].kind not in (*DATE_KINDS, Kind.TEXT, Kind.BOOLEAN):
            raise PermanentError(
                f"{self.where}: soft-delete column {soft} is {self.types[soft].name}: "
                "it must be a date, datetime, text or boolean column"
            )
        if not _unique_on(self.table, self.key):
            raise PermanentError(
                f"{self.where}: table {self.options.table} has no primary key or unique index on "
                f"({', '.join(self.key)}): Brygga writes by key (upserts) and needs one; add it to the table"
            )
        return self.table

    def _dates_in(self, name: str) -> bool:
        if name not in self.types:
            return True  # a query without rows: the stored cursor is checked when read
        kind = self.types[name].kind
        if self.backend is Backend.SQLITE:  # SQLite keeps dates as text; the values are parsed when read
            return kind in (*DATE_KINDS, Kind.TEXT, Kind.OTHER)
        return kind in DATE_KINDS


async def describe_stream(conn: AsyncConnection, where: str, options: SqlStream, backend: Backend) -> StreamShape:
    """The stream's shape, checked for reading.

    :raises PermanentError: when the table or a column the stream needs is missing
    """
    table = await conn.run_sync(_reflect, where, options.table) if options.table else None
    types = (
        {column.name: column_type(column.type, conn.dialect) for column in table.columns} if table is not None else {}
    )
    for name in _keyset(options):
        if table is not None and name in types and types[name].kind is Kind.OTHER:
            # a column without a declared type (SQLite allows them): its values tell how to look keys up
            value = await _sample(conn, table, name)
            types[name] = value_type(value) if value is not None else types[name]
    if options.query is not None:
        source, columns = await _query_source(conn, options, table, types, where=where, backend=backend)
    else:
        assert table is not None  # the config requires a table or a query
        # plain text: as record keys, SQLAlchemy's names (a str subclass) send JSON encoders their slow way
        source, columns = table, [str(column.name) for column in table.columns]
    shape = StreamShape(where, options, backend, source, columns, types, table)
    shape.check_read()
    if table is not None and any(types[name].kind in _TEXT_KEYS for name in options.key if name in types):
        shape.key_equality = await conn.run_sync(key_equality, table, options.key, backend)
    cursor = options.cursor
    if cursor is not None and cursor in types and types[cursor].kind is Kind.TEXT:
        shape.cursor_by_code_points = await collated_otherwise(conn, source, cursor, backend)
    return shape


def _reflect(conn: Connection, where: str, name: str) -> Table:
    table = parse_table(name)
    if table.schema is not None and table.schema not in SQLITE_SCHEMAS:
        schemas = inspect(conn).get_schema_names()  # MariaDB fails a table's look-up in a missing one
        if table.schema not in schemas:
            raise PermanentError(
                f"{where}: table {name}: there is no schema {table.schema}{_dotted_hint(inspect(conn), name, table)}; "
                f"the schemas there are: {_listing(sorted(schemas))} (Brygga never creates schemas)"
            )
    try:
        return reflect_table(conn, table.name, table.schema)
    except NoSuchTableError:
        inspector = inspect(conn)
        there = sorted([*inspector.get_table_names(table.schema), *inspector.get_view_names(table.schema)])
        raise PermanentError(
            f"{where}: table {name} does not exist{_hint(table.name, there)}{_dotted_hint(inspector, name, table)}; "
            f"the tables there are: {_listing(there)} (Brygga never creates tables)"
        ) from None


def _dotted_hint(inspector: Inspector, name: str, table: TableName) -> str:
    """Where ``schema.table`` is not there, but one table of that very name is: how to name it."""
    if table.schema is None or name not in [*inspector.get_table_names(), *inspector.get_view_names()]:
        return ""
    return f" (a table named {name} is there: for it, quote its name, table: '\"{name}\"')"


async def _query_source(
    conn: AsyncConnection,
    options: SqlStream,
    table: Table | None,
    types: dict[str, ColumnType],
    *,
    where: str,
    backend: Backend,
) -> tuple[FromClause, list[str]]:
    """The stream's query as a subquery whose key and cursor columns are typed, and its columns."""
    assert options.query is not None
    try:  # checked when the config was validated; checked again here, right before it is sent
        statement = one_select(options.query, backend)
    except QueryError as exc:
        raise PermanentError(f"{where}: query: {exc}") from None
    query = text(statement.replace(":", "\\:"))  # a ':' in the query is no parameter
    untyped = query.columns().subquery(QUERY_ALIAS)
    result: Result[Any] = await conn.execute(select(literal_column("*")).select_from(untyped).limit(1))
    columns = list(result.keys())
    first = result.first()
    sample = dict(zip(columns, first, strict=True)) if first is not None else {}
    needed = [name for name in _keyset(options) if name in columns]
    for name in needed:
        if name not in types:
            value = sample.get(name)
            value = value if value is not None else await _sample(conn, untyped, name)
            if value is not None:  # else the query has no rows yet: the type stays unknown
                types[name] = value_type(value)

    def typed(name: str) -> ColumnClause[Any]:
        if table is not None and name in table.c:
            return column(name, table.c[name].type)
        return column(name, _sql_type(types[name]) if name in needed and name in types else NullType())

    return query.columns(*(typed(name) for name in columns)).subquery(QUERY_ALIAS), columns


def _keyset(options: SqlStream) -> list[str]:
    """The columns reads compare: the cursor, if any, and the key."""
    return [*([options.cursor] if options.cursor else []), *options.key]


async def _sample(conn: AsyncConnection, source: FromClause, name: str) -> Any:
    found: ColumnClause[Any] = column(name)
    return (await conn.execute(select(found).select_from(source).where(found.is_not(None)).limit(1))).scalar()


_SQL_TYPES: dict[Kind, TypeEngine[Any]] = {
    Kind.INTEGER: BigInteger(),
    Kind.DECIMAL: Numeric(),
    Kind.FLOAT: Float(),
    Kind.BOOLEAN: Boolean(),
    Kind.DATE: Date(),
    Kind.TIME: Time(),
    Kind.TEXT: String(),
    Kind.UUID: Uuid(),
    Kind.BYTES: LargeBinary(),
}


def _sql_type(kind: ColumnType) -> TypeEngine[Any]:
    if kind.kind is Kind.DATETIME:
        return DateTime(timezone=kind.aware)
    return _SQL_TYPES.get(kind.kind, NullType())


def unique_column_sets(table: Table) -> list[set[str]]:
    """The column sets of the table's primary key, unique constraints and (whole-table) unique indexes."""
    candidates: list[list[Column[Any]]] = [list(table.primary_key.columns)]
    candidates += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    candidates += [[c for c in index.columns if isinstance(c, Column)] for index in table.indexes if index.unique]
    return [{column.name for column in columns} for columns in candidates if columns]


def _unique_on(table: Table, key: Sequence[str]) -> bool:
    """Whether the table's primary key, a unique constraint or a unique index is exactly ``key``."""
    return set(key) in unique_column_sets(table)


def require_column(where: str, what: str, name: str, there: Sequence[str]) -> None:
    if name not in there:
        raise PermanentError(
            f"{where}: {what} has no column {name}{_hint(name, there)}; "
            f"its columns are: {_listing(there)} (Brygga never adds columns)"
        )


def _hint(name: str, there: Sequence[str]) -> str:
    folded = {other.lower(): other for other in there}
    close = folded.get(name.lower()) or next(iter(difflib.get_close_matches(name, there, n=1, cutoff=0.75)), None)
    return f" (did you mean {close}?)" if close else ""


def _listing(names: Sequence[str], most: int = 40) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown}, … ({len(names) - most} more)"
