"""Keys: get, existing_keys and scan_keys; composite keys; query streams."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import cast

from sqlalchemy import Column, Integer, PrimaryKeyConstraint, String, event
from sqlalchemy.dialects import sqlite

from app.records import dumps, format_key, loads
from connectors.base import Write, WriteAction
from connectors.sql.coercion import column_type
from connectors.sql.databases import Backend
from connectors.sql.lookups import KeyLookup
from connectors.sql.streams import StreamShape
from tests.connectors.sql.conftest import T0, Connect, Db, checkpoints, ids, read_all, timestamp


async def test_get_gives_the_records_that_exist_by_the_key_text_asked(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in range(1, 6)])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        found = await connector.get("c", ["2", "4", "99", "abc"])

    assert sorted(found) == ["2", "4"]
    assert found["4"]["name"] == "C4"


async def test_existing_keys_are_the_ones_in_the_table(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in range(1, 6)])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        existing = await connector.existing_keys("c", ["1", "5", "6", "x"])
        nothing = await connector.existing_keys("c", [])

    assert existing == {"1", "5"}
    assert nothing == set()


async def test_keys_beyond_what_the_column_holds_are_not_found_and_fail_no_look_up(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in range(1, 4)])
    beyond = [str(1 << 40), str(1 << 63), str(1 << 64), str(-(1 << 63) - 1), "9" * 30, "-" + "9" * 30]

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        existing = await connector.existing_keys("c", ["1", *beyond])
        found = await connector.get("c", ["2", *beyond])
        mixed = await connector.existing_keys("c", ["3", "x", *beyond])  # not all digits: the careful way

    assert existing == {"1"}
    assert sorted(found) == ["2"]
    assert mixed == {"3"}


async def test_whole_number_keys_are_looked_up_by_number_as_the_texts_asked(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in range(1, 6)])
    asked = ["007", "2", "4", str(1 << 63), str(1 << 64), "9" * 30, "5"]  # digits only: by number, at C speed

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        existing = await connector.existing_keys("c", asked)
        held = await connector.held_keys("c", asked)
        found = await connector.get("c", asked)
        lookup = KeyLookup(connector._shapes["c"], asked)

    assert existing == {"2", "4", "5"}
    assert held == {"2": "2", "4": "4", "5": "5"}
    assert sorted(found) == ["2", "4", "5"]
    assert lookup.by_number == {7: "007", 2: "2", 4: "4", 5: "5"}  # one dict, no tuple and list per key
    assert lookup.by_values == {}


async def test_keys_close_together_are_read_as_one_range_only_those_asked_held(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in range(1, 21)])
    close = ["12", "14", "16", "18", "19", "21", "22"]  # 12 to 22: 11 numbers, under twice the 7 asked
    spread = ["1", "1000", "20"]
    statements: list[str] = []

    def executed(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        await connector.held_keys("c", ["1"])  # the table described before the statements are counted
        event.listen(connector._engine.sync_engine, "before_cursor_execute", executed)
        held = await connector.held_keys("c", close)
        by_range = list(statements)
        existing = await connector.existing_keys("c", spread)
        event.remove(connector._engine.sync_engine, "before_cursor_execute", executed)

    assert held == {key: key for key in ["12", "14", "16", "18", "19"]}  # 13, 15, 17 and 20 held, not asked
    assert existing == {"1", "20"}
    if db.kind == "postgresql":  # one array of them all already
        assert [" IN " in s or "ANY" in s for s in statements] == [True, True]
    else:
        assert len(by_range) == 1 and " BETWEEN " in by_range[0]
        assert " IN " in statements[-1] and " BETWEEN " not in statements[-1]


def test_a_range_is_read_only_where_the_numbers_asked_lie_close_together() -> None:
    shape = _integer_key_shape()

    assert KeyLookup(shape, [str(n) for n in range(100, 5100)]).span() == (100, 5099)
    assert KeyLookup(shape, ["1", "3"]).span() == (1, 3)
    assert KeyLookup(shape, ["1", "5"]).span() is None  # five rows to read for two asked
    assert KeyLookup(shape, [str(n) for n in range(0, 10_000, 3)]).span() is None
    assert KeyLookup(shape, ["a", "b"]).span() is None
    assert KeyLookup(shape, []).span() is None


async def test_lookups_of_many_keys_go_in_chunks(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in range(1, 2501)])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        existing = await connector.existing_keys("c", [str(i) for i in range(0, 3001)])
        found = await connector.get("c", [str(i) for i in range(2400, 2600)])

    assert existing == {str(i) for i in range(1, 2501)}
    assert sorted(found, key=int) == [str(i) for i in range(2400, 2501)]


async def test_scan_keys_gives_every_key_in_batches(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": i, "name": f"C{i}"} for i in (5, 3, 9, 1, 7)])

    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        batches = [keys async for keys in connector.scan_keys("c", 2)]

    assert batches == [["1", "3"], ["5", "7"], ["9"]]


async def _orders(db: Db) -> str:
    table = await db.create(
        "orders",
        Column("branch", String(10), nullable=False),
        Column("number", Integer, nullable=False, autoincrement=False),
        Column("item", String(50)),
        Column("updated_at", timestamp()),
        PrimaryKeyConstraint("branch", "number"),
    )
    rows = [
        {"branch": branch, "number": number, "item": f"{branch}{number}", "updated_at": T0}
        for branch in ("B", "A")
        for number in (2, 1, 10)
    ]
    await db.insert(table, rows)
    return table.name


COMPOSITE = {"key": ["branch", "number"], "cursor": "updated_at"}


async def test_a_composite_key_orders_and_resumes_reads(db: Db, connect: Connect) -> None:
    name = await _orders(db)

    async with connect({"o": {"table": name, **COMPOSITE}}) as connector:
        batches = await read_all(connector, "o", None, 4)
        rest = await read_all(connector, "o", loads(dumps(batches[0].checkpoint)), 4)
        shared = await read_all(connector, "o", {"cursor": T0}, 4)

    expected = ["A1", "A2", "A10", "B1", "B2", "B10"]
    assert ids(batches, "item") == expected
    assert checkpoints(batches)[0] == {"full": {"after": ["B", 1], "start": T0}}
    assert ids(rest, "item") == expected[4:]
    assert ids(shared, "item") == expected  # six rows share one cursor value across batches of 4


async def test_composite_keys_are_looked_up_written_and_deleted_by_their_text(db: Db, connect: Connect) -> None:
    name = await _orders(db)
    b2 = format_key(["B", 2])

    async with connect({"o": {"table": name, **COMPOSITE, "delete": "hard"}}) as connector:
        found = await connector.get("o", [b2, format_key(["C", 1]), "not json"])
        existing = await connector.existing_keys("o", [b2, format_key(["A", 3])])
        keys = [key async for batch in connector.scan_keys("o", 4) for key in batch]
        results = await connector.write(
            "o",
            [
                Write(WriteAction.UPDATE, {"item": "changed"}, b2),
                Write(WriteAction.CREATE, {"branch": "C", "number": "7", "item": "new"}, None),
                Write(WriteAction.DELETE, None, format_key(["A", 10])),
            ],
        )
        after = await connector.get("o", [b2, format_key(["C", 7]), format_key(["A", 10])])

    assert list(found) == [b2]
    assert found[b2]["item"] == "B2"
    assert existing == {b2}
    assert keys[:2] == ['["A","1"]', '["A","2"]']
    assert [result.target_key for result in results] == [b2, '["C","7"]', '["A","10"]']
    assert all(result.ok for result in results)
    assert {key: record["item"] for key, record in after.items()} == {b2: "changed", '["C","7"]': "new"}


async def test_a_query_stream_reads_through_its_query_with_the_same_filters(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(
        table,
        [
            {"id": i, "name": name, "updated_at": T0 + timedelta(seconds=i)}
            for i, name in enumerate(["Anna", "Bo", "Alva", "Ali", "Cilla", "Axel"], start=1)
        ],
    )
    # a ':' in a literal is no parameter, a '%' no placeholder
    query = f"SELECT id, name, updated_at, '10:30' AS opens FROM {table.name} WHERE name LIKE 'A%';"
    stream = {"q": {"query": query, "key": "id", "cursor": "updated_at"}}

    async with connect(stream) as connector:
        full = await read_all(connector, "q", None, 2)
        changes = await read_all(connector, "q", {"cursor": T0 + timedelta(seconds=4)}, 2)
        found = await connector.get("q", ["3", "2"])
        keys = [key async for batch in connector.scan_keys("q", 10) for key in batch]

    assert ids(full) == [1, 3, 4, 6]
    assert full[0].records[0] == {
        "id": 1,
        "name": "Anna",
        "updated_at": full[0].records[0]["updated_at"],
        "opens": "10:30",
    }
    assert checkpoints(full)[-1] == {"cursor": T0 + timedelta(seconds=6)}
    assert ids(changes) == [4, 6]
    assert list(found) == ["3"]
    assert keys == ["1", "3", "4", "6"]


async def test_a_query_stream_on_an_empty_result_reads_nothing(db: Db, connect: Connect) -> None:
    table = await db.customers()
    stream = {"q": {"query": f"SELECT * FROM {table.name}", "key": "id", "cursor": "updated_at"}}

    async with connect(stream) as connector:
        full = await read_all(connector, "q", None, 2)
        found = await connector.get("q", ["1"])

    assert [batch.records for batch in full] == [[]]
    assert checkpoints(full) == [{}]
    assert found == {}


async def test_a_stream_with_a_query_and_a_table_reads_through_one_and_writes_the_other(
    db: Db, connect: Connect
) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "Active", "active": True}, {"id": 2, "name": "Gone", "active": False}])
    query = f"SELECT id, name FROM {table.name} WHERE active = TRUE"
    stream = {"c": {"table": table.name, "query": query, "key": "id"}}

    async with connect(stream) as connector:
        info = await connector.prepare("c", write_fields=["id", "name", "active"])
        before = await read_all(connector, "c", None, 10)
        existing = await connector.existing_keys("c", ["1", "2"])  # the table's, for a target
        await connector.write("c", [Write(WriteAction.CREATE, {"id": 3, "name": "New", "active": "yes"}, None)])
        after = await read_all(connector, "c", None, 10)

    assert info.fields == ["id", "name"]
    assert ids(before) == [1]
    assert existing == {"1", "2"}
    assert [record["name"] for batch in after for record in batch.records] == ["Active", "New"]


def _integer_key_shape() -> StreamShape:
    """What :class:`KeyLookup` reads of a stream keyed by one integer column."""
    column = column_type(Integer(), sqlite.dialect())
    shape = SimpleNamespace(key=("id",), types={"id": column}, key_equality=None, backend=Backend.SQLITE)
    return cast(StreamShape, shape)
