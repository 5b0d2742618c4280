"""PostgreSQL's json and jsonb with their numbers exact: read with every digit, written as json.dumps writes
it with decimals as their digits (a decimal could not be written at all; a long number was read rounded)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Integer
from sqlalchemy.dialects import postgresql

from connectors.base import Write, WriteAction
from connectors.sql.pg_json import json_text
from tests.connectors.sql.conftest import Connect, Db, only, read_all


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True, "åäö \u2028"]}, [], {}, "text", 10**40, {1: "one", 2.5: "x", None: 0, False: 1}],
)
def test_what_json_dumps_writes_is_written_the_same(value: Any) -> None:
    assert json_text(value) == json.dumps(value)


def test_a_decimal_is_written_as_its_digits_wherever_it_is() -> None:
    value = {"price": Decimal("12345678901234567890.123"), "list": [Decimal("1.10"), {"n": Decimal("-1E+400")}], 3: 1}

    text = json_text(value)

    assert text == '{"price": 12345678901234567890.123, "list": [1.10, {"n": -1E+400}], "3": 1}'
    assert json.loads(text, parse_float=Decimal) == {
        "price": Decimal("12345678901234567890.123"),
        "list": [Decimal("1.10"), {"n": Decimal("-1E+400")}],
        "3": 1,
    }


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"a": Decimal("NaN")}, ValueError),
        ([Decimal("Infinity")], ValueError),
        ({"when": date(2024, 5, 1), "n": Decimal(1)}, TypeError),
        ({(1, 2): Decimal(1)}, TypeError),
    ],
)
def test_what_json_has_no_form_for_is_refused(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        json_text(value)


@only("postgresql")
async def test_json_numbers_are_read_and_written_exactly(db: Db, connect: Connect) -> None:
    table = await db.create(
        "documents",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("b", postgresql.JSONB),
        Column("j", postgresql.JSON),
    )
    body = '{"price": 12345678901234567890.123, "count": 123456789012345678901234567890, "rate": 0.1}'
    await db.execute(f"INSERT INTO {table.name} VALUES (1, '{body}', '[1.10, 1e400]')")
    written = {"price": Decimal("98765432109876543210.987"), "tiny": Decimal("1E-30"), "n": 10**30}

    async with connect({"d": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("d", write_fields=["b", "j"])
        (batch,) = await read_all(connector, "d", None, 10)
        (result,) = await connector.write("d", [Write(WriteAction.CREATE, {"id": 2, "b": written, "j": written}, "2")])

    assert batch.records[0]["b"] == {
        "price": Decimal("12345678901234567890.123"),
        "count": 123456789012345678901234567890,
        "rate": 0.1,
    }
    assert batch.records[0]["j"] == [1.1, Decimal("1e400")]
    assert result.error is None
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(f"SELECT b::text, j::text FROM {table.name} WHERE id = 2")).all()
    ((jsonb_text, json_column),) = [tuple(row) for row in rows]
    tiny = "0." + "0" * 29 + "1"  # jsonb keeps numbers as numeric, and writes them so
    assert jsonb_text == f'{{"n": 1000000000000000000000000000000, "tiny": {tiny}, "price": 98765432109876543210.987}}'
    assert json_column == '{"price": 98765432109876543210.987, "tiny": 1E-30, "n": 1000000000000000000000000000000}'
