"""Writes: batched upserts, deletes, values converted per column, and failures confined to their rows."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Boolean, Column, Integer, String, text
from sqlalchemy.dialects import postgresql

from app.errors import PermanentError, TransientError
from connectors.base import Write, WriteAction
from connectors.sql import pg_copy, writing
from tests.connectors.sql.conftest import SERVERS, SQLITE, T0, Connect, Db, only, read_all, timestamp
from tests.services import FreshPostgresDatabase

CREATE, UPDATE, DELETE = WriteAction.CREATE, WriteAction.UPDATE, WriteAction.DELETE


def create(id_: int, **fields: Any) -> Write:
    return Write(CREATE, {"id": id_, "name": f"Customer {id_}", **fields}, None)


def names(rows: list[dict[str, Any]]) -> dict[int, str]:
    return {row["id"]: row["name"] for row in rows}


async def test_creates_and_updates_are_upserts_that_can_be_repeated(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 2, "name": "Old", "email": "two@example.com"}])
    writes = [create(1, email="one@example.com"), Write(UPDATE, {"id": 2, "name": "New"}, "2"), create(3)]

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("c", write_fields=["id", "name", "email"])
        first = await connector.write("c", writes)
        again = await connector.write("c", writes)  # a batch retried whole after a lost answer

    assert [(result.target_key, result.error) for result in first] == [("1", None), ("2", None), ("3", None)]
    assert [result.ok for result in again] == [True, True, True]
    rows = await db.rows(table)
    assert names(rows) == {1: "Customer 1", 2: "New", 3: "Customer 3"}
    assert rows[1]["email"] == "two@example.com"  # a column the write leaves out keeps its value


async def test_an_update_without_its_key_in_the_record_goes_by_its_target_key(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 7, "name": "Old"}])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        (result,) = await connector.write("c", [Write(UPDATE, {"name": "New"}, "7")])

    assert result.ok and result.target_key == "7"
    assert names(await db.rows(table)) == {7: "New"}


async def test_the_same_key_twice_in_a_batch_is_written_in_order(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        results = await connector.write("c", [create(1, email="a@x.se"), Write(UPDATE, {"id": 1, "name": "Last"}, "1")])

    assert [result.ok for result in results] == [True, True]
    assert names(await db.rows(table)) == {1: "Last"}


async def test_a_hard_delete_removes_the_row_and_can_be_repeated(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}])

    async with connect({"c": {"table": table.name, "key": "id", "delete": "hard"}}) as connector:
        first = await connector.write("c", [Write(DELETE, None, "1")])
        again = await connector.write("c", [Write(DELETE, None, "1")])

    assert [result.target_key for result in first + again] == ["1", "1"]
    assert all(result.ok for result in first + again)
    assert names(await db.rows(table)) == {2: "B"}


async def test_a_soft_delete_sets_the_column_once_and_a_later_write_revives_the_row(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}])
    stream = {"c": {"table": table.name, "key": "id", "delete": {"soft": "deleted_at"}}}

    async with connect(stream) as connector:
        before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
        await connector.write("c", [Write(DELETE, None, "1")])
        deleted = (await db.rows(table))[0]["deleted_at"]
        await connector.write("c", [Write(DELETE, None, "1")])
        kept = (await db.rows(table))[0]["deleted_at"]
        await connector.write("c", [Write(UPDATE, {"id": 1, "name": "A again"}, "1")])
        revived = (await db.rows(table))[0]

    assert isinstance(deleted, datetime)
    assert before <= deleted <= datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)  # UTC in a naive column
    assert kept == deleted  # the first deletion time stays
    assert revived["deleted_at"] is None
    assert revived["name"] == "A again"
    assert len(await db.rows(table)) == 2


async def test_a_delete_on_a_stream_without_delete_fails_that_write_only(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "A"}])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        deleted, created = await connector.write("c", [Write(DELETE, None, "1"), create(2)])

    assert isinstance(deleted.error, PermanentError)
    assert "the stream has no 'delete' option" in str(deleted.error)
    assert created.ok
    assert names(await db.rows(table)) == {1: "A", 2: "Customer 2"}


async def test_a_value_that_does_not_convert_fails_its_record_alone(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        results = await connector.write(
            "c", [create(1, credit_limit="12.50"), create(2, credit_limit="abc"), create(3, born="not a date")]
        )

    assert [result.ok for result in results] == [True, False, False]
    assert isinstance(results[1].error, PermanentError)
    assert re.match(
        r"db.c: column credit_limit \((NUMERIC|DECIMAL)\(12, 2\)\): cannot convert 'abc' to a decimal",
        str(results[1].error),
    )
    assert "column born (DATE): cannot convert 'not a date' to a date" in str(results[2].error)
    assert [(row["id"], row["credit_limit"]) for row in await db.rows(table)] == [(1, Decimal("12.50"))]


@SERVERS  # SQLite keeps every number as given, whatever the column's declared scale
@pytest.mark.parametrize("batch", [1, 600], ids=["row-by-row", "as-one-upsert"])
async def test_a_decimal_the_column_would_round_fails_its_record_alone(db: Db, connect: Connect, batch: int) -> None:
    table = await db.customers()  # credit_limit NUMERIC(12, 2)
    fine = [create(number, credit_limit=Decimal("12.5")) for number in range(10, 10 + batch)]
    rounded = [create(1, credit_limit=Decimal("12.505")), create(2, credit_limit=Decimal("0.1234567890123456789"))]
    exact = [create(3, credit_limit=Decimal("7.2500")), create(4, credit_limit="99.99")]

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        results = await connector.write("c", [*rounded, *exact, *fine])

    assert [result.ok for result in results] == [False, False, True, True] + [True] * batch
    assert re.match(
        r"db.c: column credit_limit \((NUMERIC|DECIMAL)\(12, 2\)\): Decimal\('12.505'\) has more digits after the "
        r"point than the column keeps \(2\): it would be rounded",
        str(results[0].error),
    )
    kept = {row["id"]: row["credit_limit"] for row in await db.rows(table)}
    assert (1 not in kept, 2 not in kept, kept[3], kept[4]) == (True, True, Decimal("7.25"), Decimal("99.99"))


async def test_a_record_with_an_unknown_column_or_no_key_fails_alone(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        results = await connector.write(
            "c", [create(1, phone="123"), Write(CREATE, {"name": "No key"}, None), create(3)]
        )

    assert [result.ok for result in results] == [False, False, True]
    assert "has no column phone" in str(results[0].error)
    assert "the record has no value for the key column id" in str(results[1].error)
    assert names(await db.rows(table)) == {3: "Customer 3"}


@SQLITE  # a column of no type takes any value as it is: a list or an object reaches the key
@pytest.mark.parametrize("batch", [1, 600], ids=["row-by-row", "as-one-upsert"])
async def test_a_key_that_is_an_object_or_a_list_fails_alone(db: Db, connect: Connect, batch: int) -> None:
    await db.execute("CREATE TABLE loose (id PRIMARY KEY, name TEXT)")
    good = [Write(CREATE, {"id": number, "name": f"N{number}"}, None) for number in range(batch)]
    bad = [Write(CREATE, {"id": {"a": 1}, "name": "object"}, None), Write(CREATE, {"id": [1, 2], "name": "list"}, None)]

    async with connect({"c": {"table": "loose", "key": "id"}}) as connector:
        results = await connector.write("c", [*bad, *good])

    assert [result.ok for result in results] == [False, False] + [True] * batch
    assert "the record's key column id would get an object, which no key column holds" in str(results[0].error)
    assert "the record's key column id would get a list" in str(results[1].error)


async def test_a_constraint_violation_fails_only_its_row(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "A", "email": "taken@example.com"}])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        results = await connector.write(
            "c",
            [
                create(2, email="free@example.com"),
                create(3, email="taken@example.com"),  # unique email
                Write(CREATE, {"id": 4, "name": None}, None),  # name is NOT NULL
                create(5, email="other@example.com"),
            ],
        )

    assert [result.ok for result in results] == [True, False, False, True]
    assert all(isinstance(result.error, PermanentError) for result in results[1:3])
    assert str(results[1].error).startswith("db.c: writing 3: ")
    for refused in results[1:3]:  # the database's words, never the row's values (records' data)
        assert "taken@example.com" not in str(refused.error) and "Customer" not in str(refused.error), refused.error
    assert names(await db.rows(table)) == {1: "A", 2: "Customer 2", 5: "Customer 5"}


async def test_values_round_trip_in_their_own_types(db: Db, connect: Connect) -> None:
    table = await db.customers()
    stream = {"c": {"table": table.name, "key": "id", "cursor": "updated_at"}}
    moment = datetime(2024, 5, 1, 12, 30, 15, 123456)

    async with connect(stream) as connector:
        results = await connector.write(
            "c",
            [
                create(
                    1,
                    name="Åsa Öberg-Ängström 😀",
                    credit_limit=Decimal("1234.56"),
                    active=True,
                    born=date(1990, 2, 28),
                    updated_at=moment,
                ),
                # as text, from a CSV: converted per column
                create(
                    2,
                    credit_limit="0.10",
                    active="no",
                    born="2001-12-31",
                    updated_at="2024-05-01T14:30:15.123456+02:00",
                ),
                # a midnight timestamp is its date (another time of day fails its record: test_lossy_values)
                create(3, credit_limit=7, active=1, born=datetime(2020, 1, 2), updated_at=date(2024, 5, 2)),
            ],
        )
        (batch,) = await read_all(connector, "c", None, 10)

    assert all(result.ok for result in results)
    one, two, three = batch.records
    assert (one["name"], one["credit_limit"], bool(one["active"]), one["born"], one["updated_at"]) == (
        "Åsa Öberg-Ängström 😀",
        Decimal("1234.56"),
        True,
        date(1990, 2, 28),
        moment,
    )
    assert (two["credit_limit"], bool(two["active"]), two["born"], two["updated_at"]) == (
        Decimal("0.10"),
        False,
        date(2001, 12, 31),
        moment,  # an aware moment goes into a naive column as UTC
    )
    assert (three["credit_limit"], three["born"], three["updated_at"]) == (
        Decimal("7.00"),
        date(2020, 1, 2),
        datetime(2024, 5, 2),
    )


@only("postgresql")  # the one that keeps time zones in a column
async def test_a_column_with_a_time_zone_keeps_moments_and_takes_naive_ones_as_utc(db: Db, connect: Connect) -> None:
    table = await db.create(
        "events", Column("id", Integer, primary_key=True, autoincrement=False), Column("at", timestamp(timezone=True))
    )

    async with connect({"e": {"table": table.name, "key": "id"}}) as connector:
        await connector.write(
            "e",
            [
                Write(CREATE, {"id": 1, "at": datetime(2024, 5, 1, 12, 0)}, None),
                Write(CREATE, {"id": 2, "at": "2024-05-01T14:00:00+02:00"}, None),
            ],
        )

    assert [row["at"] for row in await db.rows(table)] == [T0.replace(tzinfo=UTC)] * 2
    assert (await db.rows(table))[0]["at"].astimezone(timezone(timedelta(hours=2))).hour == 14


async def test_a_large_batch_is_one_upsert_and_a_bad_row_in_it_fails_alone(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "A", "email": "taken@example.com"}])
    count = 1200  # above the COPY threshold on PostgreSQL

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        first = await connector.write("c", [create(i, credit_limit=f"{i}.25") for i in range(1, count + 1)])
        second = await connector.write(
            "c", [create(i, name=f"N{i}", email="taken@example.com" if i == 600 else None) for i in range(2, count + 1)]
        )

    assert all(result.ok for result in first)
    assert [result.target_key for result in second if not result.ok] == ["600"]
    rows = await db.rows(table)
    assert len(rows) == count
    assert (rows[0]["name"], rows[0]["email"], rows[0]["credit_limit"]) == (
        "Customer 1",
        "taken@example.com",
        Decimal("1.25"),
    )
    assert rows[599]["name"] == "Customer 600"
    assert rows[-1]["name"] == f"N{count}" and rows[-1]["credit_limit"] == Decimal(f"{count}.25")


async def test_a_table_of_only_key_columns_can_be_written(db: Db, connect: Connect) -> None:
    table = await db.create("tags", Column("tag", String(20), primary_key=True))

    async with connect({"t": {"table": table.name, "key": "tag"}}) as connector:
        results = await connector.write(
            "t", [Write(CREATE, {"tag": "a"}, None)] * 2 + [Write(CREATE, {"tag": "b"}, None)]
        )

    assert [result.target_key for result in results] == ["a", "a", "b"]
    assert [row["tag"] for row in await db.rows(table)] == ["a", "b"]


async def test_an_empty_batch_writes_nothing(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        assert await connector.write("c", []) == []


@only("postgresql")
@pytest.mark.parametrize("batch", [2, 600], ids=["row-by-row", "by-copy"])
async def test_a_citext_column_takes_and_gives_text(db: Db, connect: Connect, batch: int) -> None:
    try:
        await db.execute("CREATE EXTENSION IF NOT EXISTS citext")
    except Exception as exc:  # whatever the server says: it has not the extension
        pytest.skip(f"this PostgreSQL server has no citext extension (postgresql-contrib): {exc}")
    name = db.name("tags")
    await db.execute(f"CREATE TABLE {name} (code citext PRIMARY KEY, label citext)")
    writes = [Write(CREATE, {"code": f"K{number}", "label": f"Åsa {number}"}, None) for number in range(batch)]

    async with connect({"t": {"table": name, "key": "code"}}) as connector:
        results = await connector.write("t", writes)
        found = await connector.get("t", ["K1", "k0"])
        batches = await read_all(connector, "t", None, 1000)

    assert all(result.ok for result in results), [str(result.error) for result in results if not result.ok]
    assert found["K1"] == {"code": "K1", "label": "Åsa 1"}
    assert len([record for read in batches for record in read.records]) == batch
    await db.execute(f"DROP TABLE {name}")


@only("postgresql")
async def test_a_large_postgresql_batch_goes_by_copy(db: Db, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    table = await db.customers()
    copies: list[int] = []
    real = pg_copy.copy_upsert_tuples

    async def counted(*args: Any, **options: Any) -> set[tuple[Any, ...]]:
        copies.append(len(args[-1]))
        return await real(*args, **options)

    monkeypatch.setattr(writing, "copy_upsert_tuples", counted)  # like rows: the column-by-column way

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        small = await connector.write("c", [create(i) for i in range(1, 11)])
        large = await connector.write("c", [create(i, born="2020-02-29", active="yes") for i in range(1, 1001)])
        again = await connector.write("c", [create(i, name=f"again {i}") for i in range(1, 1001)])

    assert copies == [1000, 1000]
    assert all(result.ok for result in small + large + again)
    rows = await db.rows(table)
    assert len(rows) == 1000
    assert (rows[500]["name"], rows[500]["born"], rows[500]["active"]) == ("again 501", date(2020, 2, 29), True)


@only("postgresql")
async def test_postgresql_batches_by_copy_share_one_stage_table_left_empty_even_by_a_failed_batch(
    db: Db, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1000, "name": "Other", "email": "taken@example.com"}])
    outcomes: list[str] = []
    real = pg_copy.copy_upsert_tuples

    async def watched(*args: Any, **options: Any) -> set[tuple[Any, ...]]:
        try:
            found = await real(*args, **options)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
            raise
        outcomes.append("ok")
        return found

    monkeypatch.setattr(writing, "copy_upsert_tuples", watched)
    stage = pg_copy.stage_table_name(postgresql.dialect(), table, ["id", "name", "email"])  # type: ignore[no-untyped-call]

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        first = await connector.write("c", [create(i, email=f"{i}@example.com") for i in range(1, 601)])
        clash = [create(i, email="taken@example.com" if i == 300 else f"new{i}@example.com") for i in range(1, 601)]
        second = await connector.write("c", clash)  # refused whole by the database: row by row, one fails
        third = await connector.write("c", [create(i, name=f"third {i}", email=None) for i in range(1, 601)])
        async with db.engine.connect() as conn:
            stages = (
                await conn.execute(text("SELECT count(*) FROM pg_class WHERE relname = :name"), {"name": stage})
            ).scalar()

    # a stage with the second batch's rows left in it would have failed the third, with the same keys
    assert outcomes == ["ok", "UniqueViolationError", "ok"]
    assert stages == 1  # made once for the connection, kept, not made and dropped per batch
    assert all(result.ok for result in first + third)
    assert [result.target_key for result in second if not result.ok] == ["300"]
    rows = await db.rows(table)
    assert [row["name"] for row in rows] == [*(f"third {i}" for i in range(1, 601)), "Other"]


@only("postgresql")
async def test_overlapping_postgresql_writes_change_the_table_in_the_order_they_were_made(
    db: Db, connect: Connect
) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("c", write_fields=["id", "name"])
        assert connector.overlapping_writes("c")
        # the second, smaller batch is staged first: made to wait for its turn, it still lands last
        first, second = await asyncio.gather(
            connector.write("c", [create(i, name="first") for i in range(1, 30001)]),
            connector.write("c", [create(i, name="second") for i in range(1, 11)]),
        )

    assert all(result.ok for result in first + second)
    assert [result.created for result in second] == [False] * 10
    rows = await db.rows(table)
    assert [row["name"] for row in rows] == ["second"] * 10 + ["first"] * 29990


@only("postgresql")
async def test_a_connection_lost_under_a_postgresql_copy_is_not_used_again(db: Db, connect: Connect) -> None:
    async with FreshPostgresDatabase() as url:  # a database of its own: every other session there is the connector's
        admin = await asyncpg.connect(url)
        try:
            await admin.execute("CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL)")
            async with connect({"c": {"table": "customers", "key": "id"}}, url=url) as connector:
                await connector.write("c", [create(i) for i in range(1, 601)])
                await admin.execute(  # a restart, a dropped connection
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                with pytest.raises(TransientError):
                    await connector.write("c", [create(i, name="lost") for i in range(1, 601)])
                again = await connector.write("c", [create(i, name="again") for i in range(1, 601)])

            assert all(result.ok for result in again)
            assert {row["name"] for row in await admin.fetch("SELECT name FROM customers")} == {"again"}
        finally:
            await admin.close()


async def test_a_boolean_soft_delete_column_is_set_true_and_cleared_by_a_later_write(db: Db, connect: Connect) -> None:
    table = await db.create(
        "flagged",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(20)),
        Column("removed", Boolean, nullable=False, default=False),
    )
    await db.insert(table, [{"id": 1, "name": "A", "removed": False}])
    stream = {"f": {"table": table.name, "key": "id", "delete": {"soft": "removed"}}}

    async with connect(stream) as connector:
        await connector.write("f", [Write(DELETE, None, "1")])
        deleted = (await db.rows(table))[0]["removed"]
        await connector.write("f", [Write(UPDATE, {"id": 1, "name": "B"}, "1")])
        revived = (await db.rows(table))[0]["removed"]

    assert (bool(deleted), bool(revived)) == (True, False)


async def test_a_soft_delete_column_of_another_type_is_refused(db: Db, connect: Connect) -> None:
    table = await db.create(
        "counted", Column("id", Integer, primary_key=True, autoincrement=False), Column("removed", Integer)
    )

    async with connect({"c": {"table": table.name, "key": "id", "delete": {"soft": "removed"}}}) as connector:
        with pytest.raises(
            PermanentError, match=r"soft-delete column removed is INTEGER(\(11\))?: it must be a date, datetime"
        ):
            await connector.prepare("c", write_fields=["id"])


async def test_a_clash_on_another_unique_column_fails_its_row_and_never_overwrites_another(
    db: Db, connect: Connect
) -> None:
    """MariaDB's ON DUPLICATE KEY UPDATE would take the clash on email for one on the key, and update the wrong row."""
    table = await db.create(
        "accounts",
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("account_no", String(10), nullable=False, unique=True),
        Column("email", String(50), unique=True),
        Column("name", String(50)),
    )
    await db.insert(
        table,
        [{"account_no": "A1", "email": "a@x.se", "name": "A"}, {"account_no": "B1", "email": "b@x.se", "name": "B"}],
    )

    async with connect({"a": {"table": table.name, "key": "account_no"}}) as connector:
        results = await connector.write(
            "a",
            [
                Write(CREATE, {"account_no": "C1", "email": "a@x.se", "name": "C"}, None),  # A1's email
                Write(UPDATE, {"account_no": "B1", "email": "a@x.se", "name": "B2"}, "B1"),  # A1's email
                Write(UPDATE, {"account_no": "A1", "email": "a@x.se", "name": "A2"}, "A1"),
                Write(CREATE, {"account_no": "D1", "email": "d@x.se", "name": "D"}, None),
            ],
        )
        again = await connector.write("a", [Write(UPDATE, {"account_no": "D1", "name": "D2"}, "D1")])

    assert [result.ok for result in results + again] == [False, False, True, True, True]
    rows = {row["account_no"]: (row["email"], row["name"]) for row in await db.rows(table)}
    assert rows == {"A1": ("a@x.se", "A2"), "B1": ("b@x.se", "B"), "D1": ("d@x.se", "D2")}


