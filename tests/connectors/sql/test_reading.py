"""Reads: full reads in key order, resumable; changes since a cursor; rows sharing a cursor; lookback."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Column, Date, Integer
from sqlalchemy.engine import make_url

from app.records import dumps, loads
from connectors.base import Write, WriteAction
from tests.connectors.sql.conftest import (
    SQLITE,
    T0,
    Connect,
    Db,
    checkpoints,
    ids,
    moments,
    only,
    plain,
    read_all,
)
from tests.services import MARIADB_URL

CUSTOMERS = {"table": "", "key": "id", "cursor": "updated_at"}


def customer(id_: int, updated_at: object = T0, **more: object) -> dict[str, object]:
    return {"id": id_, "name": f"Customer {id_}", "updated_at": updated_at, **more}


async def test_a_full_read_goes_in_key_order_across_batches_and_ends_at_the_cursor_it_began_with(
    db: Db, connect: Connect
) -> None:
    table = await db.customers()
    times = moments(10)
    rows = [customer(i + 1, times[i]) for i in range(10)]
    random.Random(7).shuffle(rows)
    await db.insert(table, rows)

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        batches = await read_all(connector, "c", None, 3)

    assert [len(batch.records) for batch in batches] == [3, 3, 3, 1]
    assert ids(batches) == list(range(1, 11))
    assert checkpoints(batches)[0] == {"full": {"after": [3], "start": times[-1]}}
    assert checkpoints(batches)[2] == {"full": {"after": [9], "start": times[-1]}}
    assert checkpoints(batches)[-1] == {"cursor": times[-1]}


async def test_a_full_read_of_a_multiple_of_the_batch_size_ends_with_its_last_full_batch(
    db: Db, connect: Connect
) -> None:
    """No batch of nothing at the end: the last full batch knows it is the last, and carries the cursor."""
    table = await db.customers()
    await db.insert(table, [customer(i) for i in range(1, 7)])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        batches = await read_all(connector, "c", None, 3)

    assert [len(batch.records) for batch in batches] == [3, 3]
    assert checkpoints(batches) == [{"full": {"after": [3], "start": T0}}, {"cursor": T0}]


async def test_a_full_read_of_an_empty_table_is_one_empty_batch_with_its_checkpoint(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        batches = await read_all(connector, "c", None, 3)

    assert [len(batch.records) for batch in batches] == [0]
    assert checkpoints(batches) == [{}]


async def test_a_full_read_resumes_after_the_key_of_its_checkpoint(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(i, T0 + timedelta(seconds=i)) for i in range(1, 11)])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        first = await read_all(connector, "c", None, 4)
        stored = loads(dumps(first[0].checkpoint))  # as the engine keeps it
        await db.insert(table, [customer(0, T0)])  # behind the read: the next changes read finds it
        rest = await read_all(connector, "c", stored, 4)

    assert ids(rest) == [5, 6, 7, 8, 9, 10]
    assert checkpoints(rest)[-1] == {"cursor": T0 + timedelta(seconds=10)}


async def test_a_stream_without_a_cursor_is_read_in_full_every_time(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(i) for i in range(1, 5)])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        batches = await read_all(connector, "c", None, 3)
        again = await read_all(connector, "c", batches[-1].checkpoint, 3)

    assert checkpoints(batches)[-1] == {}
    assert ids(again) == [1, 2, 3, 4]


async def test_a_changes_read_gives_the_rows_changed_since_the_cursor(db: Db, connect: Connect) -> None:
    table = await db.customers()
    times = moments(5)
    await db.insert(table, [customer(i + 1, times[i]) for i in range(5)])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        full = await read_all(connector, "c", None, 10)
        later = T0 + timedelta(hours=1)
        await db.execute(f"UPDATE {table.name} SET updated_at = :at WHERE id IN (2, 3)", at=later)
        await db.insert(table, [customer(6, later + timedelta(seconds=1))])
        changes = await read_all(connector, "c", loads(dumps(full[-1].checkpoint)), 10)

    # 5 had the stored cursor itself: read again (>=), recognised by its hash downstream
    assert ids(changes) == [5, 2, 3, 6]
    assert checkpoints(changes)[-1] == {"cursor": later + timedelta(seconds=1)}


async def test_rows_sharing_a_cursor_value_across_a_batch_boundary_are_all_read(db: Db, connect: Connect) -> None:
    table = await db.customers()
    same = T0 + timedelta(minutes=5)
    await db.insert(table, [customer(i, same) for i in range(1, 8)])
    await db.insert(table, [customer(8, same + timedelta(seconds=1)), customer(9, T0 - timedelta(days=1))])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        batches = await read_all(connector, "c", {"cursor": T0}, 3)

    assert ids(batches) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert checkpoints(batches) == [{"cursor": same}] * 2 + [{"cursor": same + timedelta(seconds=1)}]


async def test_a_late_row_within_the_lookback_is_read_and_one_older_is_not(db: Db, connect: Connect) -> None:
    table = await db.customers()
    stored = T0 + timedelta(hours=1)
    await db.insert(
        table,
        [
            customer(1, stored),
            customer(2, stored - timedelta(minutes=3)),  # committed late, inside a 5-minute lookback
            customer(3, stored - timedelta(minutes=6)),  # older than the lookback: read long ago
        ],
    )

    async with connect({"c": {**CUSTOMERS, "table": table.name, "lookback": "5m"}}) as connector:
        batches = await read_all(connector, "c", {"cursor": stored}, 10)

    assert ids(batches) == [2, 1]
    assert checkpoints(batches)[-1] == {"cursor": stored}


async def test_rows_with_a_null_cursor_are_read_by_full_reads_only(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(1, T0), customer(2, None), customer(3, T0 + timedelta(seconds=1))])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        full = await read_all(connector, "c", None, 10)
        changes = await read_all(connector, "c", {"cursor": T0 - timedelta(days=1)}, 10)

    assert ids(full) == [1, 2, 3]
    assert ids(changes) == [1, 3]


async def test_a_table_without_cursor_values_is_read_in_full_again(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(1, None)])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        batches = await read_all(connector, "c", None, 10)
        empty = await read_all(connector, "c", {"cursor": T0}, 10)

    assert checkpoints(batches)[-1] == {}
    assert empty == []


async def test_every_checkpoint_survives_the_state_store_as_json(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(i, T0 + timedelta(microseconds=i)) for i in range(1, 6)])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        full = await read_all(connector, "c", None, 2)
        changes = await read_all(connector, "c", {"cursor": T0}, 2)

    for batch in full + changes:
        assert loads(dumps(batch.checkpoint)) == batch.checkpoint
    assert checkpoints(changes)[-1] == {"cursor": T0 + timedelta(microseconds=5)}


async def test_records_are_plain_dicts_of_every_column(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(1, T0, email="a@b.se")])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        (batch,) = await read_all(connector, "c", None, 10)

    assert batch.records == [
        {
            "id": 1,
            "name": "Customer 1",
            "email": "a@b.se",
            "credit_limit": None,
            "active": None,
            "born": None,
            "updated_at": T0,
            "deleted_at": None,
        }
    ]


async def test_lookback_on_a_date_cursor_goes_back_whole_days(db: Db, connect: Connect) -> None:
    table = await db.create(
        "daily",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("day", Date),
    )
    await db.insert(
        table,
        [{"id": 1, "day": date(2024, 5, 3)}, {"id": 2, "day": date(2024, 5, 2)}, {"id": 3, "day": date(2024, 5, 1)}],
    )

    async with connect({"d": {"table": table.name, "key": "id", "cursor": "day", "lookback": "2m"}}) as connector:
        batches = await read_all(connector, "d", {"cursor": date(2024, 5, 3)}, 10)

    assert ids(batches) == [2, 1]


SCHEMAS = {"sqlite": "main", "postgresql": "public", "mariadb": make_url(MARIADB_URL).database}


async def test_a_table_in_a_named_schema_is_read_and_written(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [customer(1)])
    qualified = f"{SCHEMAS[db.kind]}.{table.name}"

    async with connect({"c": {"table": qualified, "key": "id", "cursor": "updated_at"}}) as connector:
        await connector.prepare("c", write_fields=["id", "name"])
        (result,) = await connector.write("c", [Write(WriteAction.CREATE, {"id": 2, "name": "Two"}, None)])
        batches = await read_all(connector, "c", None, 10)

    assert result.ok
    assert ids(batches) == [1, 2]


async def test_records_read_have_plain_text_field_names(db: Db, connect: Connect) -> None:
    """Not SQLAlchemy's names (a str subclass): JSON encoders, hashing each record, take a slow way for them."""
    table = await db.customers()
    await db.insert(table, [customer(1), customer(2)])
    query = f"SELECT id, name, updated_at FROM {table.name}"
    streams = {"c": {**CUSTOMERS, "table": table.name}, "q": {"query": query, "key": "id", "cursor": "updated_at"}}

    async with connect(streams) as connector:
        read = [
            record
            for name in streams
            for batch in await read_all(connector, name, None, 10)
            for record in batch.records
        ]
        changed = await read_all(connector, "c", {"cursor": T0 - timedelta(days=1)}, 10)
        found = await connector.get("c", ["1"])

    records = [*read, *changed[0].records, *found.values()]
    assert len(records) == 7
    assert {type(name) for record in records for name in record} == {str}


