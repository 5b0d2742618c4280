"""A text cursor column is compared and ordered by its code points, whatever its column's collation.

A changes read takes the rows whose cursor is at least the stored one. Under a linguistic collation
(PostgreSQL's ICU ``und-x-icu``, MariaDB's ``utf8mb4_unicode_ci``) the text PostgreSQL writes for a
``timestamptz`` sorts ``12:00:01.5+00`` before ``12:00:01+00``: half a second later, yet less than a
stored cursor of ``12:00:01+00``, so its row was never read. MariaDB's ``utf8mb4_general_ci`` and
SQLite's ``NOCASE`` fold case: ``r-a`` is less than ``r-_`` there, more by code points. The stored
cursor, a full read's ``MAX`` or a batch's last row, followed the collation too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from tests.connectors.sql.conftest import Connect, Db, read_all

PG_TIMES = ["2024-05-01 12:00:00+00", "2024-05-01 12:00:01+00", "2024-05-01 12:00:01.5+00", "2024-05-01 12:00:02+00"]
"""``timestamptz`` values as PostgreSQL writes them as text (no fraction when it is zero), as written in time."""

CASES = [
    pytest.param("postgresql", 'text COLLATE "und-x-icu"', PG_TIMES, id="postgresql-icu"),
    pytest.param("mariadb", "varchar(40) COLLATE utf8mb4_unicode_ci", PG_TIMES, id="mariadb-unicode_ci"),
    pytest.param("mariadb", "varchar(40) COLLATE utf8mb4_general_ci", ["r-A", "r-_", "r-a"], id="mariadb-general_ci"),
    pytest.param("sqlite", "TEXT COLLATE NOCASE", ["r-0", "r-A", "r-_"], id="sqlite-nocase"),
]
"""A cursor column, and texts in the order they are written, which is their code-point order."""


@pytest.fixture
async def collated(db: Db, column: str) -> AsyncIterator[str]:
    """A table whose text cursor ``at`` is declared as ``column``, and a nullable key ``code`` beside ``id``."""
    name = db.name("collated_cursor")
    await db.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, code varchar(10), at {column})")
    try:
        yield name
    finally:
        await db.execute(f"DROP TABLE {name}")


async def _write(db: Db, table: str, texts: Sequence[str], first_id: int = 1, keyed: bool = True) -> None:
    for index, text in enumerate(texts, start=first_id):
        code = f"c{index}" if keyed else None
        await db.execute(f"INSERT INTO {table} (id, code, at) VALUES (:id, :code, :at)", id=index, code=code, at=text)


def _stream(table: str, through_query: bool = False) -> dict[str, Any]:
    read = {"query": f"SELECT id, code, at FROM {table}"} if through_query else {"table": table}
    return {**read, "key": "id", "cursor": "at"}


@pytest.mark.parametrize(("db", "column", "written"), CASES, indirect=["db"])
@pytest.mark.parametrize("through_query", [False, True], ids=["table", "query"])
async def test_a_row_written_after_a_full_read_is_read_by_the_next_changes_read(
    db: Db, connect: Connect, collated: str, written: list[str], through_query: bool
) -> None:
    await _write(db, collated, written[:2])

    async with connect({"s": _stream(collated, through_query)}) as connector:
        full = await read_all(connector, "s", None, 10)
        await _write(db, collated, written[2:], first_id=3)
        changes = await read_all(connector, "s", full[-1].checkpoint, 10)

    assert full[-1].checkpoint == {"cursor": written[1]}
    assert [record["at"] for batch in changes for record in batch.records] == written[1:]  # the stored one again
    assert changes[-1].checkpoint == {"cursor": written[-1]}


@pytest.mark.parametrize(("db", "column", "written"), CASES, indirect=["db"])
async def test_a_changes_read_in_batches_of_one_goes_in_code_point_order_and_ends_at_the_greatest(
    db: Db, connect: Connect, collated: str, written: list[str]
) -> None:
    await _write(db, collated, written[::-1])  # ids against the order, so the key breaks no tie the right way

    async with connect({"s": _stream(collated)}) as connector:
        batches = await read_all(connector, "s", {"cursor": written[0]}, 1)

    assert [record["at"] for batch in batches for record in batch.records] == written
    assert [batch.checkpoint for batch in batches] == [{"cursor": text} for text in written]


@pytest.mark.parametrize(("db", "column", "written"), CASES, indirect=["db"])
async def test_a_row_without_a_key_written_after_the_stored_cursor_is_read(
    db: Db, connect: Connect, collated: str, written: list[str]
) -> None:
    """Rows whose key is NULL are read by a changes read of their own, over the same cursor range."""
    await _write(db, collated, written[2:3], keyed=False)

    async with connect({"s": {"table": collated, "key": "code", "cursor": "at"}}) as connector:
        batches = await read_all(connector, "s", {"cursor": written[1]}, 10)

    assert [record["at"] for batch in batches for record in batch.records] == [written[2]]
