"""Rows whose key is NULL are read as records without a key, so that each fails alone, never dropped unseen.

They come after a full read's keyed rows (before a changes read's), in pages of the batch size: by the
table's primary key where it is another column, by the rowid on SQLite, else by ``OFFSET`` in the order of
every column (a view, a query, a table without a primary key).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table

from connectors.base import UnreadableValue
from tests.connectors.sql.conftest import (
    SQLITE,
    T0,
    Connect,
    Db,
    checkpoints,
    ids,
    only,
    read_all,
    timestamp,
)


async def _codes(db: Db, *, primary_key: bool) -> Table:
    """A table keyed (for Brygga) by a nullable ``code``, with or without an ``id`` primary key beside it."""
    columns: list[Any] = [Column("code", String(10), unique=True), Column("name", String(20))]
    columns.append(Column("updated_at", timestamp()))
    if primary_key:
        columns.insert(0, Column("id", Integer, primary_key=True, autoincrement=False))
    else:
        columns.insert(0, Column("id", Integer))
    return await db.create("codes", *columns)


def _rows(count: int, nulls: int) -> list[dict[str, Any]]:
    """``count`` rows coded ``c1``…, then ``nulls`` rows without a code, each a minute later."""
    keyed = [(n, f"c{n}", f"keyed {n}") for n in range(1, count + 1)]
    keyless = [(count + n, None, f"no code {n}") for n in range(1, nulls + 1)]
    return [
        {"id": id_, "code": code, "name": name, "updated_at": T0 + timedelta(minutes=id_)}
        for id_, code, name in keyed + keyless
    ]


def _names(batches: Any) -> list[str]:
    return [record["name"] for batch in batches for record in batch.records]


@pytest.mark.parametrize("primary_key", [True, False], ids=["by-primary-key", "by-offset"])
async def test_a_full_read_ends_with_the_rows_without_a_key_in_pages_of_the_batch_size(
    db: Db, connect: Connect, primary_key: bool
) -> None:
    table = await _codes(db, primary_key=primary_key)
    await db.insert(table, _rows(3, 5))
    last = T0 + timedelta(minutes=8)

    async with connect({"c": {"table": table.name, "key": "code", "cursor": "updated_at"}}) as connector:
        batches = await read_all(connector, "c", None, 2)

    assert [len(batch.records) for batch in batches] == [2, 1, 2, 2, 1]
    assert ids(batches, "code") == ["c1", "c2", "c3", None, None, None, None, None]
    assert sorted(_names(batches)[3:]) == [f"no code {n}" for n in range(1, 6)]
    resumed = {"full": {"after": ["c3"], "start": last}}
    assert checkpoints(batches) == [
        {"full": {"after": ["c2"], "start": last}},
        resumed,  # a crash from here reads only the rows without a key again
        resumed,
        resumed,
        {"cursor": last},
    ]


async def test_a_full_read_resumed_after_its_keyed_rows_reads_only_the_rows_without_a_key(
    db: Db, connect: Connect
) -> None:
    table = await _codes(db, primary_key=True)
    await db.insert(table, _rows(3, 2))
    last = T0 + timedelta(minutes=5)

    async with connect({"c": {"table": table.name, "key": "code", "cursor": "updated_at"}}) as connector:
        batches = await read_all(connector, "c", {"full": {"after": ["c3"], "start": last.isoformat()}}, 10)

    assert _names(batches) == ["no code 1", "no code 2"]
    assert checkpoints(batches) == [{"cursor": last}]


async def test_a_changes_read_begins_with_the_rows_without_a_key_changed_since_its_cursor(
    db: Db, connect: Connect
) -> None:
    """Before the cursor moves past them: a crash after a keyed batch must not leave them behind."""
    table = await _codes(db, primary_key=True)
    await db.insert(table, _rows(4, 4))  # keyed at minutes 1-4, without a code at minutes 5-8
    since = T0 + timedelta(minutes=3)
    await db.execute(f"UPDATE {table.name} SET updated_at = :at WHERE id = 5", at=T0)  # changed long ago

    async with connect({"c": {"table": table.name, "key": "code", "cursor": "updated_at"}}) as connector:
        batches = await read_all(connector, "c", {"cursor": since}, 2)

    assert _names(batches) == ["no code 2", "no code 3", "no code 4", "keyed 3", "keyed 4"]
    assert checkpoints(batches) == [
        {"cursor": since},
        {"cursor": since},
        {"cursor": T0 + timedelta(minutes=4)},
    ]


async def test_a_full_read_of_only_rows_without_a_key_yields_them(db: Db, connect: Connect) -> None:
    table = await _codes(db, primary_key=False)
    await db.insert(table, _rows(0, 3))

    async with connect({"c": {"table": table.name, "key": "code"}}) as connector:
        batches = await read_all(connector, "c", None, 2)

    assert [len(batch.records) for batch in batches] == [2, 1]
    assert checkpoints(batches)[-1] == {}


async def test_a_composite_key_with_one_part_null_is_a_row_without_a_key(db: Db, connect: Connect) -> None:
    table = await db.create(
        "lines",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("order_no", String(10)),
        Column("line_no", Integer),
    )
    await db.insert(
        table,
        [
            {"id": 1, "order_no": "A", "line_no": 1},
            {"id": 2, "order_no": "A", "line_no": None},
            {"id": 3, "order_no": None, "line_no": 2},
        ],
    )

    async with connect({"l": {"table": table.name, "key": ["order_no", "line_no"]}}) as connector:
        batches = await read_all(connector, "l", None, 10)

    assert ids(batches) == [1, 2, 3]


async def test_a_query_stream_reads_its_rows_without_a_key_too(db: Db, connect: Connect) -> None:
    table = await _codes(db, primary_key=True)
    await db.insert(table, _rows(2, 3))
    query = f"SELECT code, name FROM {table.name}"

    async with connect({"q": {"query": query, "key": "code"}}) as connector:
        batches = await read_all(connector, "q", None, 2)

    assert ids(batches, "code") == ["c1", "c2", None, None, None]
    assert sorted(_names(batches)[2:]) == ["no code 1", "no code 2", "no code 3"]


async def test_a_key_that_cannot_be_null_costs_no_query_for_rows_without_one(db: Db, connect: Connect) -> None:
    table = await _codes(db, primary_key=True)
    not_null = await db.create("named", Column("code", String(10), nullable=False, unique=True))

    async with connect({"p": {"table": table.name, "key": "id"}, "n": {"table": not_null.name, "key": "code"}}) as c:
        await c.prepare("p")
        await c.prepare("n")
        assert (await c._reader("p")).keyless is None
        assert (await c._reader("n")).keyless is None


@SQLITE
async def test_a_sqlite_text_primary_key_holding_null_is_read_by_rowid(db: Db, connect: Connect) -> None:
    """SQLite lets a primary key other than an INTEGER PRIMARY KEY hold NULL (an old bug it keeps)."""
    name = db.name("items")
    await db.execute(f"CREATE TABLE {name} (code TEXT PRIMARY KEY, name TEXT)")
    await db.execute(f"INSERT INTO {name} VALUES ('a', 'A'), (NULL, 'x'), (NULL, 'y'), (NULL, 'z'), ('b', 'B')")

    async with connect({"i": {"table": name, "key": "code"}}) as connector:
        batches = await read_all(connector, "i", None, 2)
        reader = await connector._reader("i")

    assert reader.keyless is not None and not reader.keyless.by_offset
    assert _names(batches) == ["A", "B", "x", "y", "z"]


@only("postgresql")
async def test_rows_without_a_key_of_types_without_an_order_are_paged_as_text(db: Db, connect: Connect) -> None:
    name = db.name("shapes")
    await db.execute(f"CREATE TABLE {name} (code text, doc json, spot point)")
    await db.execute(
        f"INSERT INTO {name} VALUES ('a', '{{}}', '(1,1)'), (NULL, '[1]', '(2,2)'), (NULL, '[2]', '(3,3)'),"
        " (NULL, '[3]', NULL)"
    )
    try:
        async with connect({"s": {"table": name, "key": "code"}}) as connector:
            batches = await read_all(connector, "s", None, 2)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert sorted(str(record["doc"]) for batch in batches for record in batch.records) == [
        "[1]",
        "[2]",
        "[3]",
        "{}",
    ]


async def test_a_view_without_keys_is_paged_by_offset(db: Db, connect: Connect) -> None:
    table = await _codes(db, primary_key=True)
    await db.insert(table, _rows(1, 3))
    view = db.name("v")
    await db.execute(f"CREATE VIEW {view} AS SELECT code, name FROM {table.name}")
    try:
        async with connect({"v": {"table": view, "key": "code"}}) as connector:
            batches = await read_all(connector, "v", None, 2)
    finally:
        await db.execute(f"DROP VIEW {view}")

    assert sorted(_names(batches)) == ["keyed 1", "no code 1", "no code 2", "no code 3"]


@only("postgresql")
async def test_an_infinity_in_a_row_without_a_key_is_never_read_as_9999_12_31(db: Db, connect: Connect) -> None:
    """Which rows hold an infinity is asked by key; a row without one is read again exactly instead."""
    name = db.name("spans")
    await db.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, code text, valid_to date)")
    rows = "(1, 'a', '2024-05-01'), (2, NULL, 'infinity'), (3, NULL, '9999-12-31')"
    await db.execute(f"INSERT INTO {name} VALUES {rows}")
    try:
        async with connect({"s": {"table": name, "key": "code"}}) as connector:
            batches = await read_all(connector, "s", None, 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    values = {record["id"]: record["valid_to"] for batch in batches for record in batch.records}
    assert isinstance(values[2], UnreadableValue) and values[2].text == "infinity"
    assert values[3] == date(9999, 12, 31)
