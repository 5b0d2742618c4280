"""A MariaDB table synced into another with the real ``brygga`` CLI, one bad row among good ones: a date with
a zero day, the same as the highest cursor, or a row larger than the server takes in one statement. The good
rows arrive (a TIME of 100 hours as it is, a zero date as null), the bad one is a dead letter, and the next
run goes on from the cursor."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.cli.helpers import run_brygga
from tests.services import MARIADB_URL, require_service

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  erp:
    connector: sql
    url: "${ERP_DATABASE_URL}"
    streams:
      orders: {table: SOURCE, key: id, cursor: updated_at}
      copies: {table: TARGET, key: id}
"""

SYNC = """\
source: erp.orders
target: erp.copies
fields:
  id: id
  name: name
  took: took
  born: born
  body: body
  more: more
  updated_at: updated_at
"""

COLUMNS = (
    "id INT PRIMARY KEY, name VARCHAR(50), took TIME, born DATE, body LONGTEXT, more LONGTEXT, updated_at DATETIME"
)
GOOD = (
    "(1, 'Ann', '100:00:00', '1990-01-31', 'a', NULL, '2024-05-01 10:00:00'), "
    "(2, 'Bo', '-01:30:00', '0000-00-00', 'b', NULL, '2024-05-01 11:00:00'), "
    "(3, 'Cy', '08:30:00', NULL, 'c', NULL, '2024-05-01 12:00:00')"
)


@dataclass
class Tables:
    engine: AsyncEngine
    source: str
    target: str

    async def execute(self, statement: str, *, loosely: bool = False, **params: object) -> None:
        async with self.engine.begin() as conn:
            if loosely:  # as a server that is not strict takes it: how tables come to hold zero dates
                await conn.execute(text("SET SESSION sql_mode = ''"))
            await conn.execute(text(statement), params)
            if loosely:
                await conn.execute(text("SET SESSION sql_mode = DEFAULT"))

    async def copied(self) -> list[tuple[object, ...]]:
        """The target's rows, each value as MariaDB spells it."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    f"SELECT id, name, CAST(took AS CHAR), CAST(born AS CHAR), LENGTH(body), updated_at "
                    f"FROM {self.target} ORDER BY id"
                )
            )
            return [tuple(row) for row in rows]

    async def packet_limit(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one())


@pytest.fixture
async def tables() -> AsyncIterator[Tables]:
    require_service("mariadb")
    engine = create_async_engine(MARIADB_URL.replace("mysql://", "mysql+asyncmy://", 1) + "?charset=utf8mb4")
    suffix = uuid.uuid4().hex[:10]
    found = Tables(engine, f"orders_{suffix}", f"copies_{suffix}")
    try:
        for name in (found.source, found.target):
            await found.execute(f"CREATE TABLE {name} ({COLUMNS}) CHARACTER SET utf8mb4")
        await found.execute(f"INSERT INTO {found.source} VALUES {GOOD}", loosely=True)
        yield found
    finally:
        for name in (found.source, found.target):
            await found.execute(f"DROP TABLE IF EXISTS {name}")
        await engine.dispose()


async def _a_zero_day(tables: Tables) -> str:
    await tables.execute(
        f"INSERT INTO {tables.source} VALUES (4, 'Di', '01:00:00', '2024-05-00', 'd', NULL, '2024-05-01 11:30:00')",
        loosely=True,
    )
    return "field 'born' holds the error 2024-05-00 (erp.orders, column born: a date with a zero month or day"


async def _a_zero_day_as_the_highest_cursor(tables: Tables) -> str:
    await tables.execute(
        f"INSERT INTO {tables.source} VALUES (4, 'Di', '01:00:00', NULL, 'd', NULL, '2024-06-00 10:00:00')",
        loosely=True,
    )
    return "field 'updated_at' holds the error 2024-06-00 10:00:00 (erp.orders, column updated_at: a date with"


async def _a_row_larger_than_one_statement(tables: Tables) -> str:
    limit = await tables.packet_limit()
    if limit > 64 * 1024 * 1024:
        pytest.skip(f"the server's max_allowed_packet is {limit}: a row larger than it would take too long")
    half = "x" * (limit // 2 + 1024)
    await tables.execute(
        f"INSERT INTO {tables.source} VALUES (4, 'Di', '01:00:00', NULL, :half, NULL, '2024-05-01 11:30:00')",
        half=half,
    )
    await tables.execute(f"UPDATE {tables.source} SET more = :half WHERE id = 4", half=half)
    return f"more than the database server takes in one statement (max_allowed_packet = {limit}, "


@pytest.mark.parametrize("bad_row", [_a_zero_day, _a_zero_day_as_the_highest_cursor, _a_row_larger_than_one_statement])
async def test_one_bad_row_is_a_dead_letter_the_good_ones_arrive_and_the_next_run_goes_on(
    tmp_path: Path, tables: Tables, bad_row: Callable[[Tables], Awaitable[str]]
) -> None:
    said = await bad_row(tables)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT.replace("SOURCE", tables.source).replace("TARGET", tables.target))
    (tmp_path / "mappings" / "copy.yaml").write_text(SYNC)
    env = {"ERP_DATABASE_URL": MARIADB_URL}

    first = run_brygga("run", "copy", cwd=tmp_path, env=env)
    copied = await tables.copied()
    await tables.execute(
        f"INSERT INTO {tables.source} VALUES (5, 'Ed', '838:59:59', '2000-02-29', 'e', NULL, '2024-07-01 09:00:00')"
    )
    second = run_brygga("run", "copy", cwd=tmp_path, env=env)
    third = run_brygga("run", "copy", cwd=tmp_path, env=env)

    assert first.returncode == 1, first.stdout + first.stderr
    assert "read 4, created 3, updated 0, deleted 0, unchanged 0, skipped 0, failed 1" in first.stdout
    assert "failed 4: " in first.stdout
    assert said in first.stdout
    assert copied == [
        (1, "Ann", "100:00:00", "1990-01-31", 1, _moment(10)),
        (2, "Bo", "-01:30:00", None, 1, _moment(11)),  # a zero date is none
        (3, "Cy", "08:30:00", None, 1, _moment(12)),
    ]
    assert "created 1, updated 0, deleted 0" in second.stdout, second.stdout + second.stderr
    assert "failed 1" in second.stdout  # the dead letter is tried again, and fails again: alone
    assert (await tables.copied())[-1] == (5, "Ed", "838:59:59", "2000-02-29", 1, _moment(9, day=(7, 1)))
    assert "created 0, updated 0, deleted 0" in third.stdout, third.stdout + third.stderr
    assert "Lost connection" not in first.stdout + second.stdout + third.stdout


def _moment(hour: int, day: tuple[int, int] = (5, 1)) -> datetime:
    return datetime(2024, *day, hour)
