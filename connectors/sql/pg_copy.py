"""Large upserts into PostgreSQL by COPY: the fastest way rows get into a PostgreSQL table.

asyncpg's binary ``COPY`` fills a temporary table shaped like the target's
columns, then one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` moves the rows
in. It runs in the caller's transaction (the temporary table goes with it),
through the driver's own connection, so only plainly typed columns take this
way: a value SQLAlchemy would have to convert first (JSON, arrays) does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Table, column, literal_column, select, table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

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

    :returns: the keys of the rows that were new (``xmax = 0``: no earlier version was updated)
    """
    values = itemgetter(*columns)
    records = [values(row) for row in rows] if len(columns) > 1 else [(values(row),) for row in rows]
    return await copy_upsert_tuples(conn, shape, target, columns, records)


async def copy_upsert_tuples(
    conn: AsyncConnection,
    shape: StreamShape,
    target: Table,
    columns: tuple[str, ...],
    records: Sequence[tuple[Any, ...]],
) -> set[tuple[Any, ...]]:
    """:func:`copy_upsert` for rows already as tuples of converted values, in ``columns`` order."""
    create, move = _statements(conn, shape, target, columns)
    await conn.exec_driver_sql(create)  # through SQLAlchemy: this also begins the transaction
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    await driver.copy_records_to_table(STAGE, records=records, columns=list(columns))
    inserted = {tuple(row)[:-1] for row in await driver.fetch(move) if row[-1]}
    await driver.execute(f"DROP TABLE {STAGE}")
    return inserted


def _statements(conn: AsyncConnection, shape: StreamShape, target: Table, columns: tuple[str, ...]) -> tuple[str, str]:
    """The SQL that creates the stage table (dropped at commit), and the one that moves its rows in and drops it."""
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
    if changed:
        statement = insert.on_conflict_do_update(
            index_elements=list(shape.key), set_={name: insert.excluded[name] for name in changed}
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=list(shape.key))
    new_row: ColumnElement[Any] = literal_column("(xmax = 0)")  # no earlier row version: inserted, not updated
    returning = statement.returning(*(target.c[name] for name in shape.key), new_row)
    move = str(returning.compile(dialect=conn.dialect))
    shape.cache[("copy", columns)] = (create, move)
    return create, move