@only("mariadb")
async def test_a_mariadb_double_is_read_exactly(db: Db, connect: Connect) -> None:
    """SQLAlchemy made DOUBLE a decimal of ten places: 1e-30 read as 0, 0.12345678901234 as 0.1234567890."""
    name = db.name("doubles")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, d DOUBLE, f FLOAT)")
    await db.execute(f"INSERT INTO {name} VALUES (1, 1e-30, 0.5), (2, 0.12345678901234, NULL)")
    try:
        async with connect({"s": {"table": name, "key": "id"}}) as connector:
            [batch] = await read_all(connector, "s", None, 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [(record["d"], record["f"]) for record in batch.records] == [(1e-30, 0.5), (0.12345678901234, None)]


@SQLITE
async def test_a_sqlite_numeric_is_read_as_the_exact_decimal_it_stores(db: Db, connect: Connect) -> None:
    """Read through a float of ten places (123456789012345678 as 123456789012345680.0000000000), and text in the
    column failed the whole read (SQLite keeps any value in any column)."""
    name = db.name("numerics")
    await db.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, n NUMERIC)")
    await db.execute(
        f"INSERT INTO {name} VALUES (1, 0.123456789012345), (2, 123456789012345678), (3, 1e-12), (4, 'abc'), (5, NULL)"
    )
    async with connect({"s": {"table": name, "key": "id"}}) as connector:
        [batch] = await read_all(connector, "s", None, 10)

    assert [record["n"] for record in batch.records] == [
        Decimal("0.123456789012345"),
        Decimal(123456789012345678),
        Decimal("1e-12"),
        "abc",
        None,
    ]


