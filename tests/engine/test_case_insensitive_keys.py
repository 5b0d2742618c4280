"""A target whose key column ignores case (and accents, trailing spaces) never has two source records
written over each other: ``Anna`` and ``anna`` are one row there, so the second to come fails alone.

MariaDB's default collation (``utf8mb4_general_ci``) ignores case, accents and trailing spaces; SQLite's
``COLLATE NOCASE`` ASCII case; PostgreSQL's ``citext`` case. Before, both records were counted created and
one was lost; the next run called the pair unchanged.
"""

from __future__ import annotations

import sqlite3
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo
from tests.services import MARIADB_URL, POSTGRES_URL, require_service

PROJECT = """\
version: 1
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    batch_size: {batch_size}
    streams: {{people: {{table: people, key: code}}}}
  erp:
    connector: sql
    url: {url}
    streams: {{people: {{table: {table}, key: code}}}}
"""
SYNC = """\
source: crm.people
target: erp.people
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields:
  code: code
  name: name
"""


@dataclass
class Target:
    url: str
    table: str
    engine: AsyncEngine | None
    root: Path

    async def rows(self) -> list[tuple[str, str]]:
        if self.engine is None:
            connection = sqlite3.connect(self.root / "erp.db")
            found = connection.execute(f"SELECT code, name FROM {self.table}").fetchall()
            connection.close()
        else:
            async with self.engine.connect() as conn:
                found = [tuple(row) for row in await conn.execute(text(f"SELECT code, name FROM {self.table}"))]
        return sorted((str(code), str(name)) for code, name in found)


KEY_COLUMNS = {
    "sqlite": "code TEXT COLLATE NOCASE PRIMARY KEY",
    "postgresql": "code citext PRIMARY KEY",
    "mariadb": "code VARCHAR(50) COLLATE utf8mb4_general_ci PRIMARY KEY",
}


@pytest.fixture(params=list(KEY_COLUMNS))
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    kind = request.param
    table = f"people_{uuid.uuid4().hex[:10]}"
    create = f"CREATE TABLE {table} ({KEY_COLUMNS[kind]}, name VARCHAR(50))"
    if kind == "sqlite":
        connection = sqlite3.connect(tmp_path / "erp.db")
        connection.execute(create)
        connection.close()
        yield Target("sqlite:///erp.db", table, None, tmp_path)
        return
    require_service(kind)
    url = POSTGRES_URL if kind == "postgresql" else MARIADB_URL
    engine = create_async_engine(
        url.replace("postgresql://", "postgresql+asyncpg://", 1).replace("mysql://", "mysql+asyncmy://", 1)
    )
    async with engine.begin() as conn:
        if kind == "postgresql":
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS citext"))
            create = create.replace("VARCHAR(50)", "TEXT")
        else:
            create += " CHARACTER SET utf8mb4"
        await conn.execute(text(create))
    try:
        yield Target(url, table, engine, tmp_path)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))
        await engine.dispose()


def _project(target: Target, people: list[tuple[str, str]], batch_size: int = 1000) -> Path:
    root = target.root
    connection = sqlite3.connect(root / "crm.db")
    with connection:
        connection.execute("CREATE TABLE IF NOT EXISTS people (code TEXT PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO people VALUES (?, ?)", people)
    connection.close()
    project = PROJECT.format(url=target.url, table=target.table, batch_size=batch_size)
    (root / "brygga.yaml").write_text(project, encoding="utf-8")
    (root / "mappings").mkdir(exist_ok=True)
    (root / "mappings" / "people.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    return root / "brygga.yaml"


async def _run(file: Path) -> tuple[RunInfo, dict[str, str]]:
    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("people", RunOptions())
        letters = await engine.store.dead_letters("people")
        return run, {letter.source_key: letter.error for letter in letters}


@pytest.mark.parametrize("batch_size", [1000, 1], ids=["one-batch", "a-batch-each"])
async def test_keys_differing_only_in_case_fail_alone_instead_of_overwriting(target: Target, batch_size: int) -> None:
    file = _project(target, [("Anna", "Anna Capital"), ("Bo", "Bo"), ("anna", "anna small")], batch_size)

    run, letters = await _run(file)
    again, letters_again = await _run(file)

    assert run.status == "partial", run.error
    assert (run.counts.created, run.counts.failed) == (2, 1)
    assert await target.rows() == [("Anna", "Anna Capital"), ("Bo", "Bo")]  # read first (keys in text order)
    assert list(letters) == ["anna"]
    assert "names the same record in erp.people as that of source record Anna (erp.people takes" in letters["anna"]
    assert again.status == "partial" and (again.counts.created, again.counts.updated) == (0, 0)
    assert list(letters_again) == ["anna"]
    assert await target.rows() == [("Anna", "Anna Capital"), ("Bo", "Bo")]


async def test_a_key_new_in_a_later_run_meets_the_row_an_earlier_run_wrote(target: Target) -> None:
    file = _project(target, [("anna", "anna small")])
    first, _ = await _run(file)
    _project(target, [("ANNA", "ANNA CAPITAL")])

    run, letters = await _run(file)

    assert first.status == "succeeded" and first.counts.created == 1
    assert run.status == "partial", run.error
    assert list(letters) == ["ANNA"] and "as that of source record anna" in letters["ANNA"]
    assert await target.rows() == [("anna", "anna small")]


async def test_a_row_already_in_the_target_under_another_case_is_updated_not_doubled(target: Target) -> None:
    """A row no source record wrote (the target held it before the first sync) is the record's to update."""
    if target.engine is None:
        connection = sqlite3.connect(target.root / "erp.db")
        with connection:
            connection.execute(f"INSERT INTO {target.table} VALUES ('anna', 'typed by hand')")
        connection.close()
    else:
        async with target.engine.begin() as conn:
            await conn.execute(text(f"INSERT INTO {target.table} VALUES ('anna', 'typed by hand')"))
    file = _project(target, [("Anna", "Anna Capital")])

    run, letters = await _run(file)
    again, _ = await _run(file)

    assert run.status == "succeeded", (run.error, letters)
    assert run.counts.created + run.counts.updated == 1
    assert [name for _, name in await target.rows()] == ["Anna Capital"]
    assert again.status == "succeeded" and again.counts.unchanged == 1
