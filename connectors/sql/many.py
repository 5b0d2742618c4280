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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


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
            by_column[at[name]] if processor is None else list(map(processor, by_column[at[name]]))
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
    processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order)
    return DriverStatement(compiled.string, order, processors, dialect.execute_sequence_format)


async def execute_many(
    conn: AsyncConnection, statement: Executable, prepared: DriverStatement | None, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Execute ``statement`` once per row: through the driver when ``prepared``, else SQLAlchemy's way."""
    if prepared is None:
        await conn.execute(statement, list(rows))
        return
    await conn.exec_driver_sql(prepared.sql, prepared.parameters(rows))
