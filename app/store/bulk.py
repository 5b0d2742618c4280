"""Many rows into the state database fast: COPY on PostgreSQL, the driver's executemany on SQLite.

A run writes one ID map row and one record-log row per changed record; going
through SQLAlchemy's per-row parameter handling would cost more than the
sync itself. Values given here are already what the database stores
(timestamps as naive UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.pooling import driver_connection

Row = tuple[Any, ...]

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DateTime stores a moment


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
    marks = ", ".join("?" for _ in columns)
    await connection.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))


async def upsert_rows(
    connection: AsyncConnection, table: str, columns: Sequence[str], key: Sequence[str], rows: Sequence[Row]
) -> None:
    """Insert every row, or update the row already there with the same ``key``."""
    if not rows:
        return
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
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
    marks = ", ".join("?" for _ in columns)
    await connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", list(rows))


async def _driver(connection: AsyncConnection) -> Any:
    """asyncpg's own connection, in the transaction of ``connection``.

    SQLAlchemy begins its transaction with its first statement: a COPY sent to the driver
    before any would be committed on its own, whatever became of the transaction.
    """
    driver = await driver_connection(connection)
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver
