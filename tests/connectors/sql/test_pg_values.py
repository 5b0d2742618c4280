"""PostgreSQL values that Python's types cannot hold: each row holding one is read, and fails alone where mapped.

Dates before year 1 or after 9999, ``infinity``, ``time '24:00'`` and JSON
nested too deeply failed every read of their table (asyncpg raised for the
whole batch), or were read as another value (``infinity`` as 9999-12-31).
And asyncpg wrote 9999-12-31 as ``infinity``. JSON nested deeper than the
parser recurses is read as webhooks and REST pages read it: the lists and
objects below 254 levels are an unreadable value.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Date, Integer, Text, Time, select
from sqlalchemy.dialects import postgresql

from app.mapping.conversions import ConversionError, to_date
from app.mapping.hashing import UnfitRecordError, mapped_hash
from app.records import dumps, loads
from connectors.base import UnreadableValue, Write, WriteAction
from connectors.sql import pg_exact
from tests.connectors.sql.conftest import Connect, Db, ids, only, read_all, timestamp

pytestmark = only("postgresql")

BAD_ROWS = {  # id → (column, PostgreSQL's value, its text as Brygga keeps it)
    2: ("born", "'0044-03-15 BC'", "0044-03-15 BC"),
    3: ("stamped", "'294276-01-01 10:00'", "294276-01-01 10:00:00"),
    4: ("opens", "'24:00'", "24:00:00"),
    6: ("born", "'infinity'", "infinity"),
    7: ("stamped", "'-infinity'", "-infinity"),
    8: ("seen", "'0001-01-01 00:00:00+00 BC'", "0001-01-01 00:00:00+00 BC"),
    9: ("closes", "'24:00:00+02'", "24:00:00+02"),
    12: ("seen", "'infinity'", "infinity"),
}


DEEP_JSON = 1200
"""Levels of the JSON in row 5: deeper than orjson (1024) and the standard parser (~1,000) recurse."""


def assert_cut(body: Any) -> None:
    """``body`` is row 5's JSON read to the cut, with what is below it an unreadable value."""
    levels = 0
    while isinstance(body, list):
        [body] = body
        levels += 1
    assert levels == 254 and isinstance(body, UnreadableValue), (levels, body)
    assert body.text == "a list or object nested deeper than 254 levels"


async def _values_table(db: Db) -> Any:
    table = await db.create(
        "values",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("born", Date),
        Column("stamped", timestamp()),
        Column("seen", timestamp(timezone=True)),
        Column("opens", Time),
        Column("closes", postgresql.TIME(timezone=True)),
        Column("body", postgresql.JSONB),
        Column("days", postgresql.ARRAY(Date)),
    )
    good = "(1, '2024-05-01', '2024-05-01 12:00', '2024-05-01 12:00+00', '08:30', '08:30+02', '{\"a\": 1}', NULL)"
    rows = [good, *(_row(id_, column, value) for id_, (column, value, _) in BAD_ROWS.items())]
    rows += [_row(5, "body", f"(repeat('[', {DEEP_JSON}) || repeat(']', {DEEP_JSON}))::jsonb")]
    last = "'9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00'"  # real, not infinity
    rows += [f"(10, {last}, NULL, NULL, NULL, NULL)"]
    rows += ["(11, NULL, NULL, NULL, NULL, NULL, NULL, ARRAY['2024-05-01', '0044-03-15 BC']::date[])"]
    columns = "id, born, stamped, seen, opens, closes, body, days"
    await db.execute(f"INSERT INTO {table.name} ({columns}) VALUES {', '.join(rows)}")
    return table


def _row(id_: int, column: str, value: str) -> str:
    columns = ["born", "stamped", "seen", "opens", "closes", "body", "days"]
    return "(" + ", ".join([str(id_), *(value if name == column else "NULL" for name in columns)]) + ")"


