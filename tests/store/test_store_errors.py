"""A state-database error says what failed in the database's words: never the statement, its parameters
(a record's data) or SQLAlchemy's link; a lost connection says so (issue 17: a killed state connection
failed the run with '(InterfaceError) connection is closed [SQL: SET LOCAL …] (Background on this error…')."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import SQLAlchemyError

from app.errors import StoreError
from app.store import Store
from app.store.database import database_errors
from tests.services import FreshPostgresDatabase, require_service


async def test_a_failing_statement_is_described_without_its_sql_or_parameters(store: Store) -> None:
    async with store._begin() as connection:
        await connection.exec_driver_sql("DROP TABLE runs")

    with pytest.raises(StoreError) as failed:
        await store.start_run("customers-secret-sync", "manual")

    text = str(failed.value)
    assert text.startswith("the state database failed: ") and "runs" in text
    assert "[SQL" not in text and "sqlalche.me" not in text and "customers-secret-sync" not in text


async def test_a_connection_killed_under_the_store_says_it_was_lost(tmp_path: object) -> None:
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        store = await Store.open(url, tmp_path)  # type: ignore[arg-type]
        try:
            await store.start_run("s", "manual")
            admin = await asyncpg.connect(url)
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            with pytest.raises(StoreError) as failed:
                await store.start_run("s", "manual")
        finally:
            await store.close()

    text = str(failed.value)
    assert "the connection to it was lost" in text or "terminat" in text, text
    assert "[SQL" not in text and "sqlalche.me" not in text


def test_asyncpgs_own_errors_are_the_state_databases_once_asyncpg_is_in_use() -> None:
    """COPY and the webhook intake talk to asyncpg itself: its bare errors must become StoreErrors too.
    asyncpg is looked up, not imported (a SQLite state database never loads it: issue 18)."""
    errors = database_errors()

    assert issubclass(asyncpg.PostgresError, errors) and issubclass(asyncpg.InterfaceError, errors)
    assert issubclass(SQLAlchemyError, errors) and issubclass(ConnectionResetError, errors)
