"""Large upserts into PostgreSQL by COPY: the fastest way rows get into a PostgreSQL table.

asyncpg's binary ``COPY`` fills a temporary table shaped like the target's
columns, then one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` moves the rows
in. It runs in the caller's transaction (the temporary table goes with it),
through the driver's own connection, so only plainly typed columns take this
way: a value SQLAlchemy would have to convert first (JSON, arrays) does not.

The move answers with the keys of the rows that were there already, not with
every row: a load into an empty table, the largest kind, gets nothing back.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Table, column, literal_column, select, table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from app.pooling import driver_connection
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
STAGE = "brygga_stage"


def copies(shape: StreamShape, columns: Sequence[str]) -> bool:
    """Whether rows of ``columns`` can go by COPY: the driver encodes every value as it is."""
    return all(shape.types[name].kind in _PLAIN_KINDS for name in columns)


async def copy_upsert(
    conn: AsyncConnection, shape: StreamShape, target: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """Upsert ``rows`` (distinct keys) into ``target`` through a temporary table filled by COPY.

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
) -> set[tuple[Any, ...]]:
    """Upsert rows already as tuples of converted values, in ``columns`` order, with distinct keys.

    :returns: the keys of the rows that were there already (and were updated, or left as they were)
    """
    create, move = _statements(conn, shape, target, columns)
    await conn.exec_driver_sql(create)  # through SQLAlchemy: this also begins the transaction
    driver = await driver_connection(conn)
    await driver.copy_records_to_table(STAGE, records=records, columns=list(columns))
    existing = {tuple(row) for row in await driver.fetch(move)}
    await driver.execute(f"DROP TABLE {STAGE}")
    return existing


def _statements(conn: AsyncConnection, shape: StreamShape, target: Table, columns: tuple[str, ...]) -> tuple[str, str]:
    """The SQL that creates the stage table (dropped at commit), and the one that moves its rows in and
    answers with the keys of the rows that were there already."""
    cached = shape.cache.get(("copy", columns))
    if cached is not None:
        found: tuple[str, str] = cached
        return found
    preparer = conn.dialect.identifier_preparer
    listed = ", ".join(preparer.quote(name) for name in columns)
    create = (
        f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS "
        f"SELECT {listed} FROM {preparer.format_table(target)} WITH NO DATA"
    )
    stage = table(STAGE, *(column(name) for name in columns))
    insert = postgresql.insert(target).from_select(list(columns), select(*stage.c))
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
        after = f"SELECT {keys} FROM {STAGE} EXCEPT SELECT {keys} FROM moved"
    move = f"WITH moved AS ({statement.compile(dialect=conn.dialect)}) {after}"
    shape.cache[("copy", columns)] = (create, move)
    return create, move
