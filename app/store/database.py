"""Open the state database: the right async driver, sane SQLite settings, the schema migrated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asyncpg import InterfaceError, PostgresError
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.errors import StoreError
from app.pooling import check_when_idle

MIGRATIONS = Path(__file__).with_name("migrations")
SCHEMA_HEAD = "0005"
"""The newest migration's revision (a test keeps it in step): a database already at it opens
without loading Alembic and its scripts, a good part of a short run's start-up."""
DATABASE_ERRORS = (SQLAlchemyError, PostgresError, InterfaceError, OSError)
"""What the state database can raise: SQLAlchemy's errors, and asyncpg's own where work goes to the
driver itself (COPY, the webhook intake)."""


def database_failure(exc: BaseException) -> StoreError:
    """``exc`` as a :class:`StoreError` that says what failed in the database's words, without the statement,
    its parameters or SQLAlchemy's link (they are for the log, and parameters may hold a record's data)."""
    cause: BaseException = exc
    lost = False
    if isinstance(exc, DBAPIError):
        lost = bool(exc.connection_invalidated)
        cause = exc.orig if exc.orig is not None else exc
    text = str(cause).split("\n[SQL:", 1)[0].split("\n(Background on this error", 1)[0].strip()
    text = text or type(cause).__name__
    if lost or "connection is closed" in text or "connection was closed" in text:
        text = f"the connection to it was lost ({text}); the next run carries on from what was committed"
    return StoreError(f"the state database failed: {text}")


_MIGRATION_LOCK = 7_316_203_771  # a pg_advisory_xact_lock id: one process migrates at a time


def state_url(url: str, root: Path) -> URL:
    """The state URL with its async driver, and a relative SQLite path made absolute from ``root``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).is_absolute():
            database = str(root / database)
        return parsed.set(drivername="sqlite+aiosqlite", database=database)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(f"the state database must be SQLite or PostgreSQL, not {backend}")


async def open_database(url: URL) -> AsyncEngine:
    """An engine on the migrated state database.

    :raises StoreError: when the database cannot be reached or migrated
    """
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **_engine_options(url))
    check_when_idle(engine)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate)
    except (SQLAlchemyError, OSError) as exc:
        await engine.dispose()
        shown = url.render_as_string(hide_password=True)
        raise StoreError(f"cannot open the state database {shown}: {exc}") from exc
    return engine


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": 30}}
    # The ID map fills during a run, before autovacuum has analysed it: a cached generic plan
    # would scan it whole for every batch's look-up. Custom plans see its real size.
    settings = {"server_settings": {"plan_cache_mode": "force_custom_plan"}}
    return {"pool_size": 5, "max_overflow": 5, "connect_args": settings}


def _sqlite_settings(connection: Any, _record: Any) -> None:
    """WAL lets the service read while a run writes; NORMAL sync is safe with WAL."""
    cursor = connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _migrate(connection: Connection) -> None:
    if _at_head(connection):
        return
    # Imported only when there is something to do: importing Alembic takes a tenth of a second.
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415

    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _at_head(connection: Connection) -> bool:
    """Whether the schema is at :data:`SCHEMA_HEAD` already (Alembic keeps the revision in ``alembic_version``)."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [SCHEMA_HEAD]