@only("postgresql")
async def test_postgresql_says_which_upserted_rows_were_new(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "Old"}])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("c", write_fields=["id", "name"])
        assert connector.reports_created("c")
        results = await connector.write("c", [Write(CREATE, {"id": 1, "name": "A"}, None), create(2)])

    assert [(result.target_key, result.created) for result in results] == [("1", False), ("2", True)]


@only("postgresql")
async def test_postgresql_says_which_rows_were_new_in_a_batch_of_like_rows_and_of_key_columns_only(
    db: Db, connect: Connect
) -> None:
    customers = await db.customers()
    await db.insert(customers, [{"id": 1, "name": "Old"}])
    tags = await db.create("known_tags", Column("tag", String(20), primary_key=True))
    await db.insert(tags, [{"tag": "a"}])

    async with connect({"c": {"table": customers.name, "key": "id"}, "t": {"table": tags.name, "key": "tag"}}) as sql:
        await sql.prepare("c", write_fields=["id", "name"])
        await sql.prepare("t", write_fields=["tag"])
        like = await sql.write(
            "c", [Write(CREATE, {"id": 1, "name": "A"}, None), Write(CREATE, {"id": 2, "name": "B"}, None)]
        )
        keys = await sql.write("t", [Write(CREATE, {"tag": "a"}, None), Write(CREATE, {"tag": "b"}, None)])

    assert [(result.target_key, result.created) for result in like] == [("1", False), ("2", True)]
    assert [(result.target_key, result.created) for result in keys] == [("a", False), ("b", True)]
    assert [row["tag"] for row in await db.rows(tags)] == ["a", "b"]


