"""MariaDB values that Python's types do not hold as they are, read and written without a wrong value and
without stopping a sync: TIME durations beyond a day or below zero, zero dates, rows larger than the server's
``max_allowed_packet``."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.records import dumps, loads
from connectors.base import Batch, UnreadableValue, Write, WriteAction
from connectors.sql.connector import SqlConnector
from connectors.sql.mariadb_values import real_date_at_or_before, time_or_duration
from tests.connectors.sql.conftest import Connect, Db, only, read_all

MARIADB = only("mariadb")
CREATE = WriteAction.CREATE


def hours(count: float, minutes: int = 0, seconds: float = 0) -> timedelta:
    return timedelta(hours=count, minutes=minutes, seconds=seconds)


async def loosely(db: Db, *statements: str) -> None:
    """Run ``statements`` as a server that is not strict would (how tables come to hold zero dates)."""
    async with db.engine.begin() as conn:
        await conn.execute(text("SET SESSION sql_mode = ''"))
        for statement in statements:
            await conn.execute(text(statement))
        await conn.execute(text("SET SESSION sql_mode = DEFAULT"))


async def as_text(db: Db, table: str, column: str) -> list[tuple[int, str | None]]:
    """Each row's id and ``column`` as MariaDB spells it (SQLAlchemy's TIME would read a duration wrong)."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT id, CAST({column} AS CHAR) FROM {table} ORDER BY id"))
        return [(row[0], row[1]) for row in rows]


async def first_batches(connector: SqlConnector, stream: str, checkpoint: Any, size: int, most: int) -> list[Batch]:
    """At most ``most`` batches: a read that pages wrong goes round for ever."""
    batches: list[Batch] = []
    async for batch in connector.read(stream, checkpoint, size):
        batches.append(batch)
        if len(batches) == most:
            break
    return batches


def stored(checkpoint: Any) -> Any:
    """A checkpoint as the state database gives it back."""
    return loads(dumps(checkpoint))


# --- TIME: a time of day, or a duration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("08:30", time(8, 30)),
        ("23:59:59.5", time(23, 59, 59, 500000)),
        ("100:00:00", hours(100)),
        ("-01:30", -hours(1, 30)),
        ("-00:00:00.5", -timedelta(seconds=0.5)),
        ("838:59:59.999999", hours(838, 59, 59.999999)),
        ("4 days, 4:00:00", hours(100)),  # a timedelta's own text: a key of such a column
        ("-1 day, 22:30:00", -hours(1, 30)),
        ("PT100H", hours(100)),  # ISO 8601, as a duration reaches text (and a PostgreSQL interval is read)
        ("PT-1H-30M-0.5S", -hours(1, 30, 0.5)),
        ("PT-0.000001S", -timedelta(microseconds=1)),
        ("PT8H30M", time(8, 30)),
        (hours(30), hours(30)),
        (hours(2), time(2)),  # a duration within a day is the time of day it is, as it is read back
        (-hours(838, 59, 59.999999), -hours(838, 59, 59.999999)),
        (time(7), time(7)),
        (datetime(2024, 5, 1, 7, 15), time(7, 15)),
    ],
)
def test_a_mariadb_time_takes_a_time_of_day_or_a_duration(value: Any, expected: Any) -> None:
    assert time_or_duration(value) == expected
    assert type(time_or_duration(value)) is type(expected)


@pytest.mark.parametrize(
    "value", ["839:00:00", hours(839), -hours(839), "8:3", "noon", "1000:00:00", 12, "PT", "P1D", "PT839H"]
)
def test_a_mariadb_time_refuses_what_it_cannot_hold(value: Any) -> None:
    with pytest.raises((ValueError, AttributeError)):
        time_or_duration(value)


@MARIADB
async def test_a_time_beyond_a_day_or_below_zero_is_read_as_the_duration_it_is(db: Db, connect: Connect) -> None:
    """SQLAlchemy turned the driver's duration into a time of day, dropping its days and sign: 100:00:00 was
    read as 04:00, -01:30:00.5 as 22:29:59.5, and a record got a wrong value without a word."""
    name = db.name("times")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, d TIME(6))")
    await db.execute(
        f"INSERT INTO {name} VALUES (1, '100:00:00'), (2, '-01:30:00.5'), (3, '08:30:00'), (4, '838:59:59'), "
        "(5, '-838:59:59'), (6, '00:00:00'), (7, '24:00:00'), (8, NULL)"
    )
    try:
        async with connect({"s": {"table": name, "key": "id"}}) as connector:
            [batch] = await read_all(connector, "s", None, 10)
            found = await connector.get("s", ["1", "2"])
    finally:
        await db.execute(f"DROP TABLE {name}")

    read = [record["d"] for record in batch.records]
    assert read == [
        hours(100),
        -hours(1, 30, 0.5),
        time(8, 30),  # a time of day stays one
        hours(838, 59, 59),
        -hours(838, 59, 59),
        time(0),
        hours(24),
        None,
    ]
    assert [found[key]["d"] for key in ("1", "2")] == read[:2]
    assert loads(dumps(batch.records)) == batch.records  # a dead letter keeps the duration


