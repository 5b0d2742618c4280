"""SQLite values the driver's conversion would fail a whole read on: each fails only its own record.

SQLite keeps any value in any column. A ``DATE`` column holding ``garbage`` or ``2024-13-45`` failed the
read of its whole table on every run (``Invalid isoformat string``), with no row named; so did text that
is not JSON in a ``JSON`` column (see ``test_json_columns``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import Column, Date, DateTime, Integer, Time

from connectors.base import UnreadableValue
from tests.connectors.sql.conftest import Connect, Db, read_all


async def test_a_sqlite_date_that_is_no_date_fails_its_record_alone(db: Db, connect: Connect) -> None:
    if db.kind != "sqlite":
        pytest.skip("only SQLite keeps text that is no date in a DATE column")
    table = await db.create(
        "moments",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("day", Date),
        Column("moment", DateTime),
        Column("at", Time),
    )
    rows = [
        "1, '2024-01-02', '2024-01-02 03:04:05.000000', '03:04:05.000000'",
        "2, 'garbage', '2024-13-45 00:00:00', '25:99'",
        "3, 20240102, NULL, NULL",
    ]
    for row in rows:
        await db.execute(f"INSERT INTO {table.name} (id, day, moment, at) VALUES ({row})")

    async with connect({"m": {"table": table.name, "key": "id"}}) as connector:
        [batch] = await read_all(connector, "m", None, 10)

    read = {record["id"]: record for record in batch.records}
    assert read[1] == {"id": 1, "day": date(2024, 1, 2), "moment": datetime(2024, 1, 2, 3, 4, 5), "at": time(3, 4, 5)}
    for record, field, text in ((2, "day", "garbage"), (2, "moment", "2024-13-45 00:00:00"), (2, "at", "25:99")):
        value = read[record][field]
        assert isinstance(value, UnreadableValue), (field, value)
        assert value.text == text and value.where.endswith(f".m, column {field}"), value.where
    number = read[3]["day"]
    assert isinstance(number, UnreadableValue) and number.text == "20240102" and "DATE" in (number.why or "")
    assert read[3]["moment"] is None


async def test_sqlite_decimals_and_booleans_that_are_none_fail_their_record_alone(db: Db, connect: Connect) -> None:
    if db.kind != "sqlite":
        pytest.skip("only SQLite keeps any value in any column")
    await db.execute("CREATE TABLE kinds (id INTEGER PRIMARY KEY, price NUMERIC(10, 2), ref UUID, active BOOLEAN)")
    await db.execute("INSERT INTO kinds VALUES (1, 1.5, '0b5a4f1e-1d2c-4a3b-9c8d-7e6f5a4b3c2d', 0)")
    await db.execute("INSERT INTO kinds VALUES (2, 'abc', 'not-a-uuid', 'false')")

    async with connect({"k": {"table": "kinds", "key": "id"}}) as connector:
        [batch] = await read_all(connector, "k", None, 10)

    good, bad = sorted(batch.records, key=lambda record: record["id"])
    assert good["price"] == Decimal("1.50") and good["active"] is False
    assert str(good["ref"]) == "0b5a4f1e-1d2c-4a3b-9c8d-7e6f5a4b3c2d"
    assert bad["ref"] == "not-a-uuid", "a column SQLite declares UUID is text to SQLAlchemy: read as it is"
    for field, text in (("price", "abc"), ("active", "false")):
        value = bad[field]
        assert isinstance(value, UnreadableValue), (field, value)
        assert value.text == text and value.where.endswith(f".k, column {field}")
    assert "where a number 0 or 1 is kept" in (bad["active"].why or ""), "text is no boolean, not True"


async def test_a_sqlite_key_that_is_no_value_of_its_column_is_found_by_its_text(db: Db, connect: Connect) -> None:
    """Its record fails alone (above), and is a dead letter that the next run retries by key: ``get`` must
    find it. Left out as "no key of this column", it read as gone from the source, its dead letter cleared,
    and the next run failed it again: a record failing every other run."""
    if db.kind != "sqlite":
        pytest.skip("only SQLite keeps text that is no date in a DATE column")
    await db.execute("CREATE TABLE days (day DATE PRIMARY KEY, note TEXT)")
    await db.execute("INSERT INTO days VALUES ('2024-01-01', 'a'), ('garbage', 'b'), ('2024-1-3', 'c')")
    await db.execute("CREATE TABLE counted (number INTEGER NOT NULL UNIQUE, note TEXT)")
    await db.execute("INSERT INTO counted VALUES (1, 'a'), ('abc', 'b')")

    async with connect({"d": {"table": "days", "key": "day"}, "c": {"table": "counted", "key": "number"}}) as connector:
        found = await connector.get("d", ["garbage", "2024-1-3", "2024-01-01", "missing"])
        held = await connector.held_keys("d", ["garbage", "2024-01-01", "missing"])
        numbers = await connector.get("c", ["abc", "1", "xyz"])
        held_numbers = await connector.existing_keys("c", ["abc", "1", "xyz"])

    assert sorted(found) == ["2024-01-01", "2024-1-3", "garbage"]
    assert found["garbage"]["note"] == "b" and isinstance(found["garbage"]["day"], UnreadableValue)
    assert held == {"garbage": "garbage", "2024-01-01": "2024-01-01"}
    assert sorted(numbers) == ["1", "abc"] and numbers["abc"]["note"] == "b"
    assert held_numbers == {"1", "abc"}