@only("mariadb")
async def test_a_server_that_is_not_strict_still_refuses_what_it_would_cut(db: Db, connect: Connect) -> None:
    """A MariaDB/MySQL server (or URL ``init_command``) without strict mode stores a value too long for its
    column cut, and a number beyond the column's range as the column's largest, with only a warning: each
    was counted written, its value changed. Brygga's sessions are strict: the record fails alone."""
    table = await db.create(
        "loose",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(5)),
        Column("n", Integer),
    )
    url = db.url + "?init_command=" + "SET sql_mode=''".replace(" ", "%20").replace("'", "%27")
    writes = [
        Write(CREATE, {"id": 1, "name": "short", "n": 1}, None),
        Write(CREATE, {"id": 2, "name": "much too long", "n": 2}, None),
        Write(CREATE, {"id": 3, "name": "ok", "n": 99_999_999_999}, None),
    ]

    async with connect({"c": {"table": table.name, "key": "id"}}, url=url) as connector:
        await connector.prepare("c", write_fields=["id", "name", "n"])
        results = await connector.write("c", writes)

    assert [result.ok for result in results] == [True, False, False]
    assert "Data too long for column 'name'" in str(results[1].error)
    assert "column n (INTEGER(11)): 99999999999 is beyond what the column's type holds" in str(results[2].error)
    assert await db.rows(table) == [{"id": 1, "name": "short", "n": 1}]
