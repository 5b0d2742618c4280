"""Large upserts into PostgreSQL by COPY: the fastest way rows get into a PostgreSQL table.

asyncpg's binary ``COPY`` fills a temporary table shaped like the target's
columns, then one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` moves the rows
in. The temporary table is kept for the connection's life (made when
missing, emptied at every commit). The rows go through the driver's own connection, so only
plainly typed columns take this way: a value SQLAlchemy would have to
convert first (JSON, arrays) does not.

The move answers with the keys of the rows that were there already, not with
every row: a load into an empty table, the largest kind, gets nothing back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Table, column, literal_column, select, table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.base import driver_connection
from connectors.sql.coercion import Kind
from connectors.sql.streams import StreamShape

_PLAIN_KINDS = {
    Kind.INTEGER,
    Kind.DECIMAL,
    Kind.FLOAT,
    Kind.BOOLEAN,
    Kind.DATE,
    Kind.DATETIME,
    Kind.TIME,
    Kind.TEXT,
    Kind.UUID,
    Kind.BYTES,
}


@dataclass(frozen=True, slots=True)
class _Stage:
    """The temporary table a target's rows go through, and the SQL that creates it and moves its rows on."""

    name: str
    create: str
    move: str


def copies(shape: StreamShape, columns: Sequence[str]) -> bool:
    """Whether rows of ``columns`` can go by COPY: the driver encodes every value as it is."""
    return all(shape.types[name].kind in _PLAIN_KINDS for name in columns)


async def copy_upsert(
    conn: AsyncConnection, shape: StreamShape, target: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """Upsert ``rows`` (distinct keys) into ``target``, in the caller's transaction.

    :returns: the keys of the rows that were new
    """
    values = itemgetter(*columns)
    records = [values(row) for row in rows] if len(columns) > 1 else [(values(row),) for row in rows]
    existing = await copy_upsert_tuples(conn, shape, target, columns, records)
    key = itemgetter(*shape.key)
    keys = [key(row) for row in rows] if len(shape.key) > 1 else [(key(row),) for row in rows]
    return {values for values in keys if values not in existing}


async def copy_upsert_tuples(
    conn: AsyncConnection,
    shape: StreamShape,
    target: Table,
    columns: tuple[str, ...],
    records: Sequence[tuple[Any, ...]],
    *,
    last: bool = False,
    before_move: Callable[[], Awaitable[None]] | None = None,
) -> set[tuple[Any, ...]]:
    """Upsert rows already as tuples of converted values, in ``columns`` order, with distinct keys, in the
    caller's transaction.

    The stage table is kept for the connection's life (``CREATE … IF NOT EXISTS`` finds it there): a
    round trip less than a table made and dropped for every batch (in a busy run each waits its turn on
    the event loop), and no change to the catalog per batch.

    :param last: nothing else goes through the stage before the transaction ends (which empties it),
        so it is not emptied now
    :param before_move: awaited once the rows are staged, before the target changes (its turn)
    :returns: the keys of the rows that were there already (and were updated, or left as they were)
    """
    stage = _stage(conn.dialect, shape, target, columns)
    await conn.exec_driver_sql(stage.create)  # through SQLAlchemy: this also begins the transaction
    driver = await driver_connection(conn)
    await driver.copy_records_to_table(stage.name, records=records, columns=list(columns))
    if before_move is not None:
        await before_move()
    existing = {tuple(row) for row in await driver.fetch(stage.move)}
    if not last:
        await driver.execute(f"TRUNCATE {stage.name}")
    return existing


def stage_table_name(dialect: Dialect, target: Table, columns: Sequence[str]) -> str:
    """The name of the stage of these columns of ``target``: from the table and its columns' types, so a
    table whose columns changed gets a new one."""
    described = repr((target.fullname, [(name, str(target.c[name].type.compile(dialect))) for name in columns]))
    return f"brygga_stage_{hashlib.blake2b(described.encode(), digest_size=8).hexdigest()}"


def _stage(dialect: Dialect, shape: StreamShape, target: Table, columns: tuple[str, ...]) -> _Stage:
    """The stage of these columns of ``target`` (emptied at every commit), and its statements."""
    cached = shape.cache.get(("stage", columns))
    if cached is not None:
        found: _Stage = cached
        return found
    from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415 - its dialect, when PostgreSQL is in use

    preparer = dialect.identifier_preparer
    listed = ", ".join(preparer.quote(name) for name in columns)
    stage_name = stage_table_name(dialect, target, columns)
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage_name} ON COMMIT DELETE ROWS AS "
        f"SELECT {listed} FROM {preparer.format_table(target)} WITH NO DATA"
    )
    stage = table(stage_name, *(column(name) for name in columns))
    insert = pg_insert(target).from_select(list(columns), select(*stage.c))
    changed = [name for name in columns if name not in shape.key]
    key_columns = [target.c[name] for name in shape.key]
    keys = ", ".join(preparer.quote(name) for name in shape.key)
    if changed:  # every row comes back, with xmax = 0 where it has no earlier version: where it is new
        new_row: ColumnElement[Any] = literal_column("(xmax = 0)").label("brygga_new")
        statement = insert.on_conflict_do_update(
            index_elements=list(shape.key), set_={name: insert.excluded[name] for name in changed}
        ).returning(*key_columns, new_row)
        after = f"SELECT {keys} FROM moved WHERE NOT brygga_new"
    else:  # only the new rows come back: the others are the stage's rows less those
        statement = insert.on_conflict_do_nothing(index_elements=list(shape.key)).returning(*key_columns)
        after = f"SELECT {keys} FROM {stage_name} EXCEPT SELECT {keys} FROM moved"
    found = _Stage(stage_name, create, f"WITH moved AS ({statement.compile(dialect=dialect)}) {after}")
    shape.cache[("stage", columns)] = found
    return found
