"""Open the state database: the right async driver, sane SQLite settings, the schema migrated.

Or open it only to read (``brygga preview``, SPEC 6: it writes nothing): no file created, no
migration run, every transaction read-only.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from app.errors import StoreError
from app.pooling import check_when_idle
from app.store.sqlite_failures import DEFAULT_LOCK_WAIT, damaged_message, failure_message, path_problem
from app.store.tables import METADATA

MIGRATIONS = Path(__file__).with_name("migrations")
SCHEMA_HEAD = "0012"
"""The newest migration's revision (a test keeps it in step): a database already at it opens
without loading Alembic and its scripts, a good part of a short run's start-up."""


def database_errors() -> tuple[type[BaseException], ...]:
    """What the state database can raise, for ``except database_errors():``: SQLAlchemy's errors, and
    asyncpg's own where work goes to the driver itself (COPY, the webhook intake).

    asyncpg's classes only once asyncpg is imported (a PostgreSQL state database): a driver this process
    never imported raised nothing, and importing it only for its classes cost every SQLite run ~20 ms. One
    that another thread is still importing (a connector's, opened while the service answers) has raised
    nothing either, and may not have its classes yet.
    """
    asyncpg = sys.modules.get("asyncpg")
    postgres, interface = getattr(asyncpg, "PostgresError", None), getattr(asyncpg, "InterfaceError", None)
    if postgres is None or interface is None:
        return (SQLAlchemyError, OSError)
    return (SQLAlchemyError, postgres, interface, OSError)


def database_failure(exc: BaseException, url: URL | None = None) -> StoreError:
    """``exc`` as a :class:`StoreError` that says what failed in the database's words, without the statement,
    its parameters or SQLAlchemy's link (they are for the log, and parameters may hold a record's data).
    With the database's ``url``, a SQLite failure names its file and says what to do."""
    cause: BaseException = exc
    lost = False
    if isinstance(exc, DBAPIError):
        lost = bool(exc.connection_invalidated)
        cause = exc.orig if exc.orig is not None else exc
    text = _words(cause)
    file = _sqlite_file(url)
    explained = failure_message(text, file, lock_wait(url)) if file is not None and url is not None else None
    if explained is not None:
        return StoreError(explained)
    if lost or "connection is closed" in text or "connection was closed" in text:
        text = f"the connection to it was lost ({text}); the next run carries on from what was committed"
    return StoreError(f"the state database failed: {text}")


def _words(cause: BaseException) -> str:
    """The database's own words for ``cause``: no statement, parameters or SQLAlchemy link."""
    if isinstance(cause, DBAPIError) and cause.orig is not None:
        cause = cause.orig
    if isinstance(cause, UnicodeDecodeError):  # SQLite's message quoted bytes of a damaged file
        return "its error message is not UTF-8 text"
    text = str(cause).split("\n[SQL:", 1)[0].split("\n(Background on this error", 1)[0].strip()
    return text or type(cause).__name__


def _sqlite_file(url: URL | None) -> str | None:
    if url is None or url.get_backend_name() != "sqlite" or not url.database:
        return None
    return url.database


def _open_failure(url: URL, exc: BaseException, doing: str = "") -> StoreError:
    """Why the state database at ``url`` could not be opened, said with its file (SQLite) and what to do."""
    text = _words(exc)
    file = _sqlite_file(url)
    if file is not None:
        if isinstance(exc, UnicodeDecodeError):
            return StoreError(damaged_message(file, f"(SQLite says: {text})"))
        explained = failure_message(text, file, lock_wait(url))
        if explained is not None:
            return StoreError(explained)
        return StoreError(f"cannot open the state database {file}{doing}: {text}")
    shown = url.render_as_string(hide_password=True)
    return StoreError(f"cannot open the state database {shown}{doing}: {text}")