async def test_every_row_of_a_table_is_read_and_each_value_python_cannot_hold_is_unreadable(
    db: Db, connect: Connect
) -> None:
    table = await _values_table(db)

    async with connect({"v": {"table": table.name, "key": "id"}}) as connector:
        batches = await read_all(connector, "v", None, 3)

    records = {record["id"]: record for batch in batches for record in batch.records}
    assert ids(batches) == list(range(1, 13))
    assert_cut(records[5]["body"])
    assert records[1] == {
        "id": 1,
        "born": date(2024, 5, 1),
        "stamped": datetime(2024, 5, 1, 12),
        "seen": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "opens": time(8, 30),
        "closes": time(8, 30, tzinfo=_zone(hours=2)),
        "body": {"a": 1},
        "days": None,
    }
    for id_, (column, _, text) in BAD_ROWS.items():
        value = records[id_][column]
        assert isinstance(value, UnreadableValue), (id_, value)
        assert (value.text, value.where) == (text, f"db.v, column {column}")
        assert value.why is not None and f"read the column as text in the stream's query ({column}::text)" in value.why
        assert [name for name, other in records[id_].items() if other is not None] == ["id", column]
    assert records[10]["born"] == date(9999, 12, 31)  # a real 9999-12-31 is one
    assert records[10]["stamped"] == datetime.max
    assert records[10]["seen"] == datetime.max.replace(tzinfo=UTC)
    (old,) = [value for value in records[11]["days"] if isinstance(value, UnreadableValue)]
    assert records[11]["days"][0] == date(2024, 5, 1)
    assert (old.text, old.where) == ("0044-03-15 BC", "db.v, column days")


