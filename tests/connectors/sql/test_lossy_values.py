"""Values a column would change on their way in fail their record alone, never written changed.

A timestamp's time of day into a ``DATE`` column was dropped, its date into a
``TIME`` column too, a fraction of a
second beyond a ``timestamp(0)`` or MariaDB ``DATETIME`` column's precision
rounded or cut, a text into a PostgreSQL ``text[]`` column written as a list
of its characters: each counted written, its value changed. As a decimal the
column would round, such a record now fails alone, saying why and what to do;
the rest of its batch is written, row by row and as one upsert (or ``COPY``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Date, DateTime, Integer, String, Text, Time
from sqlalchemy.dialects import mysql, postgresql

from connectors.base import PermanentError, Write, WriteAction
from tests.connectors.sql.conftest import SERVERS, Connect, Db, only

BATCHES = pytest.mark.parametrize("batch", [1, 600], ids=["row-by-row", "as-one-upsert"])
"""Rows of a batch beside the ones under test: 600 send PostgreSQL's batch by COPY, others by one upsert."""


def create(id_: int | str, **fields: Any) -> Write:
    return Write(WriteAction.CREATE, {"id": id_, **fields}, None)


async def write(db: Db, connect: Connect, table: str, writes: list[Write]) -> list[PermanentError | None]:
    async with connect({"t": {"table": table, "key": "id"}}) as connector:
        await connector.prepare("t", write_fields=sorted({name for each in writes for name in each.record or {}}))
        results = await connector.write("t", writes)
    for result in results:
        assert result.error is None or isinstance(result.error, PermanentError), result.error
    return [result.error for result in results]


def precise(digits: int) -> Any:
    """A timestamp column keeping ``digits`` digits of a second on the servers (SQLite keeps any)."""
    return DateTime().with_variant(postgresql.TIMESTAMP(precision=digits), "postgresql")


@BATCHES
async def test_a_time_of_day_into_a_date_column_fails_its_record_and_midnight_is_its_date(
    db: Db, connect: Connect, batch: int
) -> None:
    table = await db.create("days", Column("id", Integer, primary_key=True, autoincrement=False), Column("d", Date))
    fine = [create(number, d=datetime(2024, 5, 1)) for number in range(100, 100 + batch)]
    lossy = [create(1, d=datetime(2024, 5, 1, 12, 30)), create(2, d="2024-05-01T00:00:00.5")]
    kept = [create(3, d=datetime(2024, 5, 2)), create(4, d="2024-05-03T00:00:00+02:00"), create(5, d="2024-05-04")]

    errors = await write(db, connect, table.name, [*lossy, *kept, *fine])

    assert [error is None for error in errors] == [False, False, True, True, True] + [True] * batch
    assert re.fullmatch(
        r"db\.t: column d \(DATE\): 2024-05-01T12:30:00 has a time of day, which a date column would drop: map the "
        r"field with type: date \(or transform: \[\"date:%Y-%m-%d\"\]\) to write its date alone, or write it into "
        r"a timestamp column",
        str(errors[0]),
    )
    assert "2024-05-01T00:00:00.500000 has a time of day" in str(errors[1])
    rows = {row["id"]: row["d"] for row in await db.rows(table)}
    assert (1 in rows, 2 in rows) == (False, False)
    assert [rows[3], rows[4], rows[5]] == [date(2024, 5, 2), date(2024, 5, 3), date(2024, 5, 4)]
    assert rows[100] == date(2024, 5, 1)


@BATCHES
async def test_a_timestamp_into_a_time_column_fails_its_record_instead_of_losing_its_date(
    db: Db, connect: Connect, batch: int
) -> None:
    table = await db.create("clock", Column("id", Integer, primary_key=True, autoincrement=False), Column("at", Time))
    fine = [create(number, at=time(7, 15)) for number in range(100, 100 + batch)]
    lossy = [create(1, at=datetime(2024, 5, 1, 8, 30)), create(2, at="2024-05-01T08:30:00+02:00")]
    kept = [create(3, at=time(8, 30)), create(4, at="09:45:00")]

    errors = await write(db, connect, table.name, [*lossy, *kept, *fine])

    assert [error is None for error in errors] == [False, False, True, True] + [True] * batch
    assert re.fullmatch(
        r"db\.t: column at \(TIME( WITHOUT TIME ZONE)?\): 2024-05-01T08:30:00 has a date, which a time column "
        r"would drop: map the field with transform: \[\"date:%H:%M:%S\"\] to write its time of day alone, or "
        r"write it into a timestamp column",
        str(errors[0]),
    )
    assert "2024-05-01T08:30:00+02:00 has a date" in str(errors[1])
    rows = {row["id"]: row["at"] for row in await db.rows(table)}
    assert (1 in rows, 2 in rows) == (False, False)
    assert [rows[3], rows[4]] == [time(8, 30), time(9, 45)]
    assert rows[100] == time(7, 15)


