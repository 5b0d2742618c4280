"""Binary key columns (PostgreSQL ``bytea``, SQLite ``BLOB``, MariaDB ``VARBINARY``): their key text is hex.

A key's text was ``str()`` of its bytes (``b'\\x01'``): no column takes that back, so such a stream's
records could not be looked up (a dead letter retried fresh, a two-way pair settled), updated or
deleted by key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, LargeBinary, PrimaryKeyConstraint, String
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from app.records import format_key
from connectors.base import Write, WriteAction, key_bytes, key_text
from tests.connectors.sql.conftest import Connect, Db, read_all

ODD = b"\x00\x01\xff'\"\\b"
"""Bytes that Python's own text of them (``b'\\x00\\x01\\xff\\'"\\\\b'``) escapes every way it can."""


def _binary() -> TypeEngine[Any]:
    return LargeBinary().with_variant(mysql.VARBINARY(16), "mysql", "mariadb")


async def _tokens(db: Db) -> str:
    table = await db.create(
        "tokens", Column("id", _binary(), primary_key=True), Column("name", String(20)), Column("n", Integer)
    )
    await db.insert(table, [{"id": ODD, "name": "odd", "n": 1}, {"id": b"\xab", "name": "ab", "n": 2}])
    return table.name


def test_bytes_are_written_as_lowercase_hex_and_read_back() -> None:
    assert key_text(ODD) == "0001ff27225c62"
    assert key_text(bytearray(b"\xab")) == key_text(memoryview(b"\xab")) == "ab"
    assert key_bytes("0001FF2722")[:3] == b"\x00\x01\xff"
    assert key_bytes("") == b""
    for text in ["abc", "0g", "b'\\x01'", "01 ff", "\u0661\u0662"]:
        try:
            key_bytes(text)
        except ValueError as exc:
            assert "is not the hex text of bytes" in str(exc)
        else:
            raise AssertionError(f"{text!r} taken as bytes")


async def test_a_binary_key_is_hex_text_looked_up_updated_and_deleted_by_it(db: Db, connect: Connect) -> None:
    name = await _tokens(db)
    odd = key_text(ODD)

    async with connect({"t": {"table": name, "key": "id", "delete": "hard"}}) as connector:
        batches = await read_all(connector, "t", None, 10)
        keys = [key async for batch in connector.scan_keys("t", 10) for key in batch]
        found = await connector.get("t", [odd, "AB", "b'\\xab'", "zz"])
        held = await connector.held_keys("t", [odd, "ab", "cd"])
        results = await connector.write(
            "t",
            [
                Write(WriteAction.UPDATE, {"name": "changed"}, odd),
                Write(WriteAction.DELETE, None, "ab"),
                Write(WriteAction.DELETE, None, "b'\\xab'"),
            ],
        )
        after = await connector.get("t", [odd, "ab"])

    assert sorted(record["id"] for batch in batches for record in batch.records) == sorted([ODD, b"\xab"])
    assert sorted(keys) == sorted([odd, "ab"])
    assert sorted(found) == sorted([odd, "AB"])
    assert found[odd]["name"] == "odd"
    assert held == {odd: odd, "ab": "ab"}
    assert [result.target_key for result in results] == [odd, "ab", "b'\\xab'"]
    assert [result.ok for result in results] == [True, True, False]
    assert "is not the hex text of bytes" in str(results[2].error)
    assert list(after) == [odd]
    assert after[odd]["name"] == "changed"
    assert await db.rows(db.tables[0]) == [{"id": ODD, "name": "changed", "n": 1}]


async def test_a_composite_key_with_a_binary_part_is_looked_up_and_written_by_its_text(
    db: Db, connect: Connect
) -> None:
    table = await db.create(
        "parts",
        Column("branch", String(5)),
        Column("token", _binary()),
        Column("item", String(20)),
        PrimaryKeyConstraint("branch", "token"),
    )
    await db.insert(table, [{"branch": "A", "token": b"\x01", "item": "one"}])
    key = format_key(["A", b"\x01"])

    async with connect({"p": {"table": table.name, "key": ["branch", "token"]}}) as connector:
        keys = [key async for batch in connector.scan_keys("p", 10) for key in batch]
        found = await connector.get("p", [key])
        results = await connector.write("p", [Write(WriteAction.UPDATE, {"item": "changed"}, key)])

    assert key == '["A","01"]'
    assert keys == [key]
    assert list(found) == [key]
    assert [(result.target_key, result.ok) for result in results] == [(key, True)]
    assert [row["item"] for row in await db.rows(table)] == ["changed"]
