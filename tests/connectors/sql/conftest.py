"""One contract suite over every database the ``sql`` connector speaks: SQLite, PostgreSQL, MariaDB.

Each test gets its own tables (unique names in the ``test`` database),
dropped afterwards, so a suite run twice, or beside another, never sees
another's rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import TypeEngine

from app.config import load_project
from app.records import Record
from connectors.base import Batch, Checkpoint
from connectors.sql.connector import SqlConnector
from tests.services import MARIADB_URL, POSTGRES_URL, require_service

T0 = datetime(2024, 5, 1, 12, 0, 0)
"""A moment every test's timestamps count from."""

DATABASES = ["sqlite", "postgresql", "mariadb"]


def only(*kinds: str) -> pytest.MarkDecorator:
    """Run a test of the suite on these databases only."""
    return pytest.mark.parametrize("db", kinds, indirect=True)


SQLITE = only("sqlite")
SERVERS = only("postgresql", "mariadb")


def timestamp(timezone: bool = False) -> TypeEngine[Any]:
    """A timestamp column type that keeps microseconds on every database."""
    return DateTime(timezone=timezone).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


@dataclass
class Db:
    """One test database: the URL a project writes, and an engine of our own to set tables up and look."""

    kind: str
    url: str
    engine: AsyncEngine
    root: Path
    tables: list[Table] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"{base}_{uuid.uuid4().hex[:10]}"

    async def create(self, base: str, *columns: Any) -> Table:
        table = Table(self.name(base), MetaData(), *columns, mysql_charset="utf8mb4")
        async with self.engine.begin() as conn:
            await conn.run_sync(table.create)
        self.tables.append(table)
        return table

    async def customers(self, *, with_email_unique: bool = True) -> Table:
        """The table most tests use: a typed row per customer."""
        extra: list[Any] = [UniqueConstraint("email")] if with_email_unique else []
        return await self.create(
            "customers",
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("name", String(100), nullable=False),
            Column("email", String(100)),
            Column("credit_limit", Numeric(12, 2)),
            Column("active", Boolean),
            Column("born", Date),
            Column("updated_at", timestamp()),
            Column("deleted_at", timestamp()),
            *extra,
        )

    async def insert(self, table: Table, rows: Sequence[Record]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(table), list(rows))

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(sql), params)

    async def rows(self, table: Table) -> list[Record]:
        """Every row, by key."""
        async with self.engine.connect() as conn:
            result = await conn.execute(select(table).order_by(*table.primary_key.columns))
            return [dict(row._mapping) for row in result]

    async def drop_all(self) -> None:
        async with self.engine.begin() as conn:
            for table in reversed(self.tables):
                await conn.run_sync(table.drop, checkfirst=True)


@pytest.fixture(params=DATABASES)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    kind: str = request.param
    if kind == "sqlite":
        (tmp_path / "data.db").touch()
        url, engine_url = "sqlite:///data.db", f"sqlite+aiosqlite:///{tmp_path / 'data.db'}"
    elif kind == "postgresql":
        require_service("postgresql")
        url, engine_url = POSTGRES_URL, POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    else:
        require_service("mariadb")
        url, engine_url = MARIADB_URL, MARIADB_URL.replace("mysql://", "mysql+asyncmy://", 1) + "?charset=utf8mb4"
    engine = create_async_engine(engine_url)
    found = Db(kind, url, engine, tmp_path)
    try:
        yield found
    finally:
        await found.drop_all()
        await engine.dispose()


Streams = dict[str, dict[str, Any]]


def system_config(root: Path, url: str, streams: Streams, batch_size: int = 1000) -> Any:
    """The ``db`` system of a brygga.yaml written to ``root`` and loaded as a project."""
    system = {"connector": "sql", "url": url, "batch_size": batch_size, "streams": streams}
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "systems": {"db": system}}), encoding="utf-8")
    return load_project(root / "brygga.yaml", environ={}).systems["db"]


Connect = Callable[..., Any]


@pytest.fixture
def connect(db: Db) -> Connect:
    """``async with connect({stream: options}) as connector``: an opened connector on the test database."""

    @asynccontextmanager
    async def opened(streams: Streams, url: str | None = None) -> AsyncIterator[SqlConnector]:
        connector = SqlConnector(system_config(db.root, url or db.url, streams))
        async with connector:
            yield connector

    return opened


async def read_all(connector: SqlConnector, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> list[Batch]:
    return [batch async for batch in connector.read(stream, checkpoint, batch_size)]


def ids(batches: Sequence[Batch], key: str = "id") -> list[Any]:
    return [record[key] for batch in batches for record in batch.records]


def plain(value: Any) -> Any:
    """``value`` with dates kept as text (SQLite's checkpoints hold them as stored) read as dates."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def checkpoints(batches: Sequence[Batch]) -> list[Checkpoint]:
    """Each batch's checkpoint, :func:`plain`."""
    return [plain(batch.checkpoint) for batch in batches]


def moments(count: int, step: timedelta = timedelta(minutes=1)) -> list[datetime]:
    return [T0 + step * index for index in range(count)]