def _check_sqlite_path(url: URL) -> None:
    """:raises StoreError: when the SQLite state database's path is a folder, a symlink loop or no file
    at all: said before any connection (aiosqlite's failed connection thread outlives the event loop)."""
    file = _sqlite_file(url)
    if file is not None and file != ":memory:":
        problem = path_problem(Path(file))
        if problem is not None:
            raise StoreError(problem)


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
    _check_sqlite_path(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        try:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _open_failure(url, exc) from exc
    engine = create_async_engine(url, **_engine_options(url))
    check_when_idle(engine)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", partial(_sqlite_settings, lock_wait(url)))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate)
    except (SQLAlchemyError, OSError, UnicodeDecodeError) as exc:  # a damaged file's bytes in SQLite's message
        await engine.dispose()
        raise _open_failure(url, exc) from exc
    except StoreError:  # a schema this Brygga cannot upgrade: said, with the engine closed
        await engine.dispose()
        raise
    return engine


async def open_database_to_read(url: URL) -> AsyncEngine | None:
    """An engine on the state database that cannot write to it, or ``None`` where there is no state
    yet (no SQLite file, or a PostgreSQL database without Brygga's tables): nothing is created.

    :raises StoreError: when the database cannot be reached, or its schema is not this Brygga's
        (upgrading it is for ``brygga run`` or ``serve``, which may write)
    """
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        _check_sqlite_path(url)
        if not url.database or url.database == ":memory:" or not Path(url.database).is_file():
            return None
        engine = create_async_engine(_sqlite_read_url(url), connect_args={"timeout": lock_wait(url)})
        event.listen(engine.sync_engine, "connect", partial(_sqlite_read_only, lock_wait(url)))
    else:
        options = _engine_options(url)
        options["connect_args"]["server_settings"]["default_transaction_read_only"] = "on"
        engine = create_async_engine(url, **options)
    check_when_idle(engine)
    try:
        async with engine.connect() as connection:
            revision = await _revision(connection)
    except (SQLAlchemyError, OSError, UnicodeDecodeError) as exc:
        await engine.dispose()
        raise _open_failure(url, exc, " to read it") from exc
    if revision == SCHEMA_HEAD:
        return engine
    await engine.dispose()
    if revision is None and not sqlite:
        return None
    shown = url.render_as_string(hide_password=True)
    raise StoreError(_not_at_head(shown, revision))


async def empty_database() -> AsyncEngine:
    """A state database of this process's memory, with every table and nothing in them: the state of a
    project that has never run, without creating one on disk."""
    # One connection for the engine's life: each new connection to :memory: is a database of its own.
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    return engine


async def _revision(connection: AsyncConnection) -> str | None:
    """The schema's Alembic revision; ``None`` for a database without Brygga's tables."""

    def read(sync: Connection) -> str | None:
        if not inspect(sync).has_table("alembic_version"):
            return None
        found = sync.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return ",".join(found) or None

    return await connection.run_sync(read)


def _not_at_head(shown: str, revision: str | None, *, newer: bool = False) -> str:
    if revision is None:
        return (
            f"the state database {shown} has none of Brygga's tables (it is not a Brygga state database, "
            "or its tables were dropped): check the project's `state`"
        )
    older = revision < SCHEMA_HEAD and not newer
    remedy = (
        "preview reads it as it is and never upgrades it: run `brygga run SYNC` or `brygga serve` once, "
        "which upgrade it, then preview again"
        if older
        else "this Brygga is older than the one that last upgraded it: use that version (or newer)"
    )
    age = "an older" if older else "a newer"
    return (
        f"the state database {shown} has {age} schema (revision {revision}) than this Brygga "
        f"(revision {SCHEMA_HEAD}); {remedy}"
    )


def _sqlite_read_url(url: URL) -> URL:
    """``url`` as a SQLite URI that opens the file only to read, and creates no file beside it.

    mode=ro alone is not enough: on a database in WAL mode with no ``-wal`` file (no one has it open),
    a reader creates ``-wal`` and ``-shm`` files, and being read-only, cannot remove them. With no
    ``-wal`` file, everything is in the database file itself and no one is writing to it: it is read
    as immutable, which touches nothing else. With one, a process has it open (``serve``, a run):
    its ``-shm`` is there to share, so mode=ro reads the runs' latest commits and creates nothing.
    """
    database = url.database or ""
    query = {"mode": "ro", "uri": "true"}
    if not Path(database + "-wal").exists():
        query["immutable"] = "1"
    return url.set(database="file:" + quote(database)).update_query_dict(query)


def lock_wait(url: URL) -> float:
    """Seconds a SQLite state database's connections wait for another process's write lock before they
    fail: the URL's ``?timeout=`` (as SQLAlchemy and Python's sqlite3 call it), 30 by default."""
    given = url.query.get("timeout")
    if isinstance(given, tuple):
        given = given[-1]
    try:
        seconds = float(given) if given is not None else DEFAULT_LOCK_WAIT
    except ValueError:
        return DEFAULT_LOCK_WAIT  # refused by the config's check; a URL made elsewhere keeps the default
    return seconds if 0 <= seconds < float("inf") else DEFAULT_LOCK_WAIT


def _sqlite_read_only(wait: float, connection: Any, _record: Any) -> None:
    """A second lock against writing (the file is open read-only already), and wait rather than fail while a
    run writes."""
    cursor = connection.cursor()
    for pragma in ("query_only=ON", f"busy_timeout={round(wait * 1000)}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": lock_wait(url)}}
    # The ID map fills during a run, before autovacuum has analysed it: a cached generic plan
    # would scan it whole for every batch's look-up. Custom plans see its real size.
    settings = {"server_settings": {"plan_cache_mode": "force_custom_plan"}}
    return {"pool_size": 5, "max_overflow": 5, "connect_args": settings}


