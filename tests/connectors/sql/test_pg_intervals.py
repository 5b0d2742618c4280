"""PostgreSQL intervals read as their ISO 8601 text: asyncpg's timedelta has no months (1 mon 1 day read as 31
days); and written from text of either form, or a duration (another database's, such as a MariaDB TIME of
100:00:00) as the ISO 8601 text such an interval is read as: hours, never days (was: 4 days 04:00:00)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Column, Integer
from sqlalchemy.dialects import postgresql

from connectors.base import Write, WriteAction
from tests.connectors.sql.conftest import Connect, Db, only, read_all

pytestmark = only("postgresql")


async def test_intervals_are_read_as_iso_8601_text_and_written_from_text_or_durations(db: Db, connect: Connect) -> None:
    table = await db.create(
        "terms",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("length", postgresql.INTERVAL),
    )
    await db.execute(f"INSERT INTO {table.name} VALUES (1, '1 mon 1 day'), (2, '1 year 2 mons 3 days 04:05:06.5')")
    writes = {3: "P1M", 4: "2 mons 3 days", 5: timedelta(days=-1, seconds=5, microseconds=7), 6: 5}
    writes |= {7: timedelta(hours=100), 8: -timedelta(hours=1, minutes=30)}

    async with connect({"t": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("t", write_fields=["length"])
        (batch,) = await read_all(connector, "t", None, 10)
        results = await connector.write(
            "t", [Write(WriteAction.CREATE, {"id": key, "length": value}, str(key)) for key, value in writes.items()]
        )
        found = await connector.get("t", ["7", "8"])

    assert [record["length"] for record in batch.records] == ["P1M1D", "P1Y2M3DT4H5M6.5S"]
    assert [result.error is None for result in results] == [True, True, True, False, True, True]
    assert "an interval is written from text or a duration, not int" in str(results[3].error)
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(f"SELECT id, length::text FROM {table.name} WHERE id > 2 ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [
        (3, "1 mon"),
        (4, "2 mons 3 days"),
        (5, "-23:59:54.999993"),
        (7, "100:00:00"),
        (8, "-01:30:00"),
    ]
    assert (found["7"]["length"], found["8"]["length"]) == ("PT100H", "PT-1H-30M")  # read as it was written