@MARIADB
async def test_a_duration_reaches_a_text_column_as_iso_8601_and_comes_back_exactly(db: Db, connect: Connect) -> None:
    """MariaDB's durations were written to text as Python spells them (``4 days, 4:00:00``, ``-1 day,
    22:29:59.500000``), which no other system reads as a duration; now as ISO 8601, as PostgreSQL's
    intervals are read (``PT100H``), and a MariaDB TIME takes that text back."""
    name = db.name("took")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, d TIME(6))")
    await db.execute(f"INSERT INTO {name} VALUES (1, '100:00:00'), (2, '-01:30:00.5'), (3, '08:30:00'), (4, NULL)")
    sqlite3.connect(db.root / "text.db").execute(
        "CREATE TABLE took (id INTEGER PRIMARY KEY, d TEXT)"
    ).connection.close()
    try:
        async with connect({"s": {"table": name, "key": "id"}}) as source:
            [batch] = await read_all(source, "s", None, 10)
        async with connect({"t": {"table": "took", "key": "id"}}, url="sqlite:///text.db") as target:
            await target.prepare("t", write_fields=["d"])
            results = await target.write("t", [Write(CREATE, record, str(record["id"])) for record in batch.records])
            [copied] = await read_all(target, "t", None, 10)
        async with connect({"s": {"table": name, "key": "id"}}) as source:
            back = [Write(CREATE, {"id": record["id"] + 10, "d": record["d"]}, None) for record in copied.records]
            written = await source.write("s", back)
        again = await as_text(db, name, "d")
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [result.error for result in [*results, *written]] == [None] * 8
    assert [record["d"] for record in copied.records] == ["PT100H", "PT-1H-30M-0.5S", "08:30:00", None]
    assert again[4:] == [(11, "100:00:00.000000"), (12, "-01:30:00.500000"), (13, "08:30:00.000000"), (14, None)]


@MARIADB
async def test_a_time_cursor_beyond_a_day_pages_and_resumes_exactly(db: Db, connect: Connect) -> None:
    """The cursor read as a time of day (101:00 as 05:00) sent the next page back to rows already read, for
    ever; the stored cursor did not fit its column again."""
    name = db.name("time_cursor")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, took TIME)")
    await db.execute(f"INSERT INTO {name} VALUES (1, '05:00:00'), (2, '100:00:00'), (3, '101:00:00'), (4, '-02:00')")
    try:
        async with connect({"s": {"table": name, "key": "id", "cursor": "took"}}) as connector:
            full = await first_batches(connector, "s", None, 2, most=5)
            changes = await first_batches(connector, "s", {"cursor": time(0)}, 2, most=5)
            later = await first_batches(connector, "s", stored(changes[-1].checkpoint), 2, most=5)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [record["id"] for batch in full for record in batch.records] == [1, 2, 3, 4]
    assert full[-1].checkpoint == {"cursor": hours(101)}
    assert [record["id"] for batch in changes for record in batch.records] == [1, 2, 3]
    assert [batch.checkpoint for batch in changes] == [{"cursor": hours(100)}, {"cursor": hours(101)}]
    assert [record["id"] for batch in later for record in batch.records] == [3]


@MARIADB
async def test_a_duration_is_written_to_a_time_column_exactly(db: Db, connect: Connect) -> None:
    name = db.name("time_target")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, d TIME(6))")
    values: list[Any] = [hours(100), -hours(1, 30, 0.5), "100:00:00", "-01:30", time(8, 30), hours(839), "3 o'clock"]
    writes = [Write(CREATE, {"id": index, "d": value}, None) for index, value in enumerate(values, 1)]
    try:
        async with connect({"t": {"table": name, "key": "id"}}) as connector:
            await connector.prepare("t", write_fields=["id", "d"])
            results = await connector.write("t", writes)
        written = await as_text(db, name, "d")
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [result.ok for result in results] == [True, True, True, True, True, False, False]
    assert (
        "column d (TIME(6)): cannot convert datetime.timedelta(days=34, seconds=82800) to a time of day or a "
        "duration of at most 838:59:59" in str(results[5].error)
    )
    assert written == [
        (1, "100:00:00.000000"),
        (2, "-01:30:00.500000"),
        (3, "100:00:00.000000"),
        (4, "-01:30:00.000000"),
        (5, "08:30:00.000000"),
    ]


