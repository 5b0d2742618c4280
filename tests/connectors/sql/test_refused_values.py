"""Values a database refuses fail their record alone, with Brygga's words: the column, why, what to do.

A text holding a NUL character failed on PostgreSQL with ``invalid byte sequence for encoding "UTF8": 0x00``,
and a whole number beyond 64 bits with ``value out of int64 range`` (PostgreSQL), ``Out of range value for
column`` (MariaDB) or ``Python int too large to convert to SQLite INTEGER``: the record failed alone, but the
message named neither the column nor a way out.
"""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, Integer, Text

from tests.connectors.sql.conftest import Connect, Db
from tests.connectors.sql.test_lossy_values import BATCHES, create, write

BIGINT = {"sqlite": "BIGINT", "postgresql": "BIGINT", "mariadb": "BIGINT(20)"}


@BATCHES
async def test_a_whole_number_beyond_its_column_fails_its_record_naming_the_column(
    db: Db, connect: Connect, batch: int
) -> None:
    table = await db.create(
        "big", Column("id", Integer, primary_key=True, autoincrement=False), Column("amount", BigInteger)
    )
    fine = [create(number, amount=number) for number in range(100, 100 + batch)]
    edges = [create(1, amount=2**63 - 1), create(2, amount=-(2**63))]

    errors = await write(db, connect, table.name, [create(3, amount=2**63), create(4, amount=-(2**70)), *edges, *fine])

    assert errors[2:] == [None] * (2 + batch)
    assert str(errors[0]) == (
        f"db.t: column amount ({BIGINT[db.kind]}): 9223372036854775808 is beyond what the column's type holds "
        "(-9223372036854775808 to 9223372036854775807): correct it at the source, or write it into a NUMERIC or "
        "text column"
    )
    assert "-1180591620717411303424 is beyond what the column's type holds" in str(errors[1])
    rows = {row["id"]: row["amount"] for row in await db.rows(table)}
    assert (3 in rows, 4 in rows, rows[1], rows[2], len(rows)) == (False, False, 2**63 - 1, -(2**63), 2 + batch)


@BATCHES
async def test_a_nul_character_fails_its_record_on_postgresql_and_is_kept_elsewhere(
    db: Db, connect: Connect, batch: int
) -> None:
    table = await db.create(
        "notes", Column("id", Integer, primary_key=True, autoincrement=False), Column("notes", Text)
    )
    fine = [create(number, notes="fine") for number in range(100, 100 + batch)]

    errors = await write(db, connect, table.name, [create(1, notes="a\x00b"), create(2, notes=7), *fine])

    rows = {row["id"]: row["notes"] for row in await db.rows(table)}
    assert errors[1:] == [None] * (1 + batch)
    assert (rows[2], len(rows) - batch) == ("7", 1 if db.kind == "postgresql" else 2)
    if db.kind != "postgresql":  # SQLite and MariaDB store it, and give it back
        assert errors[0] is None and rows[1] == "a\x00b"
        return
    assert str(errors[0]) == (
        "db.t: column notes (TEXT): the text holds a NUL character (\\x00), which PostgreSQL cannot store: remove "
        'it in the mapping (an expression with | replace("\\x00", "")) or at the source'
    )


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_key_with_a_nul_character_fails_its_record_alone(db: Db, connect: Connect) -> None:
    table = await db.create("keys", Column("id", Text, primary_key=True), Column("name", Text))

    errors = await write(db, connect, table.name, [create("a\x00", name="x"), create("b", name="y")])

    assert "NUL character" in str(errors[0]) and errors[1] is None
    assert [row["id"] for row in await db.rows(table)] == ["b"]
