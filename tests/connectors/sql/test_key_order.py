"""A key column whose collation takes distinct texts for equal (``a``, ``A``, ``a ``) is paged by its bytes.

A page that ended at ``a`` went on after it, and the collation found ``A`` and ``a `` not greater: their
rows were skipped without a word, and a ``mirror`` sync, which scans keys the same way, took their
records for gone. Only a key the table does not keep unique can hold such texts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.connectors.sql.conftest import Connect, Db, only, read_all

ROWS = "(1, 'a', 'a'), (2, 'b', 'b'), (3, 'A', 'A'), (4, 'a ', 'a space'), (5, 'c', 'c'), (6, 'B', 'B')"
COLUMN = {
    "sqlite": "code TEXT COLLATE NOCASE",
    "postgresql": "code text COLLATE brygga_test_ci",
    "mariadb": "code varchar(10) COLLATE utf8mb4_general_ci",
}


@pytest.fixture
async def case_blind(db: Db) -> AsyncIterator[str]:
    """A table whose non-unique ``code`` takes case (and, on MariaDB, trailing spaces) for equal."""
    name = db.name("case_blind")
    if db.kind == "postgresql":
        await db.execute(
            "CREATE COLLATION IF NOT EXISTS brygga_test_ci "
            "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
        )
    await db.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, {COLUMN[db.kind]}, name varchar(20))")
    await db.execute(f"INSERT INTO {name} VALUES {ROWS}")
    try:
        yield name
    finally:
        await db.execute(f"DROP TABLE {name}")


@pytest.mark.parametrize("size", [1, 2, 10])
async def test_rows_whose_keys_differ_only_by_case_or_trailing_spaces_are_all_read(
    db: Db, connect: Connect, case_blind: str, size: int
) -> None:
    async with connect({"c": {"table": case_blind, "key": "code"}}) as connector:
        batches = await read_all(connector, "c", None, size)
        keys = [key async for page in connector.scan_keys("c", size) for key in page]

    names = [record["name"] for batch in batches for record in batch.records]
    assert sorted(names) == ["A", "B", "a", "a space", "b", "c"]
    assert sorted(keys) == ["A", "B", "a", "a ", "b", "c"]


@only("sqlite", "mariadb")  # a PostgreSQL query's collations are not known: it reads as before
async def test_a_query_over_such_a_column_reads_every_row_too(db: Db, connect: Connect, case_blind: str) -> None:
    async with connect({"q": {"query": f"SELECT code, name FROM {case_blind}", "key": "code"}}) as connector:
        batches = await read_all(connector, "q", None, 1)

    names = sorted(record["name"] for batch in batches for record in batch.records)
    assert names == ["A", "B", "a", "a space", "b", "c"]


async def test_a_key_the_table_keeps_unique_is_ordered_as_its_index_gives(db: Db, connect: Connect) -> None:
    name = db.name("unique_code")
    await db.execute(f"CREATE TABLE {name} (code varchar(10) PRIMARY KEY, name varchar(20))")
    try:
        async with connect({"u": {"table": name, "key": "code"}}) as connector:
            await connector.prepare("u")
            reader = await connector._reader("u")
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert not reader._binary
