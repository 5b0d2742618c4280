"""A stream's ``table``: ``NAME`` or ``SCHEMA.NAME``, and a name that holds a dot written in double quotes.

Every dot split the text into schema and table, so a table named
``sales.q1`` could not be synced at all; on SQLite, which has no schemas but
``main`` and ``temp``, ``table: sales.q1`` failed at run time about a
database ``sales``. Quoted, it is one name; on SQLite an unquoted dot
naming another schema is a config error (tests/config/test_broken_configs.py).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from connectors.base import PermanentError, Write, WriteAction
from connectors.sql.ddl import ColumnPlan, create_table
from connectors.sql.table_names import TableName, parse_table
from tests.connectors.sql.conftest import SERVERS, Connect, Db, read_all


@pytest.mark.parametrize(
    ("text", "table"),
    [
        ("people", TableName(None, "people")),
        ("sales.q1", TableName("sales", "q1")),
        ('"sales.q1"', TableName(None, "sales.q1")),
        ('sales."q.1"', TableName("sales", "q.1")),
        ('"my schema"."a ""b"""', TableName("my schema", 'a "b"')),
        ("main.people", TableName("main", "people")),
    ],
)
def test_a_table_is_a_name_or_a_schema_and_a_name(text: str, table: TableName) -> None:
    assert parse_table(text) == table


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b.c", "'a.b.c' is 3 names: write NAME or SCHEMA.NAME, and a name that holds a dot in double quotes"),
        ('"a.b', "'\"a.b': a quote is not closed"),
        ("sales.", "'sales.' holds an empty name"),
        ('""', "'\"\"' holds an empty name"),
        ('a"b', "'a\"b': quote a whole name"),
        ('"a"b', "'\"a\"b': a quoted name ends at its closing quote"),
    ],
)
def test_a_table_that_is_no_name_says_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_table(text)

    assert str(caught.value).startswith(message)


def test_brygga_ddl_names_a_quoted_table_as_one() -> None:
    statement = create_table("postgresql://u@h/db", '"sales.q1"', [ColumnPlan("id", "integer", key=True)])

    assert statement.startswith('CREATE TABLE "sales.q1" (')


async def test_a_table_whose_name_holds_a_dot_is_read_and_written_when_quoted(db: Db, connect: Connect) -> None:
    name = f"sales.q1_{uuid.uuid4().hex[:8]}"
    dotted = Table(
        name, MetaData(), Column("id", Integer, primary_key=True, autoincrement=False), Column("v", String(9))
    )
    db.tables.append(dotted)
    async with db.engine.begin() as conn:
        await conn.run_sync(dotted.create)
    await db.insert(dotted, [{"id": 1, "v": "a"}])
    writes = [Write(WriteAction.CREATE, {"id": 2, "v": "b"}, None)]

    async with connect({"q": {"table": f'"{name}"', "key": "id"}}) as connector:
        await connector.prepare("q", write_fields=["id", "v"])
        results = await connector.write("q", writes)
        (batch,) = await read_all(connector, "q", None, 10)

    assert [result.ok for result in results] == [True]
    assert batch.records == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]


@SERVERS  # SQLite refuses another schema in the config
async def test_an_unquoted_dotted_table_that_is_no_schema_says_to_quote_it(db: Db, connect: Connect) -> None:
    schema = f"sales{uuid.uuid4().hex[:8]}"
    name = f"{schema}.q1"
    dotted = Table(name, MetaData(), Column("id", Integer, primary_key=True, autoincrement=False))
    db.tables.append(dotted)
    async with db.engine.begin() as conn:
        await conn.run_sync(dotted.create)

    async with connect({"q": {"table": name, "key": "id"}}) as connector:
        with pytest.raises(PermanentError) as caught:
            await connector.prepare("q")

    assert f"db.q: table {name}: there is no schema {schema} (a table named {name} is there" in str(caught.value)
    assert f"(a table named {name} is there: for it, quote its name, table: '\"{name}\"')" in str(caught.value)
