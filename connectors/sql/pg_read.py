"""Reading PostgreSQL rows straight from asyncpg, where SQLAlchemy would hand its values on unchanged.

SQLAlchemy's result rows cost about 2 µs a row on top of the driver's own
records: a fifth of a large read. A read statement whose parameters need no
conversion, of a stream whose columns asyncpg already decodes to what
SQLAlchemy gives (numbers, decimals, booleans, dates, times, text, bytes),
runs as its compiled SQL on the driver's connection, and the driver's
records are the rows. Anything else (JSON, arrays, UUIDs, a list parameter)
goes through SQLAlchemy as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.base import driver_connection
from connectors.sql.coercion import Kind
from connectors.sql.databases import Backend
from connectors.sql.streams import StreamShape

AS_DECODED = frozenset(
    {Kind.INTEGER, Kind.DECIMAL, Kind.FLOAT, Kind.BOOLEAN, Kind.DATE, Kind.DATETIME, Kind.TIME, Kind.TEXT, Kind.BYTES}
)
"""Kinds of column whose values asyncpg decodes to exactly what SQLAlchemy returns for them."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    statement: Select[Any]
    """Kept so that its id, which keys the cache, is never another statement's."""
    sql: str | None
    """``None``: the statement goes through SQLAlchemy."""
    names: tuple[str, ...]


class RawReads:
    """One stream's read statements as asyncpg runs them, compiled once each."""

    def __init__(self, shape: StreamShape) -> None:
        types = shape.types
        # a query's columns other than its key and cursor are untyped: SQLAlchemy passes them on as they are
        self.plain = shape.backend is Backend.POSTGRESQL and all(
            name not in types or types[name].kind in AS_DECODED for name in shape.columns
        )
        self._compiled: dict[int, _Compiled] = {}

    async def fetch(
        self, conn: AsyncConnection, statement: Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]] | None:
        """The rows of ``statement`` read by the driver itself; ``None`` where SQLAlchemy must read them."""
        if not self.plain:
            return None
        compiled = self._compiled.get(id(statement))
        if compiled is None or compiled.statement is not statement:
            compiled = self._compiled[id(statement)] = _compile(statement, conn.dialect)
        if compiled.sql is None:
            return None
        driver = await driver_connection(conn)
        rows: Sequence[Sequence[Any]] = await driver.fetch(compiled.sql, *[params[name] for name in compiled.names])
        return rows


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    """``statement`` as SQL with numbered parameters, unless a parameter needs converting or expanding."""
    compiled = statement.compile(dialect=dialect)
    sql, names = str(compiled), tuple(compiled.positiontup or ())
    converted = any(
        bind.expanding or bind.type.dialect_impl(dialect).bind_processor(dialect) is not None
        for bind in compiled.binds.values()
    )
    if converted or "__[POSTCOMPILE" in sql or set(names) != set(compiled.binds):
        return _Compiled(statement, None, ())
    return _Compiled(statement, sql, names)
