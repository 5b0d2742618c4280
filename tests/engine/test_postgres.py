"""A sync into PostgreSQL: the target says which upserted records were new, and the counts follow it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from app.engine.project import open_project
from app.engine.runner import RunOptions, open_engine
from app.store import Counts
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

            async with open_engine(open_project(tmp_path / "brygga.yaml", environ={})) as engine:
                first = await engine.run("people", RunOptions())
                again = await engine.run("people", RunOptions(full=True))

            assert first.counts == Counts(read=1200, created=1198, updated=2)
            assert again.counts == Counts(read=1200, unchanged=1200)
            assert await target.fetchval("SELECT count(*) FROM people WHERE name LIKE 'Person %'") == 1200
        finally:
            await target.close()
