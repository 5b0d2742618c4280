"""prepare and check: what the database has is checked before a record moves; nothing is created."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, event

from app.errors import PermanentError
from connectors.base import Write, WriteAction
from tests.connectors.sql.conftest import SQLITE, Connect, Db, only

COLUMNS = "id, name, email, credit_limit, active, born, updated_at, deleted_at"


async def test_check_answers(db: Db, connect: Connect) -> None:
    async with connect({"c": {"table": "anything", "key": "id"}}) as connector:
        await connector.check()


async def test_prepare_gives_the_columns(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "id", "cursor": "updated_at"}}) as connector:
        info = await connector.prepare("c", write_fields=["id", "name"])

    assert info.fields == COLUMNS.split(", ")


async def test_a_missing_table_is_named_with_the_tables_there_are(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": "no_such_table", "key": "id"}}) as connector:
        with pytest.raises(PermanentError) as caught:
            await connector.prepare("c")

    message = str(caught.value)
    assert message.startswith("db.c: table no_such_table does not exist")
    assert table.name in message
    assert "never creates tables" in message


@pytest.mark.parametrize(
    ("options", "write_fields", "missing"),
    [
        ({"key": "ident"}, None, "ident"),
        ({"key": "id", "cursor": "changed"}, None, "changed"),
        ({"key": "id", "delete": {"soft": "removed_at"}}, ["name"], "removed_at"),
        ({"key": "id"}, ["name", "phone"], "phone"),
        ({"key": ["id", "branch"]}, None, "branch"),
    ],
    ids=["key", "cursor", "soft-delete", "write-field", "composite-key-part"],
)
async def test_a_missing_column_is_named_with_the_columns_there_are(
    db: Db, connect: Connect, options: dict[str, Any], write_fields: list[str] | None, missing: str
) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, **options}}) as connector:
        with pytest.raises(PermanentError) as caught:
            await connector.prepare("c", write_fields=write_fields)

    message = str(caught.value)
    assert message.startswith(f"db.c: table {table.name} has no column {missing}")
    assert message.endswith(f"; its columns are: {COLUMNS} (Brygga never adds columns)")


async def test_a_column_differing_only_in_case_is_suggested(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "ID"}}) as connector:
        with pytest.raises(PermanentError, match=r"has no column ID \(did you mean id\?\)"):
            await connector.prepare("c")


async def test_lookback_on_a_cursor_that_is_no_date_is_refused(db: Db, connect: Connect) -> None:
    table = await db.create(
        "versions", Column("id", Integer, primary_key=True, autoincrement=False), Column("version", Integer)
    )

    async with connect({"c": {"table": table.name, "key": "id", "cursor": "version", "lookback": "2m"}}) as connector:
        with pytest.raises(PermanentError, match="lookback needs a date or datetime cursor, and column version is"):
            await connector.prepare("c")
        with pytest.raises(PermanentError, match="lookback needs a date or datetime cursor"):
            [batch async for batch in connector.read("c", {"cursor": 7}, 10)]


async def test_a_stream_with_only_a_query_cannot_be_written(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"q": {"query": f"SELECT id, name FROM {table.name}", "key": "id"}}) as connector:
        info = await connector.prepare("q")
        with pytest.raises(PermanentError, match="a stream with only a query can be read, not written"):
            await connector.prepare("q", write_fields=["name"])

    assert info.fields == ["id", "name"]


async def test_a_query_without_the_key_column_is_refused(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"q": {"query": f"SELECT name FROM {table.name}", "key": "id"}}) as connector:
        with pytest.raises(PermanentError, match=r"db.q: the query has no column id; its columns are: name"):
            await connector.prepare("q")


async def test_writing_needs_a_unique_index_on_the_key(db: Db, connect: Connect) -> None:
    table = await db.create("loose", Column("code", String(20)), Column("name", String(20)))

    async with connect({"c": {"table": table.name, "key": "code"}}) as connector:
        await connector.prepare("c")  # reading is fine
        with pytest.raises(PermanentError, match=r"has no primary key or unique index on \(code\)"):
            await connector.prepare("c", write_fields=["name"])


async def test_a_unique_constraint_on_the_key_is_enough_to_write(db: Db, connect: Connect) -> None:
    table = await db.customers()

    async with connect({"c": {"table": table.name, "key": "email"}}) as connector:
        await connector.prepare("c", write_fields=["email", "name"])


async def test_a_unique_index_on_the_key_is_enough_to_write(db: Db, connect: Connect) -> None:
    table = await db.create("indexed", Column("code", String(20)), Column("name", String(20)))
    await db.execute(f"CREATE UNIQUE INDEX {table.name}_code ON {table.name} (code)")

    async with connect({"c": {"table": table.name, "key": "code"}}) as connector:
        await connector.prepare("c", write_fields=["code", "name"])


@only("sqlite", "postgresql")
@pytest.mark.parametrize(
    "indexed",
    [
        "(code) WHERE name IS NOT NULL",  # some rows only: the others may share a code, an upsert cannot rely on it
        "(lower(code))",  # an expression, not the column
    ],
    ids=["on some rows only", "on an expression"],
)
async def test_a_unique_index_that_is_not_on_the_whole_key_column_keys_nothing(
    db: Db, connect: Connect, indexed: str
) -> None:
    table = await db.create("loosely", Column("code", String(20)), Column("name", String(20)))
    await db.execute(f"CREATE UNIQUE INDEX {table.name}_code ON {table.name} {indexed}")

    async with connect({"c": {"table": table.name, "key": "code"}}) as connector:
        with pytest.raises(PermanentError, match=r"has no primary key or unique index on \(code\)"):
            await connector.prepare("c", write_fields=["code", "name"])


@only("postgresql")
async def test_a_unique_index_keys_its_own_columns_not_those_it_only_includes(db: Db, connect: Connect) -> None:
    table = await db.create("covered", Column("code", String(20)), Column("name", String(20)))
    await db.execute(f"CREATE UNIQUE INDEX {table.name}_code ON {table.name} (code) INCLUDE (name)")

    async with connect(
        {"c": {"table": table.name, "key": "code"}, "n": {"table": table.name, "key": ["code", "name"]}}
    ) as connector:
        await connector.prepare("c", write_fields=["code", "name"])
        with pytest.raises(PermanentError, match=r"has no primary key or unique index on \(code, name\)"):
            await connector.prepare("n", write_fields=["code", "name"])


async def test_a_table_with_a_foreign_key_is_written_by_its_own_columns(db: Db, connect: Connect) -> None:
    parent = await db.create("parent", Column("id", Integer, primary_key=True, autoincrement=False))
    child = await db.create(
        "child",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", Integer, ForeignKey(parent.c.id)),
    )
    await db.insert(parent, [{"id": 1}])

    async with connect({"c": {"table": child.name, "key": "id"}}) as connector:
        info = await connector.prepare("c", write_fields=["id", "parent_id"])
        (result,) = await connector.write("c", [Write(WriteAction.CREATE, {"id": 5, "parent_id": 1}, None)])

    assert info.fields == ["id", "parent_id"]
    assert result.ok
    assert await db.rows(child) == [{"id": 5, "parent_id": 1}]


async def test_an_unknown_stream_lists_the_streams(db: Db, connect: Connect) -> None:
    async with connect({"c": {"table": "t", "key": "id"}}) as connector:
        with pytest.raises(PermanentError, match="db has no stream d; its streams are: c"):
            await connector.prepare("d")


@SQLITE
async def test_a_sqlite_table_is_described_again_only_when_its_schema_changed(db: Db, connect: Connect) -> None:
    table = await db.customers()
    stream = {"c": {"table": table.name, "key": "id", "cursor": "updated_at"}}

    async with connect(stream) as connector:
        await connector.prepare("c", write_fields=["id", "name"])
        engine = connector._engine
        assert engine is not None
        sent: list[str] = []

        def count(*args: Any) -> None:
            sent.append(args[2])

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        await db.insert(table, [{"id": 1, "name": "Ann"}])  # rows change; the schema does not
        again = await connector.prepare("c", write_fields=["id", "name"])
        assert len(sent) == 1, f"one query tells the table is as it was: {sent}"
        assert again.fields == COLUMNS.split(", ")

        await db.execute(f"ALTER TABLE {table.name} ADD COLUMN phone TEXT")
        changed = await connector.prepare("c", write_fields=["id", "phone"])
        assert changed.fields == [*COLUMNS.split(", "), "phone"], "a changed table is described afresh"
        await db.execute(f"CREATE INDEX {table.name}_name ON {table.name} (name)")
        sent.clear()
        await connector.prepare("c")
        assert len(sent) > 1, "an index added: described afresh"
        event.remove(engine.sync_engine, "before_cursor_execute", count)