@SERVERS  # SQLite keeps a timestamp as the text it is given, every digit
@BATCHES
async def test_a_fraction_of_a_second_a_timestamp_column_would_round_or_cut_fails_its_record(
    db: Db, connect: Connect, batch: int
) -> None:
    table = await db.create(
        "moments",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("whole", precise(0)),  # MariaDB's DATETIME: whole seconds
        Column("milli", precise(3).with_variant(mysql.DATETIME(fsp=3), "mysql", "mariadb")),
    )
    second = datetime(2024, 5, 1, 12, 0, 0)
    fine = [create(number, whole=second, milli=second) for number in range(100, 100 + batch)]
    lossy = [
        create(1, whole=second.replace(microsecond=700_000)),
        create(2, milli=second.replace(microsecond=123_400)),
        create(3, whole="2024-05-01T12:00:00.000001"),
        create(4, whole=datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)),
    ]
    kept = [
        create(5, whole="2024-05-01T12:00:07", milli=second.replace(microsecond=123_000)),
        create(6, whole=date(2024, 5, 2), milli="2024-05-01T12:00:00.120"),
    ]

    errors = await write(db, connect, table.name, [*lossy, *kept, *fine])

    assert [error is None for error in errors] == [False] * 4 + [True] * 2 + [True] * batch
    whole_type = "TIMESTAMP(0) WITHOUT TIME ZONE" if db.kind == "postgresql" else "DATETIME"
    assert str(errors[0]) == (
        f"db.t: column whole ({whole_type}): 2024-05-01T12:00:00.700000 has more digits of a second than the column "
        "keeps (whole seconds): the database would round or cut it; drop them in the mapping (transform: "
        '["date:%Y-%m-%dT%H:%M:%S%z"] keeps whole seconds), or give the column more precision than '
        f"{whole_type} (timestamp(6) or DATETIME(6))"
    )
    assert "column milli" in str(errors[1]) and "(3 digits of a second)" in str(errors[1])
    rows = {row["id"]: row for row in await db.rows(table)}
    assert sorted(rows)[:2] == [5, 6]  # none of 1-4 written, changed
    assert (rows[5]["whole"], rows[5]["milli"]) == (datetime(2024, 5, 1, 12, 0, 7), second.replace(microsecond=123_000))
    assert (rows[6]["whole"], rows[6]["milli"]) == (datetime(2024, 5, 2), second.replace(microsecond=120_000))


@SERVERS
async def test_a_fraction_of_a_second_a_time_column_would_round_or_cut_fails_its_record(
    db: Db, connect: Connect
) -> None:
    table = await db.create(
        "times",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("at", Time().with_variant(postgresql.TIME(precision=0), "postgresql")),  # MariaDB's TIME: whole
    )
    writes = [create(1, at=time(8, 30, 0, 500_000)), create(2, at="08:30:15"), create(3, at=time(9))]
    if db.kind == "mariadb":  # a MariaDB TIME holds durations too
        writes += [create(4, at=timedelta(hours=100, microseconds=1)), create(5, at=timedelta(hours=-1))]

    errors = await write(db, connect, table.name, writes)

    assert [error is None for error in errors] == [False, True, True] + ([False, True] if db.kind == "mariadb" else [])
    assert "08:30:00.500000 has more digits of a second than the column keeps (whole seconds)" in str(errors[0])
    assert "(time(6) or TIME(6))" in str(errors[0])
    if db.kind == "mariadb":
        assert "PT100H0.000001S has more digits of a second" in str(errors[3])
    assert sorted(row["id"] for row in await db.rows(table)) == [2, 3, *([5] if db.kind == "mariadb" else [])]