async def test_a_change_a_microsecond_after_the_stored_cursor_is_read_and_one_at_it_again(
    db: Db, connect: Connect
) -> None:
    """The stored cursor keeps the column's every digit (microseconds on all three databases here): a cursor
    kept coarser than the column would skip changes within its last moment, or read one moment for ever."""
    table = await db.customers()
    at = T0 + timedelta(microseconds=500_001)
    await db.insert(table, [customer(1, at - timedelta(microseconds=1)), customer(2, at)])

    async with connect({"c": {**CUSTOMERS, "table": table.name}}) as connector:
        full = await read_all(connector, "c", None, 1)
        stored = loads(dumps(full[-1].checkpoint))
        await db.insert(table, [customer(3, at), customer(4, at + timedelta(microseconds=1))])
        changes = await read_all(connector, "c", stored, 1)
        settled = await read_all(connector, "c", loads(dumps(changes[-1].checkpoint)), 1)

    assert plain(stored) == {"cursor": at}
    assert ids(changes) == [2, 3, 4]  # 2 again (it holds the stored cursor), then the two changes
    assert ids(settled) == [4]  # the boundary read again, and nothing more: each run moves on


@SQLITE
async def test_a_row_written_with_a_space_after_a_cursor_written_with_a_t_on_its_day_is_read(
    db: Db, connect: Connect
) -> None:
    """SQLite compares its text dates as text, and a space sorts before ``T``: a row another program wrote as
    ``2024-05-01 12:05:00`` after a stored ``2024-05-01T12:00:01`` was never read. A column in one style alone
    reads no more than before."""
    name = db.name("stamps")
    await db.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, updated_at TEXT)")
    await db.execute(
        f"INSERT INTO {name} VALUES (1, '2024-05-01T08:00:00'), (2, '2024-05-01T12:00:01'), (3, '2024-04-30T23:00:00')"
    )
    async with connect({"s": {"table": name, "key": "id", "cursor": "updated_at"}}) as connector:
        full = await read_all(connector, "s", None, 10)
        stored = loads(dumps(full[-1].checkpoint))
        unchanged = await read_all(connector, "s", stored, 10)
        await db.execute(f"INSERT INTO {name} VALUES (4, '2024-05-01 12:05:00'), (5, '2024-05-01 11:00:00')")
        changes = await read_all(connector, "s", stored, 10)

    assert stored == {"cursor": "2024-05-01T12:00:01"}
    assert ids(unchanged) == [2]  # one style: the row at the cursor alone, as before
    assert ids(changes) == [4, 1, 2]  # the day's T rows again, the later spaced row; not 5, before the cursor