def _zone(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


async def test_the_messages_say_what_the_value_is_and_what_to_do(db: Db, connect: Connect) -> None:
    table = await _values_table(db)

    async with connect({"v": {"table": table.name, "key": "id"}}) as connector:
        found = await connector.get("v", ["2", "5", "6"])

    born = found["2"]["born"]
    with pytest.raises(UnfitRecordError) as caught:
        mapped_hash({"birthday": born}, "people", "2")
    assert str(caught.value).endswith(
        "field 'birthday' holds 0044-03-15 BC (db.v, column born): a date outside the years 1 to 9999, which "
        "Brygga cannot hold: read the column as text in the stream's query (born::text)"
    )
    with pytest.raises(ConversionError, match=r"cannot convert infinity \(db.v, column born: infinity is no date"):
        to_date(found["6"]["born"])
    assert "isfinite(born)" in str(found["6"]["born"].why)
    assert_cut(found["5"]["body"])
    with pytest.raises(UnfitRecordError, match=r"field 'doc' is nested deeper than 254 levels"):
        mapped_hash({"doc": found["5"]["body"]}, "people", "5")
    assert loads(dumps(found["6"])) == found["6"]  # a dead letter keeps it, and its message


async def test_a_bad_row_at_every_place_of_every_batch_never_skips_or_repeats_a_row(db: Db, connect: Connect) -> None:
    table = await _values_table(db)

    async with connect({"v": {"table": table.name, "key": "id"}}) as connector:
        for size in (1, 2, 4, 5):
            batches = await read_all(connector, "v", None, size)
            assert ids(batches) == list(range(1, 13)), size
            records = {record["id"]: record for batch in batches for record in batch.records}
            for id_, (column, _, text) in BAD_ROWS.items():
                assert isinstance(records[id_][column], UnreadableValue) and str(records[id_][column]) == text
            assert_cut(records[5]["body"])


@pytest.mark.parametrize("size", [1, 3])
async def test_a_timestamptz_infinity_is_told_from_its_last_real_moment(db: Db, connect: Connect, size: int) -> None:
    table = await db.create(
        "moments", Column("id", Integer, primary_key=True, autoincrement=False), Column("seen", timestamp(True))
    )
    last = "9999-12-31 23:59:59.999999+00"
    await db.execute(f"INSERT INTO {table.name} VALUES (1, '2024-05-01 12:00+00'), (2, 'infinity'), (3, '{last}')")

    async with connect({"m": {"table": table.name, "key": "id"}}) as connector:
        batches = await read_all(connector, "m", None, size)

    seen = [record["seen"] for batch in batches for record in batch.records]
    assert seen[0] == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert isinstance(seen[1], UnreadableValue) and seen[1].text == "infinity"
    assert seen[2] == datetime.max.replace(tzinfo=UTC)


async def _spans_table(db: Db) -> Any:
    table = await db.create(
        "spans",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("days", postgresql.ARRAY(Date)),
        Column("seen", postgresql.ARRAY(timestamp(timezone=True))),
        Column("period", postgresql.DATERANGE),
        Column("stay", postgresql.TSTZRANGE),
    )
    rows = [
        "(1, ARRAY['2024-05-01']::date[], ARRAY['2024-05-01 12:00+00']::timestamptz[], '[2024-05-01,2024-06-01)',"
        " '[2024-05-01 00:00+00,2024-06-01 00:00+00)')",
        "(2, ARRAY['2024-05-01', 'infinity']::date[], NULL, NULL, NULL)",
        "(3, NULL, ARRAY[ARRAY['-infinity']]::timestamptz[], NULL, NULL)",
        "(4, NULL, NULL, daterange('2024-05-01', 'infinity'), NULL)",
        "(5, NULL, NULL, NULL, tstzrange('-infinity', '2024-05-01 00:00+00'))",
        "(6, ARRAY['9999-12-31']::date[], ARRAY['9999-12-31 23:59:59.999999+00']::timestamptz[],"
        " daterange('2024-05-01', '9999-12-31'), tstzrange('2024-05-01 00:00+00', NULL))",
    ]
    await db.execute(f"INSERT INTO {table.name} (id, days, seen, period, stay) VALUES {', '.join(rows)}")
    return table


@pytest.mark.parametrize("size", [1, 2, 6])
async def test_an_infinity_in_an_array_or_a_range_is_unreadable_and_its_record_fails_alone(
    db: Db, connect: Connect, size: int
) -> None:
    """asyncpg reads ``infinity`` in an array or as a range's bound as 9999-12-31 (``-infinity`` as
    0001-01-01), as it does alone; only the scalar was told apart, so such a record synced a date the row
    does not hold."""
    table = await _spans_table(db)

    async with connect({"s": {"table": table.name, "key": "id"}}) as connector:
        batches = await read_all(connector, "s", None, size)

    records = {record["id"]: record for batch in batches for record in batch.records}
    assert sorted(records) == [1, 2, 3, 4, 5, 6]
    where = "db.s, column "
    good, infinite = records[2]["days"]
    assert good == date(2024, 5, 1) and isinstance(infinite, UnreadableValue), infinite
    assert (infinite.text, infinite.where) == ("infinity", where + "days")
    assert infinite.why is not None and "(days::text)" in infinite.why and "isfinite" not in infinite.why
    [[minus]] = records[3]["seen"]
    assert isinstance(minus, UnreadableValue) and minus.text == "-infinity", minus
    period, stay = records[4]["period"], records[5]["stay"]
    assert isinstance(period, UnreadableValue) and isinstance(stay, UnreadableValue), (period, stay)
    assert (period.text, period.where) == ("[2024-05-01,infinity)", where + "period")
    assert period.why is not None and "a range with the bound infinity" in period.why
    assert stay.text.startswith("[-infinity,2024-05-01") and "(stay::text)" in str(stay.why)
    for id_, field in [(2, "days"), (3, "seen"), (4, "period"), (5, "stay")]:
        with pytest.raises(UnfitRecordError, match=rf"field '{field}' holds (-)?infinity|field '{field}' holds \["):
            mapped_hash({field: records[id_][field]}, "spans", str(id_))
    assert records[6]["days"] == [date(9999, 12, 31)]  # real dates, read as themselves
    assert records[6]["seen"] == [datetime.max.replace(tzinfo=UTC)]
    assert (records[6]["period"].lower, records[6]["period"].upper) == (date(2024, 5, 1), date(9999, 12, 31))
    assert records[1]["days"] == [date(2024, 5, 1)] and records[1]["period"].upper == date(2024, 6, 1)


async def test_a_query_reads_an_infinity_in_a_range_or_an_array_as_unreadable_too(db: Db, connect: Connect) -> None:
    """A query's columns are read by the driver itself where it can (asyncpg's own ranges, not SQLAlchemy's)."""
    table = await _spans_table(db)
    query = f"SELECT id, period, days FROM {table.name} WHERE id IN (1, 2, 4, 6)"

    async with connect({"q": {"query": query, "key": "id"}}) as connector:
        (batch,) = await read_all(connector, "q", None, 10)

    records = {record["id"]: record for batch in [batch] for record in batch.records}
    assert isinstance(records[4]["period"], UnreadableValue) and records[4]["period"].text == "[2024-05-01,infinity)"
    assert isinstance(records[2]["days"][1], UnreadableValue)
    assert records[6]["period"].upper == date(9999, 12, 31) and records[6]["days"] == [date(9999, 12, 31)]


async def test_a_query_stream_reads_its_bad_rows_too(db: Db, connect: Connect) -> None:
    table = await _values_table(db)
    query = f"SELECT id, born, born::text AS born_text FROM {table.name} WHERE id IN (1, 2, 6)"

    async with connect({"q": {"query": query, "key": "id"}}) as connector:
        (batch,) = await read_all(connector, "q", None, 10)

    assert [(record["born_text"], str(record["born"])) for record in batch.records] == [
        ("2024-05-01", "2024-05-01"),
        ("0044-03-15 BC", "0044-03-15 BC"),
        ("infinity", "infinity"),
    ]
    assert isinstance(batch.records[2]["born"], UnreadableValue)


async def _cursor_table(db: Db) -> Any:
    table = await db.create(
        "changes",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", Text),
        Column("updated_at", timestamp()),
    )
    stamps = ["'2024-01-01'", "'infinity'", "'294276-01-01'", "'2024-01-02'", "'0044-01-01 BC'", "'2024-01-03'"]
    stamps += ["'-infinity'", "'9999-12-31 23:59:59.999999'"]
    values = ", ".join(f"({index}, 'n{index}', {stamp})" for index, stamp in enumerate(stamps, 1))
    await db.execute(f"INSERT INTO {table.name} VALUES {values}")
    return table


@pytest.mark.parametrize("size", [1, 2, 3, 10])
async def test_a_cursor_past_what_python_holds_is_never_stored_and_blocks_no_later_change(
    db: Db, connect: Connect, size: int
) -> None:
    table = await _cursor_table(db)
    stream = {"c": {"table": table.name, "key": "id", "cursor": "updated_at"}}

    async with connect(stream) as connector:
        full = await read_all(connector, "c", None, size)
        changes = await read_all(connector, "c", full[-1].checkpoint, size)
        await db.execute(f"INSERT INTO {table.name} VALUES (9, 'later', '2024-02-01')")
        later = await read_all(connector, "c", changes[-1].checkpoint, size)

    assert sorted(ids(full)) == list(range(1, 9))
    assert full[-1].checkpoint == {"cursor": datetime(2024, 1, 3)}  # the greatest Brygga holds, not infinity
    assert sorted(ids(changes)) == [2, 3, 6, 8]  # at or past the cursor: read again, never skipped
    assert sorted(ids(later)) == [2, 3, 6, 8, 9]
    assert later[-1].checkpoint == {"cursor": datetime(2024, 2, 1)}
    for batch in [*full, *changes, *later]:
        assert json.dumps(batch.checkpoint, default=str)  # a checkpoint as the state store keeps it
        cursor = batch.checkpoint.get("cursor")
        assert cursor is None or datetime(2024, 1, 1) <= cursor <= datetime(2024, 2, 1), batch.checkpoint
        after = batch.checkpoint.get("full", {}).get("after") or []
        assert all(isinstance(value, int) for value in after)


async def test_a_dead_letter_of_a_bad_row_is_looked_up_by_its_key_again(db: Db, connect: Connect) -> None:
    table = await _cursor_table(db)

    async with connect({"c": {"table": table.name, "key": "id", "cursor": "updated_at"}}) as connector:
        found = await connector.get("c", ["1", "2", "3", "8"])

    assert found["1"]["updated_at"] == datetime(2024, 1, 1)
    assert str(found["2"]["updated_at"]) == "infinity"
    assert str(found["3"]["updated_at"]) == "294276-01-01 00:00:00"
    assert found["8"]["updated_at"] == datetime.max


async def test_an_ordinary_table_is_read_the_usual_way_only(
    db: Db, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = await _cursor_table(db)
    await db.execute(f"DELETE FROM {table.name} WHERE id IN (2, 3, 5, 7, 8)")
    many = await db.create(
        "open_ended",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("valid_to", Date),
    )
    # as text: asyncpg sends date(9999, 12, 31) as infinity
    await db.execute(f"INSERT INTO {many.name} SELECT g, '9999-12-31' FROM generate_series(0, 49) g")

    def refused(self: pg_exact.ExactReads) -> Any:
        raise AssertionError("read exactly")

    monkeypatch.setattr(pg_exact.ExactReads, "engine", refused)
    streams = {"c": {"table": table.name, "key": "id", "cursor": "updated_at"}, "o": {"table": many.name, "key": "id"}}
    async with connect(streams) as connector:
        plain = await read_all(connector, "c", None, 2)
        open_ended = await read_all(connector, "o", None, 20)  # a real 9999-12-31 is asked about, not read again

    assert ids(plain) == [1, 4, 6]
    assert {record["valid_to"] for batch in open_ended for record in batch.records} == {date(9999, 12, 31)}


@pytest.mark.parametrize("count", [1, 600], ids=["upsert", "copy"])
async def test_the_first_and_last_dates_python_holds_are_written_as_themselves_not_infinity(
    db: Db, connect: Connect, count: int
) -> None:
    table = await db.create(
        "edges",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("valid_to", Date),
        Column("since", timestamp()),
        Column("seen", timestamp(timezone=True)),
    )
    edges = {"valid_to": date.max, "since": datetime.min, "seen": datetime.max.replace(tzinfo=UTC)}
    writes = [Write(WriteAction.CREATE, {"id": index, **edges}, str(index)) for index in range(count)]

    async with connect({"e": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("e", write_fields=list(edges))
        results = await connector.write("e", writes)
        (batch, *_) = await read_all(connector, "e", None, 1)

    assert all(result.error is None for result in results)
    async with db.engine.connect() as conn:
        shown = (await conn.execute(select(table.c.valid_to, table.c.since, table.c.seen).distinct())).all()
        texts = (await conn.exec_driver_sql(f"SELECT DISTINCT valid_to::text, since::text FROM {table.name}")).all()
    assert len(shown) == 1
    assert [tuple(row) for row in texts] == [("9999-12-31", "0001-01-01 00:00:00")]
    assert batch.records[0] == {"id": 0, **edges}


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("date", "0044-03-15 BC"),
        ("date", "4713-11-24 BC"),
        ("date", "0001-12-31 BC"),
        ("date", "5874897-12-31"),
        ("date", "10000-01-01"),
        ("timestamp", "294276-12-31 23:59:59.999999"),
        ("timestamp", "4713-01-01 00:00:00 BC"),
        ("timestamp", "0044-03-15 10:00:00.5 BC"),
        ("timestamptz", "12000-01-01 00:00:00+00"),
        ("timestamptz", "0044-03-15 10:00:00.25+00 BC"),
        ("time", "24:00:00"),
        ("timetz", "24:00:00-05:30"),
    ],
)
async def test_a_value_is_kept_as_postgresql_writes_it(db: Db, connect: Connect, kind: str, text: str) -> None:
    query = f"SELECT 1 AS id, '{text}'::{kind} AS value, '{text}'::{kind}::text AS written"

    async with connect({"q": {"query": query, "key": "id"}}) as connector:
        (batch,) = await read_all(connector, "q", None, 10)

    (record,) = batch.records
    assert isinstance(record["value"], UnreadableValue)
    assert record["value"].text == text  # a timestamptz in UTC; PostgreSQL writes it in the session's zone
    assert record["written"] == text or kind == "timestamptz"