# --- zero dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text_", "expected"),
    [
        ("2024-05-00", date(2024, 4, 30)),
        ("2024-01-00", date(2023, 12, 31)),
        ("2024-00-00", date(2023, 12, 31)),
        ("2024-00-15", date(2023, 12, 31)),
        ("2024-02-31", date(2024, 2, 29)),  # ALLOW_INVALID_DATES
        ("2024-05-00 10:00:00", datetime(2024, 4, 30, 23, 59, 59, 999999)),
        ("2024-03-00 10:00:00.25", datetime(2024, 2, 29, 23, 59, 59, 999999)),
        ("0000-00-00", date.min),
        ("0000-00-00 00:00:00", datetime.min),
        ("0000-05-01", date.min),
        ("0001-00-00", date.min),
        ("0001-01-00", date.min),
        ("0001-01-00 10:00:00", datetime.min),
        ("0000-02-30", date.min),
        ("2024-05-01 12:00:00", datetime(2024, 5, 1, 12)),
        ("2024-13-01", None),
        ("soon", None),
    ],
)
def test_a_date_mariadb_keeps_but_python_cannot_is_read_from_the_latest_real_one_before_it(
    text_: str, expected: date | datetime | None
) -> None:
    assert real_date_at_or_before(text_) == expected


def _zero_dates_table(name: str) -> str:
    return f"CREATE TABLE {name} (id INT PRIMARY KEY, born DATE, seen DATETIME(6), stamped TIMESTAMP NULL)"


