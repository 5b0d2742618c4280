"""One statement for many rows through the driver's ``executemany``, compiled once.

SQLAlchemy builds the statement (its SQL is the dialect's), but executing it with a list of
parameter dicts makes SQLAlchemy build a parameter dict and a positional list for every row,
calling each column's bind processor on the way: the largest single cost of a batch written
into SQLite. Here the statement is compiled once per column set, and each batch's rows become
the driver's tuples column by column (the same bind processors, applied to a whole column at a
time) and go to ``exec_driver_sql``: the same ``executemany`` SQLAlchemy would call, and the
same error wrapping (``sqlalchemy.exc.DBAPIError``), so errors are translated as before.

A statement whose parameters need more than that (Python-side column defaults, expanding
parameters, a schema translation) is executed the ordinary way.

On SQLite an ``INSERT`` takes many rows a statement (``VALUES (…), (…), …``): the driver lets go of
the GIL around each statement it runs and must take it back after, which the event loop's thread,
busy with the next batch, hands over only every few milliseconds; and SQLite's own work per
statement is paid once for a hundred rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import Boolean, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any]
_ZONE = attrgetter("tzinfo")
_SQLITE_PARAMETERS = 999
"""Parameters one SQLite statement binds at most: the limit of SQLite before 3.32 (32,766 since)."""


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement's SQL text, and how a row dict becomes its positional parameters.

    :param names: the row keys, in the order of the statement's parameters
    :param processors: each parameter's bind processor (``None``: the value goes as it is)
    """

    sql: str
    names: tuple[str, ...]
    processors: tuple[Processor | None, ...]
    sequence: Callable[[Sequence[Any]], Sequence[Any]]
    around_values: tuple[str, str] | None = None
    """A SQLite ``INSERT``'s SQL before and after its one ``VALUES (?, …)``: it may take many rows a statement."""

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[Sequence[Any]]:
        """The driver's parameters for ``rows`` (every row holds every name)."""
        get = itemgetter(*self.names)
        values = [(get(row),) for row in rows] if len(self.names) == 1 else list(map(get, rows))
        return self.tuples(self.names, values)

    def tuples(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """The driver's parameters for ``rows``, each a tuple of values of ``columns`` (every name among them)."""
        if not rows:
            return []
        if tuple(columns) == self.names and not any(self.processors) and self.sequence is tuple:
            return list(rows)
        by_column = list(zip(*rows, strict=True))
        at = {name: index for index, name in enumerate(columns)}
        ordered = [
            by_column[at[name]] if processor is None else _processed(by_column[at[name]], processor)
            for name, processor in zip(self.names, self.processors, strict=True)
        ]
        values: list[Sequence[Any]] = list(zip(*ordered, strict=True))
        if self.sequence is not tuple:
            values = [self.sequence(row) for row in values]
        return values


def driver_statement(statement: Executable, dialect: Dialect, names: Sequence[str]) -> DriverStatement | None:
    """``statement`` compiled for rows holding ``names``; ``None`` where it must go through SQLAlchemy's way.

    :param names: the keys of every row the statement is executed with (for an ``INSERT``, its columns)
    """
    if not isinstance(statement, ClauseElement):
        return None
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    if not isinstance(compiled, SQLCompiler) or not compiled.positional or compiled.positiontup is None:
        return None
    if (
        compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.schema_translate_map
        or compiled.effective_returning
    ):
        return None
    order = tuple(compiled.positiontup)
    if not set(order) <= set(names):
        return None  # a parameter the rows do not hold (a bound constant): SQLAlchemy fills it in
    processors = tuple(_processor(compiled.binds[name].type.dialect_impl(dialect), dialect) for name in order)
    around = _around_values(compiled.string, len(order)) if dialect.name == "sqlite" else None
    return DriverStatement(compiled.string, order, processors, dialect.execute_sequence_format, around)


def _around_values(sql: str, width: int) -> tuple[str, str] | None:
    """``sql`` before and after its ``VALUES (?, …)``, where that is its only group and all its parameters."""
    group = f" VALUES ({', '.join('?' * width)})"
    if not sql.startswith("INSERT ") or sql.count(group) != 1 or sql.count("?") != width:
        return None
    head, _, tail = sql.partition(group)
    return head, tail


async def execute_rows(conn: AsyncConnection, prepared: DriverStatement, rows: Sequence[Sequence[Any]]) -> None:
    """``prepared`` once for each of ``rows`` (the driver's parameters: :meth:`DriverStatement.tuples`).

    A SQLite ``INSERT`` goes as many rows a statement as SQLite binds parameters for, the rest in
    statements of a power of two rows each: a few statement shapes, which SQLite prepares once each. Rows
    go in their order, as one statement each would: a key twice is inserted, then updated by an upsert's
    second row; a row refused fails the call as it would have, with the rows before it in its transaction.
    """
    around = prepared.around_values
    width = len(prepared.names)
    many = _SQLITE_PARAMETERS // width if around is not None and width else 0
    if around is None or many < 2 or len(rows) < 2:
        await conn.exec_driver_sql(prepared.sql, list(rows))
        return
    head, tail = around
    one = f"({', '.join('?' * width)})"
    whole = len(rows) - len(rows) % many
    if whole:
        flat = [tuple(chain.from_iterable(rows[start : start + many])) for start in range(0, whole, many)]
        await conn.exec_driver_sql(f"{head} VALUES {', '.join([one] * many)}{tail}", flat)
    start = whole
    while start < len(rows):
        size = 1 << ((len(rows) - start).bit_length() - 1)  # the largest power of two rows left
        values = tuple(chain.from_iterable(rows[start : start + size]))
        await conn.exec_driver_sql(f"{head} VALUES {', '.join([one] * size)}{tail}", values)
        start += size


def _processor(impl: TypeEngine[Any], dialect: Dialect) -> Processor | None:
    """The type's bind processor; where it is SQLAlchemy's own for booleans, or for SQLite's dates and
    timestamps stored as ISO text (the default), one that :func:`_processed` applies at C speed to a column."""
    processor = impl.bind_processor(dialect)
    if processor is None:
        return None
    fast = _column_wise(impl, dialect, getattr(processor, "__qualname__", ""))
    return processor if fast is None else _ColumnWise(processor, *fast)


def _column_wise(impl: TypeEngine[Any], dialect: Dialect, name: str) -> tuple[type, Processor] | None:
    """(a type, a C-speed function that gives what the processor named ``name`` gives for values of it)."""
    if isinstance(impl, Boolean) and name == "Boolean.bind_processor.<locals>.process":
        return bool, bool if dialect.supports_native_boolean else int
    if dialect.name != "sqlite":
        return None
    from sqlalchemy.dialects.sqlite import DATE, DATETIME  # noqa: PLC0415 (the dialect is loaded: it is SQLite's)

    if isinstance(impl, DATE) and name == "DATE.bind_processor.<locals>.process":
        return (date, date.isoformat) if impl._storage_format == DATE._storage_format else None
    if isinstance(impl, DATETIME) and name == "DATETIME.bind_processor.<locals>.process":
        iso = partial(datetime.isoformat, sep=" ", timespec="microseconds")
        return (datetime, iso) if impl._storage_format == DATETIME._storage_format else None
    return None


@dataclass(frozen=True, slots=True)
class _ColumnWise:
    """A bind processor, and what gives the same at C speed for a column of values of exactly ``kind``
    (a datetime without a time zone: SQLite's processor drops the zone, ``isoformat`` would write it)."""

    processor: Processor
    kind: type
    at_c_speed: Processor

    def __call__(self, value: Any) -> Any:
        return self.processor(value)


def _processed(column: Sequence[Any], processor: Processor) -> list[Any]:
    """Each value of ``column`` through ``processor``, at C speed where it is a :class:`_ColumnWise` that fits."""
    if processor.__class__ is _ColumnWise:
        assert isinstance(processor, _ColumnWise)
        kind = processor.kind
        if set(map(type, column)) == {kind} and (kind is not datetime or set(map(_ZONE, column)) == {None}):
            return list(map(processor.at_c_speed, column))
    return list(map(processor, column))


async def execute_many(
    conn: AsyncConnection, statement: Executable, prepared: DriverStatement | None, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Execute ``statement`` once per row: through the driver when ``prepared``, else SQLAlchemy's way."""
    if prepared is None:
        await conn.execute(statement, list(rows))
        return
    await execute_rows(conn, prepared, prepared.parameters(rows))
