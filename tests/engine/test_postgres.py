"""A sync into PostgreSQL: the target says which upserted records were new, and the counts follow it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.errors import EarlierWriteFailed
from app.store import Counts
from connectors.sql import pg_copy, writing
from tests.services import FreshPostgresDatabase, require_service

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  crm: {{connector: sql, url: "sqlite:///crm.db", streams: {{people: {{table: people, key: id}}}}}}
  erp: {{connector: sql, url: "{target}", streams: {{people: {{table: people, key: id}}}}}}
"""
SYNC = "source: crm.people\ntarget: erp.people\nfields:\n  id: id\n  name: name\n"


async def test_new_and_existing_records_are_counted_from_the_upsert(tmp_path: Path) -> None:
    require_service("postgresql")
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO people VALUES (?, ?)", [(n, f"Person {n}") for n in range(1, 1201)])
    connection.close()
    async with FreshPostgresDatabase() as url:
        target = await asyncpg.connect(url)
        try:
            await target.execute("CREATE TABLE people (id bigint PRIMARY KEY, name text)")
            await target.execute("INSERT INTO people VALUES (5, 'there before'), (700, 'there before')")
            (tmp_path / "mappings").mkdir()
            (tmp_path / "brygga.yaml").write_text(PROJECT.format(target=url))
            (tmp_path / "mappings" / "people.yaml").write_text(SYNC)

            async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
                first = await engine.run("people", RunOptions())
                again = await engine.run("people", RunOptions(full=True))

            assert first.counts == Counts(read=1200, created=1198, updated=2)
            assert again.counts == Counts(read=1200, unchanged=1200)
            assert await target.fetchval("SELECT count(*) FROM people WHERE name LIKE 'Person %'") == 1200
        finally:
            await target.close()


async def test_a_write_failing_under_the_next_one_is_retried_and_both_land_in_read_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batches' writes overlap (the next staged while the one before moves in); when the first fails
    while the second waits for its turn, the second changes nothing and is written after the first's retry."""
    require_service("postgresql")
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO people VALUES (?, ?)", [(n, f"Person {n}") for n in range(1, 3001)])
    connection.close()
    second_waits = asyncio.Event()
    moved: list[int] = []
    outcomes: list[str] = []
    real = pg_copy.copy_upsert_tuples

    async def flaky(conn: Any, shape: Any, table: Any, columns: Any, rows: Any, **options: Any) -> Any:
        first_id = rows[0][0]
        turn = options["before_move"]

        async def before_move() -> None:
            if first_id == 1001:
                second_waits.set()
            await turn()

        if first_id == 1 and not outcomes:
            await second_waits.wait()  # the second batch is staged and waits for its turn
            outcomes.append("deadlock")
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        try:
            found = await real(conn, shape, table, columns, rows, **{**options, "before_move": before_move})
        except EarlierWriteFailed:
            outcomes.append(f"{first_id} waited in vain")
            raise
        moved.append(first_id)
        return found

    monkeypatch.setattr(writing, "copy_upsert_tuples", flaky)

    async def instant(_seconds: float) -> None:
        return None

    async with FreshPostgresDatabase() as url:
        target = await asyncpg.connect(url)
        try:
            await target.execute("CREATE TABLE people (id bigint PRIMARY KEY, name text)")
            (tmp_path / "mappings").mkdir()
            (tmp_path / "brygga.yaml").write_text(PROJECT.format(target=url))
            (tmp_path / "mappings" / "people.yaml").write_text(SYNC)

            async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={}), sleep=instant) as engine:
                run = await engine.run("people", RunOptions())

            assert (run.status, run.counts) == ("succeeded", Counts(read=3000, created=3000)), run.error
            assert outcomes == ["deadlock", "1001 waited in vain"]
            assert moved == [1, 1001, 2001]
            assert await target.fetchval("SELECT count(*) FROM people") == 3000
        finally:
            await target.close()
