"""Failures as the engine sees them: passing ones are TransientError, the others PermanentError; no password shown."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.errors import PermanentError, TransientError
from connectors.base import Write, WriteAction
from tests.connectors.sql.conftest import SERVERS, SQLITE, Connect, Db
from tests.services import MARIADB_URL, POSTGRES_URL

SERVER_URLS = {
    "postgresql": "postgresql://brygga:s3cret-pw@127.0.0.1:{port}/{database}",
    "mariadb": "mysql://brygga:s3cret-pw@127.0.0.1:{port}/{database}",
}
PORTS = {"postgresql": 5432, "mariadb": 3306}


@SERVERS
async def test_a_database_that_refuses_is_permanent_and_the_password_never_shows(db: Db, connect: Connect) -> None:
    url = SERVER_URLS[db.kind].format(port=PORTS[db.kind], database="no_such_database")

    async with connect({"c": {"table": "t", "key": "id"}}, url=url) as connector:
        with pytest.raises(PermanentError) as caught:
            await connector.check()

    message = str(caught.value)
    assert message.startswith("db (")
    assert "brygga:***@127.0.0.1" in message
    assert "s3cret-pw" not in message


@SQLITE
async def test_a_missing_sqlite_file_is_unreachable_and_never_created(db: Db, connect: Connect) -> None:

    with pytest.raises(TransientError, match=r"the SQLite database .*missing\.db does not exist"):
        async with connect({"c": {"table": "t", "key": "id"}}, url="sqlite:///missing.db"):
            pass

    assert not (db.root / "missing.db").exists()


BAD_OPTIONS = {
    "sqlite": ("sqlite:///data.db?timeout=abc", "could not convert string to float: 'abc'"),
    "postgresql": (f"{POSTGRES_URL}?unknownopt=1", "unexpected keyword argument 'unknownopt'"),
    "mariadb": (f"{MARIADB_URL}?connect_timeout=abc", ""),
}


async def test_options_the_driver_refuses_are_a_permanent_error_naming_the_url(db: Db, connect: Connect) -> None:
    if db.kind == "sqlite":
        sqlite3.connect(db.root / "data.db").close()
    url, words = BAD_OPTIONS[db.kind]

    with pytest.raises(PermanentError) as caught:
        async with connect({"c": {"table": "t", "key": "id"}}, url=url) as connector:
            await connector.check()

    message = str(caught.value)
    assert "the driver refuses the URL's options (" in message and words in message, message
    assert "check what follows '?' in the system's url" in message


LOCK_WAITS = {
    "sqlite": "sqlite:///data.db?timeout=0.1",
    "postgresql": f"{POSTGRES_URL}?command_timeout=0.5",
    "mariadb": f"{MARIADB_URL}?init_command=" + quote("SET innodb_lock_wait_timeout=1"),
}


async def test_a_write_kept_waiting_by_a_lock_is_transient_and_writes_nothing(db: Db, connect: Connect) -> None:
    table = await db.customers()
    await db.insert(table, [{"id": 1, "name": "A"}])
    writes = [
        Write(WriteAction.CREATE, {"id": 2, "name": "B"}, None),
        Write(WriteAction.UPDATE, {"id": 1, "name": "X"}, "1"),
    ]

    async with connect({"c": {"table": table.name, "key": "id"}}, url=LOCK_WAITS[db.kind]) as connector:
        await connector.prepare("c", write_fields=["id", "name"])
        async with db.engine.connect() as holder:
            await holder.execute(text(f"UPDATE {table.name} SET name = 'held' WHERE id = 1"))
            with pytest.raises(TransientError):
                await connector.write("c", writes)
            await holder.rollback()
        results = await connector.write("c", writes)  # retried whole, once the lock is gone

    assert all(result.ok for result in results)
    assert [(row["id"], row["name"]) for row in await db.rows(table)] == [(1, "X"), (2, "B")]


@SQLITE
async def test_a_locked_sqlite_database_is_transient_for_reads_too(db: Db, connect: Connect) -> None:
    table = await db.customers()
    holder = sqlite3.connect(db.root / "data.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        async with connect({"c": {"table": table.name, "key": "id"}}, url=LOCK_WAITS["sqlite"]) as connector:
            with pytest.raises(TransientError, match="database is locked"):
                await connector.prepare("c")
    finally:
        holder.close()
