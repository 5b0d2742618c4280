"""Key columns that ignore case, accents or trailing spaces: ``key_fold`` says which key texts are one row,
and ``held_keys``/``existing_keys``/``get`` find the row whichever of them is asked (SQLite, PostgreSQL,
MariaDB). The engine relies on both to keep two source records off one target row."""

from __future__ import annotations

import pytest

from connectors.base import format_key
from connectors.sql.key_equality import KeyEquality, _case_and_accents
from tests.connectors.sql.conftest import SERVERS, SQLITE, Connect, Db, only

MARIADB = only("mariadb")
POSTGRESQL = only("postgresql")


async def _table(db: Db, key_column: str) -> str:
    name = db.name("people")
    suffix = " CHARACTER SET utf8mb4" if db.kind == "mariadb" else ""
    await db.execute(f"CREATE TABLE {name} (name VARCHAR(50), {key_column}){suffix}")
    await db.execute(f"INSERT INTO {name} (code, name) VALUES ('anna', 'Anna')")
    return name


async def _drop(db: Db, name: str) -> None:
    await db.execute(f"DROP TABLE {name}")


async def _fold_and_held(
    db: Db, connect: Connect, key_column: str, asked: list[str]
) -> tuple[list[bool], dict[str, str]]:
    """For each text asked: whether the table's fold takes it for 'anna'; and what held_keys finds."""
    name = await _table(db, key_column)
    try:
        async with connect({"p": {"table": name, "key": "code"}}) as connector:
            await connector.prepare("p", write_fields=["code", "name"])
            fold = connector.key_fold("p")
            held = await connector.held_keys("p", asked)
            assert set(await connector.existing_keys("p", asked)) == set(held)
            assert set(await connector.get("p", asked)) == set(held)
        same = [fold(text) == fold("anna") if fold is not None else text == "anna" for text in asked]
        return same, held
    finally:
        await _drop(db, name)


ASKED = ["anna", "ANNA", "anna ", "änna", "bo"]


@SQLITE
@pytest.mark.parametrize(
    ("key_column", "same"),
    [
        ("code TEXT PRIMARY KEY", [True, False, False, False, False]),
        ("code TEXT COLLATE NOCASE PRIMARY KEY", [True, True, False, False, False]),
        ("code TEXT COLLATE RTRIM PRIMARY KEY", [True, False, True, False, False]),
        ("code TEXT COLLATE NOCASE UNIQUE", [True, True, False, False, False]),
    ],
    ids=["binary", "nocase", "rtrim", "nocase-unique"],
)
async def test_sqlite_collations(db: Db, connect: Connect, key_column: str, same: list[bool]) -> None:
    folded, held = await _fold_and_held(db, connect, key_column, ASKED)

    assert folded == same
    assert held == {text: "anna" for text, one in zip(ASKED, same, strict=True) if one}


@MARIADB
@pytest.mark.parametrize(
    ("collation", "same"),
    [
        ("utf8mb4_general_ci", [True, True, True, True, False]),
        ("utf8mb4_unicode_ci", [True, True, True, True, False]),
        ("utf8mb4_bin", [True, False, True, False, False]),
        ("utf8mb4_nopad_bin", [True, False, False, False, False]),
    ],
)
async def test_mariadb_collations(db: Db, connect: Connect, collation: str, same: list[bool]) -> None:
    folded, held = await _fold_and_held(db, connect, f"code VARCHAR(50) COLLATE {collation} PRIMARY KEY", ASKED)

    assert folded == same
    assert held == {text: "anna" for text, one in zip(ASKED, same, strict=True) if one}  # as the server finds them


@POSTGRESQL
@pytest.mark.parametrize(
    ("key_column", "same"),
    [
        ("code TEXT PRIMARY KEY", [True, False, False, False, False]),
        ("code citext PRIMARY KEY", [True, True, False, False, False]),
        ("code CHAR(10) PRIMARY KEY", [True, False, True, False, False]),
    ],
    ids=["text", "citext", "char"],
)
async def test_postgresql_types(db: Db, connect: Connect, key_column: str, same: list[bool]) -> None:
    await db.execute("CREATE EXTENSION IF NOT EXISTS citext")
    folded, held = await _fold_and_held(db, connect, key_column, ASKED)

    assert folded == same
    assert set(held) == {text for text, one in zip(ASKED, same, strict=True) if one}
    assert {text.rstrip(" ") for text in held.values()} == {"anna"}  # char(n) reads back padded


@SERVERS
async def test_an_integer_key_has_no_fold(db: Db, connect: Connect) -> None:
    table = await db.customers()
    async with connect({"c": {"table": table.name, "key": "id"}}) as connector:
        await connector.prepare("c", write_fields=["id", "name"])
        assert connector.key_fold("c") is None


def test_a_composite_key_folds_only_its_columns_that_ignore_case() -> None:
    equality = KeyEquality((None, _case_and_accents))

    assert equality.text(format_key(["A", "Åsa"])) == equality.text(format_key(["A", "asa"]))
    assert equality.text(format_key(["A", "asa"])) != equality.text(format_key(["a", "asa"]))
    assert equality.text("not a composite key") == "not a composite key"
