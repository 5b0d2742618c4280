"""Many rows into the state database fast: COPY on PostgreSQL, the driver's executemany on SQLite.

A run writes one ID map row and one record-log row per changed record; going
through SQLAlchemy's per-row parameter handling would cost more than the
sync itself. Values given here are already what the database stores
(timestamps as naive UTC).

On SQLite the rows go many to a statement (``VALUES (…), (…), …``), not one
statement per row: the driver lets go of the GIL around every statement it
runs and must take it back after, which the event loop's thread, busy with
the next batch, hands over only every few milliseconds; and SQLite's own
work per statement is paid once for a hundred rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.pooling import driver_connection

Row = tuple[Any, ...]

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DateTime stores a moment
_SQLITE_PARAMETERS = 999
"""Parameters one SQLite statement binds at most: the limit of SQLite before 3.32 (32,766 since)."""


def stored_time(moment: datetime, connection: AsyncConnection) -> Any:
    """A naive-UTC moment as the driver takes it: as is for asyncpg, as text for SQLite."""
    return moment if connection.dialect.name == "postgresql" else moment.strftime(_SQLITE_TIME)


async def insert_rows(connection: AsyncConnection, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """``INSERT`` every row, in the connection's transaction."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        driver = await _driver(connection)
        await driver.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    await _sqlite_rows(connection, f"INSERT INTO {table} ({', '.join(columns)})", len(columns), "", rows)


async def upsert_rows(
    connection: AsyncConnection,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[Row],
    *,
    kept: Sequence[str] = (),
) -> None:
    """Insert every row, or update the row already there with the same ``key``, but for its columns ``kept``
    (columns known to hold these values already: an index on them is left alone)."""
    if not rows:
        return
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key and name not in kept)
    conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        stage = f"{table}_incoming"
        await connection.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        driver = await _driver(connection)
        await driver.copy_records_to_table(stage, records=rows, columns=list(columns))
        await driver.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")
        await driver.execute(f"TRUNCATE {stage}")  # the next batch in this transaction starts empty
        return
    await _sqlite_rows(connection, f"INSERT INTO {table} ({names})", len(columns), f" {conflict}", rows)


async def _sqlite_rows(connection: AsyncConnection, head: str, width: int, tail: str, rows: Sequence[Row]) -> None:
    """``head VALUES (…), (…), … tail`` for every row, as many rows a statement as SQLite binds parameters
    for, the rest in statements of a power of two rows each: a few statement shapes, which SQLite prepares
    once each (not one per count of rows left over). Rows go in their order, as one statement each would:
    a key twice is inserted, then updated by an upsert's second row."""
    one = f"({', '.join('?' * width)})"
    many = max(1, _SQLITE_PARAMETERS // width)
    whole = len(rows) - len(rows) % many
    if whole:
        flat = [tuple(chain.from_iterable(rows[start : start + many])) for start in range(0, whole, many)]
        await connection.exec_driver_sql(f"{head} VALUES {', '.join([one] * many)}{tail}", flat)
    start = whole
    while start < len(rows):
        size = 1 << ((len(rows) - start).bit_length() - 1)  # the largest power of two rows left
        values = tuple(chain.from_iterable(rows[start : start + size]))
        await connection.exec_driver_sql(f"{head} VALUES {', '.join([one] * size)}{tail}", values)
        start += size


async def _driver(connection: AsyncConnection) -> Any:
    """asyncpg's own connection, in the transaction of ``connection``.

    SQLAlchemy begins its transaction with its first statement: a COPY sent to the driver
    before any would be committed on its own, whatever became of the transaction.
    """
    driver = await driver_connection(connection)
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver
