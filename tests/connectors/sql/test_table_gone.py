"""A target table that goes away in the middle of a run fails the write whole, once, not each row alone.

Dropped, renamed, a column gone, or the user's right to write it revoked: the
database refuses every row, and each failed alone into the dead letters
(28,000 for one missing table). The write now raises one
:class:`PermanentError` for the batch, so the run stops with a clear error;
a row the database refuses for its own sake (a constraint, a row-level
security policy, a value a function refuses) still fails alone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from connectors.base import PermanentError, Write, WriteAction
from tests.connectors.sql.conftest import SERVERS, SQLITE, Connect, Db, only

REFUSED = "cannot be written at all (dropped, renamed, a column gone, or this database user may no longer write it)"
SIZES = pytest.mark.parametrize("size", [3, 600], ids=["small-batch", "large-batch"])
"""A batch written row by row where refused, and one that goes as one upsert (by COPY on PostgreSQL) first."""


def creates(first: int, count: int) -> list[Write]:
    return [Write(WriteAction.CREATE, {"id": n, "name": f"N{n}"}, None) for n in range(first, first + count)]


async def people(db: Db) -> Table:
    return await db.create(
        "people", Column("id", Integer, primary_key=True, autoincrement=False), Column("name", String(50))
    )


async def written_then_refused(
    db: Db, connect: Connect, table: Table, change: str, *, size: int = 3, url: str | None = None
) -> PermanentError:
    """Write a batch, ``change`` the table (SQL, ``{table}`` its name), then write another: its error."""
    async with connect({"p": {"table": table.name, "key": "id"}}, url=url) as connector:
        await connector.prepare("p", write_fields=["id", "name"])
        assert all(result.ok for result in await connector.write("p", creates(1, 2)))
        await db.execute(change.format(table=table.name))
        with pytest.raises(PermanentError) as caught:
            await connector.write("p", creates(10, size))
    return caught.value


@SIZES
async def test_a_table_dropped_in_the_middle_of_a_run_fails_the_write_whole(
    db: Db, connect: Connect, size: int
) -> None:
    table = await people(db)

    error = await written_then_refused(db, connect, table, "DROP TABLE {table}", size=size)

    assert str(error).startswith(f"db.p: writing {size} rows: ")
    assert f"table {table.name} {REFUSED}, so the run stops here rather than failing each record alone" in str(error)


@SIZES
async def test_a_table_renamed_in_the_middle_of_a_run_fails_the_write_whole(
    db: Db, connect: Connect, size: int
) -> None:
    table = await people(db)
    moved = f"{table.name}_old"
    db.tables.append(Table(moved, MetaData()))  # dropped afterwards

    error = await written_then_refused(db, connect, table, f"ALTER TABLE {{table}} RENAME TO {moved}", size=size)

    assert REFUSED in str(error)


async def test_a_column_dropped_in_the_middle_of_a_run_fails_the_write_whole(db: Db, connect: Connect) -> None:
    table = await people(db)

    error = await written_then_refused(db, connect, table, "ALTER TABLE {table} DROP COLUMN name")

    assert REFUSED in str(error)


@SQLITE
async def test_a_sqlite_row_a_function_refuses_still_fails_alone(db: Db, connect: Connect) -> None:
    """SQLite's code for a missing table (SQLITE_ERROR) is also a row's: the table is looked at before the
    batch's failure is taken for the table's."""
    name = db.name("docs")
    await db.execute(
        f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, doc TEXT, a TEXT GENERATED ALWAYS AS (json_extract(doc, '$.a')))"
    )
    db.tables.append(table := Table(name, MetaData(), Column("id", Integer, primary_key=True), Column("doc", String)))
    writes = [Write(WriteAction.CREATE, {"id": n, "doc": doc}, None) for n, doc in [(1, '{"a": 1}'), (2, "{bad")]]

    async with connect({"d": {"table": name, "key": "id"}}) as connector:
        results = await connector.write("d", writes)

    assert [result.ok for result in results] == [True, False]
    assert "malformed JSON" in str(results[1].error)
    assert [row["id"] for row in await db.rows(table)] == [1]


@asynccontextmanager
async def database_user(db: Db, table: Table) -> AsyncIterator[tuple[str, Callable[[str], str]]]:
    """A database user that may write ``table``: its URL, and the SQL that revokes that from it."""
    user = f"brygga_{uuid.uuid4().hex[:10]}"
    if db.kind == "postgresql":
        await db.execute(f"CREATE ROLE {user} LOGIN")
        await db.execute(f"GRANT ALL ON {table.name} TO {user}")
        url = db.url.replace("postgres@", f"{user}@", 1)
        drop = f"DROP OWNED BY {user}; DROP ROLE {user}"
    else:
        await db.execute(f"CREATE USER '{user}'@'%'")
        await db.execute(f"GRANT ALL ON {table.name} TO '{user}'@'%'")
        url = db.url.replace("root@", f"{user}@", 1)
        drop = f"DROP USER '{user}'@'%'"
    try:
        yield url, lambda name: f"REVOKE ALL ON {name} FROM " + (user if db.kind == "postgresql" else f"'{user}'@'%'")
    finally:
        for statement in drop.split("; "):
            await db.execute(statement)


@SERVERS  # SQLite has no users
async def test_the_right_to_write_a_table_revoked_in_the_middle_of_a_run_fails_the_write_whole(
    db: Db, connect: Connect
) -> None:
    table = await people(db)

    async with database_user(db, table) as (url, revoke):
        error = await written_then_refused(db, connect, table, revoke(table.name), url=url)

    assert REFUSED in str(error)
    assert "permission denied" in str(error) or "command denied" in str(error)


@only("postgresql")
async def test_a_row_a_row_level_security_policy_refuses_still_fails_alone(db: Db, connect: Connect) -> None:
    """PostgreSQL refuses a row a policy does not allow with the code of a table the user may not write: the
    table is looked at, and has row-level security, so the row fails alone."""
    table = await people(db)
    await db.execute(f"ALTER TABLE {table.name} ENABLE ROW LEVEL SECURITY")
    await db.execute(f"CREATE POLICY small ON {table.name} USING (true) WITH CHECK (id < 100)")
    writes = [*creates(1, 2), *creates(500, 1), *creates(3, 1)]

    async with (
        database_user(db, table) as (url, _),
        connect({"p": {"table": table.name, "key": "id"}}, url=url) as connector,
    ):
        results = await connector.write("p", writes)

    assert [result.ok for result in results] == [True, True, False, True]
    assert "row-level security" in str(results[2].error)
    assert [row["id"] for row in await db.rows(table)] == [1, 2, 3]
