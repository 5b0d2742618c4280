"""PostgreSQL reads through asyncpg itself give exactly what reads through SQLAlchemy give."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.connectors.sql.conftest import T0, Connect, Db, only, read_all, timestamp

pytestmark = only("postgresql")


@contextmanager
def sqlalchemy_refused() -> Iterator[None]:
    """Fail any statement run through SQLAlchemy: what is read is read by the driver alone."""
    with pytest.MonkeyPatch.context() as patch:

        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("read through SQLAlchemy")

        patch.setattr(AsyncConnection, "execute", refuse)
        yield


async def test_every_plain_type_reads_from_the_driver_as_sqlalchemy_reads_it(db: Db, connect: Connect) -> None:
    table = await db.create(
        "plain",
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("small", SmallInteger),
        Column("whole", Integer),
        Column("amount", Numeric(12, 2)),
        Column("ratio", Float),
        Column("active", Boolean),
        Column("born", Date),
        Column("opens", Time),
        Column("name", String(40)),
        Column("notes", Text),
        Column("blob", LargeBinary),
        Column("updated_at", timestamp()),
        Column("seen_at", timestamp(timezone=True)),
    )
    full = {
        "id": 1,
        "small": 7,
        "whole": -3,
        "amount": Decimal("1234.50"),
        "ratio": 0.25,
        "active": True,
        "born": date(1990, 2, 3),
        "opens": time(8, 30),
        "name": "Åsa Öberg",
        "notes": "line one\nline two",
        "blob": b"\x00\xff",
        "updated_at": T0,
        "seen_at": T0.replace(tzinfo=UTC) + timedelta(hours=1),
    }
    empty = dict.fromkeys(full) | {"id": 2, "updated_at": T0 + timedelta(seconds=1)}
    await db.insert(table, [full, empty, {**full, "id": 3}])
    async with db.engine.connect() as conn:
        expected = [dict(row._mapping) for row in await conn.execute(select(table).order_by(table.c.id))]

    async with connect({"p": {"table": table.name, "key": "id", "cursor": "updated_at"}}) as connector:
        with sqlalchemy_refused():
            batches = await read_all(connector, "p", None, 2)
            again = await read_all(connector, "p", batches[0].checkpoint, 2)  # resumes after a key

    records = [record for batch in batches for record in batch.records]
    assert records == expected
    assert [[type(value) for value in record.values()] for record in records] == [
        [type(value) for value in row.values()] for row in expected
    ]
    assert [record["id"] for batch in again for record in batch.records] == [3]
    assert batches[-1].checkpoint == {"cursor": T0 + timedelta(seconds=1)}


async def test_a_stream_with_a_json_column_is_read_through_sqlalchemy(db: Db, connect: Connect) -> None:
    table = await db.create(
        "documents",
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", postgresql.JSONB),
        Column("updated_at", timestamp()),
    )
    await db.insert(table, [{"id": 1, "body": {"tags": ["a", "b"]}, "updated_at": T0}])

    async with connect({"d": {"table": table.name, "key": "id", "cursor": "updated_at"}}) as connector:
        (batch,) = await read_all(connector, "d", None, 10)
        with sqlalchemy_refused(), pytest.raises(AssertionError, match="through SQLAlchemy"):
            await read_all(connector, "d", None, 10)

    assert batch.records == [{"id": 1, "body": {"tags": ["a", "b"]}, "updated_at": T0}]
