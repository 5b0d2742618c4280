"""SQLite keeps dates as text in whatever format wrote them: reads compare them exactly as stored."""

from __future__ import annotations

from datetime import datetime

from app.records import dumps, loads
from connectors.base import UnreadableValue
from tests.connectors.sql.conftest import SQLITE, Connect, Db, ids, read_all

TABLE = "CREATE TABLE {name} (id INTEGER PRIMARY KEY, name TEXT, updated_at TIMESTAMP)"


@SQLITE
async def test_rows_sharing_a_timestamp_written_by_sqlite_itself_are_all_read(db: Db, connect: Connect) -> None:
    """``CURRENT_TIMESTAMP`` writes no fraction of a second: SQLAlchemy's own format would sort after it."""
    name = db.name("stamped")
    await db.execute(TABLE.format(name=name))
    for id_ in range(1, 8):
        await db.execute(f"INSERT INTO {name} VALUES ({id_}, 'n', '2024-05-01 12:00:00')")
    await db.execute(f"INSERT INTO {name} VALUES (8, 'n', '2024-05-01 11:59:59')")

    async with connect({"s": {"table": name, "key": "id", "cursor": "updated_at"}}) as connector:
        full = await read_all(connector, "s", None, 3)
        changes = await read_all(connector, "s", loads(dumps(full[-1].checkpoint)), 3)
        await db.execute(f"DROP TABLE {name}")

    assert full[-1].checkpoint == {"cursor": "2024-05-01 12:00:00"}
    assert ids(changes) == [1, 2, 3, 4, 5, 6, 7]
    assert [batch.checkpoint for batch in changes] == [{"cursor": "2024-05-01 12:00:00"}] * 3


@SQLITE
async def test_lookback_on_iso_text_timestamps_keeps_their_format(db: Db, connect: Connect) -> None:
    name = db.name("iso")
    await db.execute(TABLE.format(name=name))
    await db.execute(
        f"INSERT INTO {name} VALUES (1, 'now', '2024-05-01T12:00:00'), (2, 'late', '2024-05-01T11:57:00'),"
        f" (3, 'old', '2024-05-01T11:54:00')"
    )
    stream = {"s": {"table": name, "key": "id", "cursor": "updated_at", "lookback": "5m"}}

    async with connect(stream) as connector:
        batches = await read_all(connector, "s", {"cursor": "2024-05-01T12:00:00"}, 10)
        await db.execute(f"DROP TABLE {name}")

    assert ids(batches) == [2, 1]
    assert batches[0].records[0]["name"] == "late"


@SQLITE
async def test_keys_of_a_column_without_a_declared_type_are_found(db: Db, connect: Connect) -> None:
    name = db.name("untyped")
    await db.execute(f"CREATE TABLE {name} (id PRIMARY KEY, label)")
    await db.execute(f"INSERT INTO {name} VALUES (1, 'one'), (2, 'two')")

    async with connect({"u": {"table": name, "key": "id"}}) as connector:
        found = await connector.get("u", ["2", "3"])
        existing = await connector.existing_keys("u", ["1", "2"])
        await db.execute(f"DROP TABLE {name}")

    assert found == {"2": {"id": 2, "label": "two"}}
    assert existing == {"1", "2"}


@SQLITE
async def test_a_value_that_does_not_fit_its_declared_type_fails_only_its_record(db: Db, connect: Connect) -> None:
    name = db.name("garbled")
    await db.execute(TABLE.format(name=name))
    await db.execute(f"INSERT INTO {name} VALUES (1, 'n', 'the day after tomorrow')")
    await db.execute(f"INSERT INTO {name} VALUES (2, 'm', '2024-05-01 10:00:00.000000')")

    async with connect({"s": {"table": name, "key": "id", "cursor": "updated_at"}}) as connector:
        batches = await read_all(connector, "s", None, 10)
        again = await read_all(connector, "s", batches[-1].checkpoint, 10)  # the cursor, stored as SQLite holds it
        await db.execute(f"DROP TABLE {name}")

    records = {record["id"]: record for batch in batches for record in batch.records}
    garbled = records[1]["updated_at"]
    assert isinstance(garbled, UnreadableValue) and garbled.text == "the day after tomorrow"
    assert records[2]["updated_at"] == datetime(2024, 5, 1, 10, 0)
    # the cursor is kept as SQLite holds it (text sorts after the dates): the read goes on from there
    assert batches[-1].checkpoint == {"cursor": "the day after tomorrow"}
    assert [record["id"] for batch in again for record in batch.records] == [1]
