"""Statements compiled once and run through the driver's executemany store what SQLAlchemy's way stores."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, event
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.sql.databases import Backend
from connectors.sql.many import driver_statement, execute_many
from connectors.sql.statements import upsert_statement

ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Ada",
        "price": Decimal("12.50"),
        "born": date(1815, 12, 10),
        "seen": datetime(2026, 12, 5, 21, 0, 1, 250),
        "active": True,
        "extra": {"tags": ["a", "b"]},
    },
    {"id": 2, "name": None, "price": None, "born": None, "seen": None, "active": None, "extra": None},
]


def _table(name: str, metadata: MetaData) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String),
        Column("price", Numeric(12, 2)),
        Column("born", Date),
        Column("seen", DateTime),
        Column("active", Boolean),
        Column("extra", JSON),
    )


def _stored(path: Path, table: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        connection.close()


async def test_an_upsert_through_the_driver_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    metadata = MetaData()
    by_driver, by_sqlalchemy = _table("by_driver", metadata), _table("by_sqlalchemy", metadata)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}")
    columns = tuple(ROWS[0])
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        for rows in (ROWS, [{**ROWS[0], "name": "Ada L."}]):  # inserted, then updated
            statement = upsert_statement(Backend.SQLITE, by_driver, ["id"], columns)
            prepared = driver_statement(statement, engine.dialect, columns)
            assert prepared is not None
            async with engine.begin() as conn:
                await execute_many(conn, statement, prepared, rows)
                await conn.execute(upsert_statement(Backend.SQLITE, by_sqlalchemy, ["id"], columns), rows)
    finally:
        await engine.dispose()
    stored = _stored(tmp_path / "data.db", "by_driver")
    assert stored == _stored(tmp_path / "data.db", "by_sqlalchemy")
    assert stored[0][1] == "Ada L."


async def test_a_statement_with_a_python_side_default_goes_sqlalchemys_way(tmp_path: Path) -> None:
    metadata = MetaData()
    table = Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String),
        Column("kind", String, default="plain"),
    )
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        statement = table.insert()
        prepared = driver_statement(statement, engine.dialect, ("id", "name"))
        assert prepared is None
        async with engine.begin() as conn:
            await execute_many(conn, statement, prepared, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    finally:
        await engine.dispose()
    assert _stored(tmp_path / "data.db", "things") == [(1, "a", "plain"), (2, "b", "plain")]


DATED: list[dict[str, Any]] = [  # no nulls: each column all dates or all moments, written at C speed
    {"id": 1, "born": date(1815, 12, 10), "seen": datetime(2026, 12, 5, 21, 0, 1, 250), "active": True},
    {"id": 2, "born": date(999, 1, 2), "seen": datetime(999, 1, 2, 3, 4, 5), "active": False},
    {"id": 3, "born": date(2024, 2, 29), "seen": datetime(2024, 2, 29), "active": True},
]
ZONED = [{**row, "seen": row["seen"].replace(tzinfo=UTC)} for row in DATED]  # SQLite keeps no zone


async def test_columns_of_dates_moments_and_booleans_store_what_sqlalchemy_stores(tmp_path: Path) -> None:
    metadata = MetaData()
    tables = [
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True),
            Column("born", Date),
            Column("seen", DateTime),
            Column("active", Boolean),
        )
        for name in ("by_driver", "by_sqlalchemy")
    ]
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        for rows in (DATED, ZONED):
            columns = tuple(rows[0])
            statements = [upsert_statement(Backend.SQLITE, table, ["id"], columns) for table in tables]
            prepared = driver_statement(statements[0], engine.dialect, columns)
            assert prepared is not None
            async with engine.begin() as conn:
                await execute_many(conn, statements[0], prepared, rows)
                await conn.execute(statements[1], rows)
            assert _stored(tmp_path / "data.db", "by_driver") == _stored(tmp_path / "data.db", "by_sqlalchemy")
    finally:
        await engine.dispose()
    assert _stored(tmp_path / "data.db", "by_driver")[1] == (2, "0999-01-02", "0999-01-02 03:04:05.000000", 0)


async def test_an_upsert_into_sqlite_goes_many_rows_a_statement_and_stores_what_sqlalchemy_stores(
    tmp_path: Path,
) -> None:
    metadata = MetaData()
    by_driver, by_sqlalchemy = _table("by_driver", metadata), _table("by_sqlalchemy", metadata)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}")
    columns = tuple(ROWS[0])
    rows = [{**ROWS[number % 2], "id": number, "name": f"N{number}"} for number in range(1, 1001)]
    rows.append({**rows[6], "name": "again"})  # a key twice in one batch: its last row stands, as row by row
    statements: list[int] = []  # rows each statement ran with

    def executed(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO by_driver"):
            values = [len(row) for row in parameters] if many else [len(parameters)]
            statements.extend(count // len(columns) for count in values)

    event.listen(engine.sync_engine, "before_cursor_execute", executed)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        statement = upsert_statement(Backend.SQLITE, by_driver, ["id"], columns)
        prepared = driver_statement(statement, engine.dialect, columns)
        assert prepared is not None
        async with engine.begin() as conn:
            await execute_many(conn, statement, prepared, rows)
            await conn.execute(upsert_statement(Backend.SQLITE, by_sqlalchemy, ["id"], columns), rows)
    finally:
        await engine.dispose()
    stored = _stored(tmp_path / "data.db", "by_driver")
    assert stored == _stored(tmp_path / "data.db", "by_sqlalchemy")
    assert len(stored) == 1000
    assert stored[6][1] == "again"
    assert sum(statements) == 1001
    assert len(statements) <= 12, f"{len(statements)} statements for 1,001 rows"