def _sqlite_settings(wait: float, connection: Any, _record: Any) -> None:
    """WAL lets the service read while a run writes; NORMAL sync is safe with WAL."""
    cursor = connection.cursor()
    _use_wal(cursor, wait)
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={round(wait * 1000)}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _use_wal(cursor: Any, wait: float) -> None:
    """Put the database in WAL mode, waiting while another process holds the lock that takes.

    Turning a new file to WAL takes a lock SQLite does not wait for (no busy handler): a second process
    opening the same new state database at that moment (``serve`` and a ``run`` started together) got
    "database is locked" at once. On a database in WAL mode already this takes no lock and never waits.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # in the connection's first moments only, and only while another holds the lock


def _migrate(connection: Connection) -> None:
    if _at_head(connection):
        return
    if connection.dialect.name == "sqlite" and _created_at_head(connection):
        return
    # Imported only when there is something to do: importing Alembic takes a tenth of a second.
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415
    from alembic.util.exc import CommandError  # noqa: PLC0415

    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:  # a revision this Brygga does not know: a newer one upgraded the database
        revision = ",".join(connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all())
        shown = connection.engine.url.render_as_string(hide_password=True)
        raise StoreError(_not_at_head(shown, revision or None, newer=True)) from exc


def _created_at_head(connection: Connection) -> bool:
    """Whether the SQLite state database was new and is now at :data:`SCHEMA_HEAD`: every table made from
    the models, and the schema marked as at the head, as Alembic's ``stamp`` would.

    Running every migration in turn (and importing Alembic for it) took a quarter of a second of each first
    run; the outcome is the same schema (a test compares the two, table by table and index by index).
    One transaction holding SQLite's write lock: a process killed half way leaves no half-made schema, and
    a second process opening the same new file waits, then finds it made. Only SQLite: a PostgreSQL state
    database is shared by replicas, which migrate it under a lock.
    """
    if inspect(connection).get_table_names():
        return False
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the driver begins none before DDL: this one holds it all
    if inspect(connection).get_table_names():  # made meanwhile by another process
        return _at_head(connection)
    METADATA.create_all(connection)
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=SCHEMA_HEAD))
    return True


def _at_head(connection: Connection) -> bool:
    """Whether the schema is at :data:`SCHEMA_HEAD` already (Alembic keeps the revision in ``alembic_version``)."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [SCHEMA_HEAD]
