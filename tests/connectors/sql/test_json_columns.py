"""JSON columns written from records on every database: a null field is SQL NULL, and a decimal is written as
its digits.

PostgreSQL wrote a null field into a ``json``/``jsonb`` column as JSON ``null`` (SQLAlchemy's default), where
every other column type gets SQL NULL: ``IS NULL`` found no such row, and a column that had a value was never
cleared. MariaDB and SQLite could not write a decimal into a JSON column at all (``json.dumps`` refuses one),
so a record such as ``{"price": Decimal("1.10")}`` failed; PostgreSQL already wrote its digits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer
from sqlalchemy.dialects import postgresql

from connectors.base import UnreadableValue, Write, WriteAction
from tests.connectors.sql.conftest import Connect, Db, read_all


def _json_type(db: Db) -> Any:
    return postgresql.JSONB if db.kind == "postgresql" else JSON


async def _raw(db: Db, table: str) -> dict[int, Any]:
    """Each row's JSON column as the database holds it: its text, or ``None`` for SQL NULL."""
    cast = "doc::text" if db.kind == "postgresql" else "doc"
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(f"SELECT id, {cast} FROM {table} ORDER BY id")).all()
    return {row[0]: row[1] for row in map(tuple, rows)}


async def test_a_null_field_is_sql_null_in_a_json_column(db: Db, connect: Connect) -> None:
    table = await db.create(
        "docs", Column("id", Integer, primary_key=True, autoincrement=False), Column("doc", _json_type(db))
    )
    await db.execute(f"INSERT INTO {table.name} (id, doc) VALUES (3, '{{\"a\": 1}}')")
    writes = [
        Write(WriteAction.CREATE, {"id": 1, "doc": None}, "1"),
        Write(WriteAction.CREATE, {"id": 2, "doc": {"a": None}}, "2"),
        Write(WriteAction.UPDATE, {"id": 3, "doc": None}, "3"),
    ]

    async with connect({"d": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("d", write_fields=["doc"])
        results = await connector.write("d", writes)
        [batch] = await read_all(connector, "d", None, 10)

    assert [result.error for result in results] == [None, None, None]
    raw = await _raw(db, table.name)
    assert raw[1] is None and raw[3] is None, raw  # SQL NULL, not the JSON text null
    assert raw[2] is not None and raw[2].replace(" ", "") == '{"a":null}'
    read = {record["id"]: record["doc"] for record in batch.records}
    assert read[1] is None and read[3] is None
    # MariaDB's JSON is a LONGTEXT: read as its text, as before; the others' as JSON
    assert read[2] == ('{"a": null}' if db.kind == "mariadb" else {"a": None})


async def test_a_decimal_is_written_into_a_json_column_as_its_digits(db: Db, connect: Connect) -> None:
    table = await db.create(
        "prices", Column("id", Integer, primary_key=True, autoincrement=False), Column("doc", _json_type(db))
    )
    written = {"price": Decimal("1.10"), "big": Decimal("12345678901234567890.123"), "list": [Decimal("-2.50"), 1]}

    async with connect({"d": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("d", write_fields=["doc"])
        [result] = await connector.write("d", [Write(WriteAction.CREATE, {"id": 1, "doc": written}, "1")])

    assert result.error is None
    text = (await _raw(db, table.name))[1]
    assert "12345678901234567890.123" in text and "-2.5" in text and "1.1" in text, text


async def test_sqlite_json_text_that_is_not_json_fails_its_record_alone(db: Db, connect: Connect) -> None:
    if db.kind != "sqlite":
        pytest.skip("only SQLite keeps text that is not JSON in a JSON column")
    table = await db.create("docs", Column("id", Integer, primary_key=True, autoincrement=False), Column("doc", JSON))
    values = ("""'{"a": 1}'""", "'{bad' || char(0)", """'{"n": 123456789012345678901234567890.5}'""")
    for number, text in enumerate(values, start=1):
        await db.execute(f"INSERT INTO {table.name} (id, doc) VALUES ({number}, {text})")

    async with connect({"d": {"table": table.name, "key": "id"}}) as connector:
        [batch] = await read_all(connector, "d", None, 10)

    read = {record["id"]: record["doc"] for record in batch.records}
    assert read[1] == {"a": 1}
    assert read[3] == {"n": Decimal("123456789012345678901234567890.5")}, "numbers exact, not json.loads's floats"
    bad = read[2]
    assert isinstance(bad, UnreadableValue), bad
    assert bad.text == "{bad\x00" and bad.where.endswith(".d, column doc") and "not JSON" in (bad.why or "")
