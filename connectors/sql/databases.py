"""Database URLs and engines: every URL is served by an async driver.

Users write the URLs they know (``postgresql://…``, ``mysql+pymysql://…``,
``sqlite:///crm.db``); Brygga swaps in the async driver it ships with
(asyncpg, asyncmy, aiosqlite) and keeps one the user named that is async
already. A relative SQLite path starts at the project's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from connectors.base import PermanentError, check_when_idle, parse_json
from connectors.sql.backends import BACKENDS as _BACKENDS
from connectors.sql.backends import Backend
from connectors.sql.pg_json import json_text
from connectors.sql.pg_values import interval_text

__all__ = ["CONNECT_TIMEOUT_SECONDS", "Backend", "Database", "backend_of", "create_engine", "database"]

_DEFAULT_DRIVERS = {Backend.SQLITE: "aiosqlite", Backend.POSTGRESQL: "asyncpg", Backend.MYSQL: "asyncmy"}
_ASYNC_DRIVERS = {
    Backend.SQLITE: {"aiosqlite"},
    Backend.POSTGRESQL: {"asyncpg", "psycopg_async"},
    Backend.MYSQL: {"asyncmy", "aiomysql"},
}
_CONNECT_TIMEOUT = {"asyncpg": "timeout", "asyncmy": "connect_timeout", "aiomysql": "connect_timeout"}
"""The driver's name for the seconds a connection attempt may take (a dead host must not hang a run)."""

CONNECT_TIMEOUT_SECONDS = 10


def backend_of(url: URL) -> Backend:
    """The database family of ``url``.

    :raises PermanentError: for a database the connector does not support
    """
    try:
        return _BACKENDS[url.get_backend_name()]
    except KeyError:
        raise PermanentError(f"database '{url.get_backend_name()}' is not supported by the sql connector") from None


@dataclass(frozen=True)
class Database:
    """Where a ``sql`` system's data lives: the URL with its async driver, and a SQLite database's file."""

    url: URL
    backend: Backend
    file: Path | None = None
    """A SQLite database's file (absolute); ``None`` for other databases and in-memory SQLite."""

    def shown(self) -> str:
        """The database as its user wrote it, safe for a log line or an error message: never its password."""
        if self.file is not None:
            return f"sqlite:///{self.file}"
        return self.url.render_as_string(hide_password=True)


def database(text: str, root: Path) -> Database:
    """The database ``text`` names, with an async driver and a relative SQLite path made absolute from ``root``.

    :raises PermanentError: when ``text`` is not a URL of a supported database
    """
    try:
        url = make_url(text)
    except Exception:
        raise PermanentError("the database URL cannot be parsed") from None
    backend = backend_of(url)
    if url.get_driver_name() not in _ASYNC_DRIVERS[backend] or url.get_backend_name() != backend:
        url = url.set(drivername=f"{backend}+{_DEFAULT_DRIVERS[backend]}")
    if backend is Backend.SQLITE:
        return _sqlite_database(url, root)
    if url.get_driver_name() == "asyncpg" and "sslmode" in url.query:
        # libpq's sslmode=require is asyncpg's ssl=require
        url = url.difference_update_query(["sslmode"]).update_query_dict({"ssl": url.query["sslmode"]})
    if backend is Backend.MYSQL and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})  # åäö and emoji, whatever the server's default
    return Database(url, backend)


def _sqlite_database(url: URL, root: Path) -> Database:
    name = url.database or ""
    if not name or name == ":memory:" or url.query.get("uri") == "true":
        return Database(url, Backend.SQLITE)
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = root / path
    # mode=rw: a missing file is an error, never a new empty database (Brygga creates no tables to fill it)
    url = url.set(database="file:" + quote(str(path))).update_query_dict({"mode": "rw", "uri": "true"})
    return Database(url, Backend.SQLITE, path)