@MARIADB
async def test_zero_dates_are_read_as_null_and_dates_with_a_zero_day_fail_only_where_mapped(
    db: Db, connect: Connect
) -> None:
    """The driver handed such dates over as text ('0000-00-00'), which went on into records as if it were a
    date: into a text column as it was, into a date column failing with no word of where it came from."""
    name = db.name("zero_dates")
    await db.execute(_zero_dates_table(name))
    await loosely(
        db,
        f"INSERT INTO {name} VALUES (1, '2024-05-01', '2024-05-01 12:00:00', '2024-05-01 12:00:00'), "
        "(2, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'), "
        "(3, '2024-05-00', '2024-00-00 10:00:00', NULL)",
    )
    try:
        async with connect({"s": {"table": name, "key": "id"}}) as connector:
            [batch] = await read_all(connector, "s", None, 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    first, zero, partial = batch.records
    assert first == {
        "id": 1,
        "born": date(2024, 5, 1),
        "seen": datetime(2024, 5, 1, 12),
        "stamped": datetime(2024, 5, 1, 12),
    }
    assert zero == {"id": 2, "born": None, "seen": None, "stamped": None}
    assert isinstance(partial["born"], UnreadableValue)
    assert (partial["born"].text, partial["seen"].text) == ("2024-05-00", "2024-00-00 10:00:00.000000")
    assert partial["born"].where.startswith("db.s, column born: ")
    assert loads(dumps(partial)) == partial  # kept as it is in a dead letter


@MARIADB
async def test_a_query_may_read_such_dates_as_text(db: Db, connect: Connect) -> None:
    """What the docs say to do with a column of dates with a zero day: the query's text is the record's."""
    name = db.name("zero_query")
    await db.execute(_zero_dates_table(name))
    await loosely(db, f"INSERT INTO {name} VALUES (1, '2024-05-01', NULL, NULL), (2, '2024-05-00', NULL, NULL)")
    query = f"SELECT id, CAST(born AS CHAR) AS born FROM {name}"
    try:
        async with connect({"s": {"table": name, "key": "id", "query": query}}) as connector:
            [batch] = await read_all(connector, "s", None, 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert batch.records == [{"id": 1, "born": "2024-05-01"}, {"id": 2, "born": "2024-05-00"}]


@MARIADB
@pytest.mark.parametrize(
    "rows",
    [
        pytest.param("(1, '2024-04-30 12:00:00'), (2, '2024-05-00 10:00:00'), (3, NULL)", id="a-zero-day-at-the-top"),
        pytest.param("(1, '0000-00-00 00:00:00'), (2, '0000-00-00 00:00:00'), (3, NULL)", id="only-zero-dates"),
    ],
)
async def test_a_cursor_whose_highest_value_is_no_real_date_keeps_working(db: Db, connect: Connect, rows: str) -> None:
    """The full read stored the highest cursor as the driver gave it ('2024-05-00 10:00:00', text), and every
    later run failed: "the stored cursor does not fit column updated_at: run the sync with --full", which
    stored the same again."""
    name = db.name("zero_cursor")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, updated_at DATETIME(6))")
    await loosely(db, f"INSERT INTO {name} VALUES {rows}")
    try:
        async with connect({"s": {"table": name, "key": "id", "cursor": "updated_at"}}) as connector:
            full = await read_all(connector, "s", None, 10)
            await db.execute(f"INSERT INTO {name} VALUES (4, '2024-06-01 08:00:00')")
            changes = await read_all(connector, "s", stored(full[-1].checkpoint), 10)
            after = await read_all(connector, "s", stored(changes[-1].checkpoint), 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [record["id"] for batch in full for record in batch.records] == [1, 2, 3]
    assert 4 in [record["id"] for batch in changes for record in batch.records]
    assert changes[-1].checkpoint == {"cursor": datetime(2024, 6, 1, 8)}
    assert [record["id"] for batch in after for record in batch.records] == [4]


@MARIADB
async def test_a_batch_of_changes_that_ends_on_a_zero_day_is_resumed_from_the_real_moment_before_it(
    db: Db, connect: Connect
) -> None:
    name = db.name("zero_pages")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, updated_at DATETIME(6))")
    await loosely(
        db,
        f"INSERT INTO {name} VALUES (1, '2024-04-30 12:00:00'), (2, '2024-05-00 10:00:00'), "
        "(3, '2024-05-00 10:00:00'), (4, '2024-05-01 09:00:00'), (5, '0000-00-00 00:00:00')",
    )
    try:
        async with connect({"s": {"table": name, "key": "id", "cursor": "updated_at"}}) as connector:
            changes = await first_batches(connector, "s", {"cursor": datetime(2024, 4, 1)}, 2, most=5)
            again = await read_all(connector, "s", stored(changes[0].checkpoint), 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [[record["id"] for record in batch.records] for batch in changes] == [[1, 2], [3, 4]]
    assert [record["id"] for batch in again for record in batch.records] == [2, 3, 4]


# --- rows larger than one statement ----------------------------------------------------------------


async def packet_limit(db: Db) -> int:
    async with db.engine.connect() as conn:
        limit = int((await conn.execute(text("SELECT @@max_allowed_packet"))).scalar_one())
    if limit > 64 * 1024 * 1024:
        pytest.skip(f"the server's max_allowed_packet is {limit}: values larger than it would take too long")
    return limit


@MARIADB
async def test_a_row_larger_than_the_server_takes_fails_alone_and_the_batch_is_written(
    db: Db, connect: Connect
) -> None:
    """The server dropped the connection for the statement ("Lost connection to MySQL server during query",
    error 2013): a passing error, so the whole batch was retried at every run, for ever."""
    limit = await packet_limit(db)
    name = db.name("large")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, body LONGTEXT, data LONGBLOB)")
    writes = [
        Write(CREATE, {"id": 1, "body": "small", "data": b"\x00'"}, None),
        Write(CREATE, {"id": 2, "body": "x" * (limit + 1024), "data": None}, None),
        Write(CREATE, {"id": 3, "body": None, "data": b"\x00" * (limit // 2 + 1024)}, None),  # twice as large escaped
        Write(CREATE, {"id": 4, "body": "y" * (limit - 4096), "data": None}, None),  # fits, just
    ]
    try:
        async with connect({"t": {"table": name, "key": "id"}}) as connector:
            await connector.prepare("t", write_fields=["id", "body", "data"])
            results = await connector.write("t", writes)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT id, LENGTH(body), data FROM {name} ORDER BY id"))).all()
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [result.ok for result in results] == [True, False, False, True]
    error = str(results[1].error)
    assert error.startswith(f"db.t: column body holds {(limit + 1026) / 1024 / 1024:.1f} MiB: its row, ")
    assert f"more than the database server takes in one statement (max_allowed_packet = {limit}," in error
    assert "raise max_allowed_packet on the server (SET GLOBAL max_allowed_packet = " in error
    assert "or leave the column out of the sync" in error
    assert "column data holds" in str(results[2].error)
    assert [tuple(row) for row in rows] == [(1, 5, b"\x00'"), (4, limit - 4096, None)]


@MARIADB
async def test_a_source_row_larger_than_the_server_takes_in_one_statement_is_read_whole(
    db: Db, connect: Connect
) -> None:
    limit = await packet_limit(db)
    name = db.name("large_source")
    await db.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, a LONGTEXT, b LONGTEXT)")
    half = limit // 2 + 1024  # each value fits in a statement, the row does not
    await db.execute(f"INSERT INTO {name} VALUES (1, 'one', NULL), (2, :a, NULL), (3, 'three', NULL)", a="a" * half)
    await db.execute(f"UPDATE {name} SET b = :b WHERE id = 2", b="b" * half)
    try:
        async with connect({"s": {"table": name, "key": "id"}}) as connector:
            [batch] = await read_all(connector, "s", None, 10)
    finally:
        await db.execute(f"DROP TABLE {name}")

    assert [record["id"] for record in batch.records] == [1, 2, 3]
    assert len(batch.records[1]["a"]) + len(batch.records[1]["b"]) > limit