@SERVERS
async def test_every_microsecond_is_kept_where_the_column_keeps_them(db: Db, connect: Connect) -> None:
    table = await db.create(
        "fine",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("at", DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),  # PostgreSQL's: 6
    )
    moment = datetime(2024, 5, 1, 12, 0, 0, 123_456)

    errors = await write(db, connect, table.name, [create(1, at=moment)])

    assert errors == [None]
    assert (await db.rows(table))[0]["at"] == moment


@only("postgresql")
@BATCHES
async def test_text_into_an_array_column_fails_its_record_and_is_never_split_into_characters(
    db: Db, connect: Connect, batch: int
) -> None:
    table = await db.create(
        "tagged",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("tags", postgresql.ARRAY(Text)),
        Column("sizes", postgresql.ARRAY(Integer)),
    )
    fine = [create(number, tags=["a"], sizes=[1]) for number in range(100, 100 + batch)]
    refused = [create(1, tags="abc"), create(2, tags={"a": 1}), create(3, sizes=7)]
    kept = [create(4, tags=["x", "y"], sizes=(1, 2)), create(5, tags=[], sizes=None)]

    errors = await write(db, connect, table.name, [*refused, *kept, *fine])

    assert [error is None for error in errors] == [False, False, False, True, True] + [True] * batch
    assert str(errors[0]) == "db.t: column tags (TEXT[]): cannot convert 'abc' to a list (the column is an array)"
    assert "column tags (TEXT[]): cannot convert {'a': 1} to a list" in str(errors[1])
    assert "column sizes (INTEGER[]): cannot convert 7 to a list" in str(errors[2])
    rows = {row["id"]: row for row in await db.rows(table)}
    assert (1 in rows, 2 in rows, 3 in rows) == (False, False, False)
    assert (rows[4]["tags"], rows[4]["sizes"], rows[5]["tags"]) == (["x", "y"], [1, 2], [])


async def test_a_list_into_a_column_of_one_value_fails_its_record_and_is_never_written_as_text(
    db: Db, connect: Connect
) -> None:
    table = await db.create(
        "single",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(50)),
        Column("n", Integer),
        Column("day", Date),
        Column("doc", JSON),
    )
    writes = [
        create(1, name=["a", "b"]),
        create(2, n=[1]),
        create(3, day=["2024-05-01"]),
        create(4, name={"a": 1}),
        create(5, name="ok", doc=["a", "b"]),  # a JSON column takes a list
    ]

    errors = await write(db, connect, table.name, writes)

    assert [error is None for error in errors] == [False, False, False, False, True]
    assert "column name" in str(errors[0]) and "cannot convert ['a', 'b'] to text" in str(errors[0])
    assert "cannot convert [1] to a whole number" in str(errors[1])
    assert "cannot convert ['2024-05-01'] to a date" in str(errors[2])
    assert [(row["id"], row["name"], row["doc"]) for row in await db.rows(table)] == [(5, "ok", ["a", "b"])]


@pytest.mark.parametrize("column", ["whole", "day"])
async def test_a_soft_delete_time_fits_its_column_to_the_second_or_the_day(
    db: Db, connect: Connect, column: str
) -> None:
    """The time Brygga writes itself is made to fit: a soft-delete column of whole seconds or of dates (the
    checks above would refuse the time of day or the microseconds of now)."""
    table = await db.create(
        "deleted",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("whole", precise(0)),
        Column("day", Date),
    )
    await db.insert(table, [{"id": 1}])
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    async with connect({"t": {"table": table.name, "key": "id", "delete": {"soft": column}}}) as connector:
        (result,) = await connector.write("t", [Write(WriteAction.DELETE, None, "1")])

    assert result.ok, result.error
    deleted = (await db.rows(table))[0][column]
    after = datetime.now(UTC).replace(tzinfo=None)
    if column == "day":
        assert deleted in {before.date(), after.date()}
    else:
        assert before <= deleted <= after
        assert deleted.microsecond == 0 or db.kind == "sqlite"  # SQLite keeps every digit