def create_engine(database: Database) -> AsyncEngine:
    """An engine (a pool of connections, opened on first use) for ``database``."""
    url = database.url
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    timeout_name = _CONNECT_TIMEOUT.get(url.get_driver_name())
    if timeout_name is not None and timeout_name not in url.query:
        connect_args[timeout_name] = CONNECT_TIMEOUT_SECONDS
    if database.backend is Backend.MYSQL:
        options["pool_recycle"] = 3600  # the server drops connections idle past wait_timeout
    # JSON columns written with their numbers exact, a decimal as its digits (see pg_json); on PostgreSQL
    # read so too here (SQLite's and MySQL's by the stream's reads: read_values.JsonRead)
    options["json_serializer"] = json_text
    if database.backend is Backend.POSTGRESQL:
        options["json_deserializer"] = parse_json
    if url.get_driver_name() == "asyncpg":
        # A table filled by the run itself has no statistics yet: a cached generic plan would
        # scan it whole for every batch's key look-up. Custom plans see its real size. Intervals are
        # read as their ISO 8601 text, whatever the server's style (see _text_types_known).
        connect_args["server_settings"] = {"plan_cache_mode": "force_custom_plan", "IntervalStyle": "iso_8601"}
    try:
        engine = create_async_engine(url, connect_args=connect_args, **options)
    except (TypeError, ValueError) as exc:  # an option of the URL's query the dialect cannot read (timeout=abc)
        raise _refused_options(database, exc) from None
    event.listen(engine.sync_engine, "do_connect", _options_checked(database))
    if url.get_driver_name() == "asyncpg":
        event.listen(engine.sync_engine, "connect", _text_types_known)
    if database.backend is Backend.MYSQL:
        event.listen(engine.sync_engine, "connect", _strict)
    check_when_idle(engine)
    return engine


_TEXT_LIKE = (
    "SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "WHERE t.typname = 'citext'"
)
"""PostgreSQL's extension types that travel as text (``citext``, case-insensitive text): asyncpg has no codec
for them, and refused every row of a table with one (COPY and parameters alike)."""


def _text_types_known(connection: Any, _record: Any) -> None:
    """On each new connection: the text-like extension types installed in the database, sent as their text
    (their binary form is their text's, UTF-8); and intervals as their text.

    asyncpg reads an interval as a ``timedelta``, which has no months: ``1 mon 1 day`` was read as 31 days.
    Read as PostgreSQL writes it in ISO 8601 (``P1M1D``), nothing is lost, and any database takes it back.
    """
    driver = connection.driver_connection

    async def known() -> None:
        for schema, name in await driver.fetch(_TEXT_LIKE):
            await driver.set_type_codec(name, schema=schema, encoder=str.encode, decoder=bytes.decode, format="binary")
        await driver.set_type_codec("interval", schema="pg_catalog", encoder=interval_text, decoder=str, format="text")

    await_only(known())


_STRICT = "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')"


def _strict(connection: Any, _record: Any) -> None:
    """On each new MariaDB/MySQL connection: strict mode, whatever the server's (or the URL's
    ``init_command``) is. Without it the server stores a value too long for its column cut, and a number
    beyond its column's range as the column's largest, with only a warning: the record counted as written,
    its value changed. Strict, it refuses the row, and the record fails alone, as on PostgreSQL and SQLite."""
    cursor = connection.cursor()
    try:
        cursor.execute(_STRICT)
    finally:
        cursor.close()


def _refused_options(database: Database, exc: Exception) -> PermanentError:
    return PermanentError(
        f"{database.shown()}: the driver refuses the URL's options ({exc}): check what follows '?' in the system's url"
    )


def _options_checked(database: Database) -> Any:
    """A ``do_connect`` hook: the driver's refusal of an option (``unknownopt=1``, ``command_timeout=abc``) is
    a permanent error naming the URL's options, not a ``TypeError`` from deep inside the connection pool."""

    def connect(dialect: Any, record: Any, arguments: list[Any], options: dict[str, Any]) -> Any:
        try:
            return dialect.connect(*arguments, **options)
        except (TypeError, ValueError) as exc:
            raise _refused_options(database, exc) from None

    return connect
