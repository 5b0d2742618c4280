"""A target table that goes away during a run fails the run once; no record is dead-lettered for it.

Into PostgreSQL, an upsert sync writes without first looking its records up
in the target (the upsert says which were new), so the write is the first to
meet a table renamed or dropped mid-run: each of the run's records failed
alone into the dead letters (28,000 for one missing table), to be retried
by hand once it was back. Now the run stops at the first batch the table
refuses, saying why; the batches before it stay written, and once the table
is back the next run goes on from there.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from connectors.base import Write, WriteResult
from connectors.sql.connector import SqlConnector
from tests.services import FreshPostgresDatabase, require_service

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  crm: {{connector: sql, url: "sqlite:///crm.db", batch_size: 100, streams: {{people: {{table: people, key: id}}}}}}
  erp: {{connector: sql, url: "{target}", streams: {{people: {{table: people, key: id}}}}}}
"""
SYNC = "source: crm.people\ntarget: erp.people\nretry: {attempts: 1}\nfields:\n  id: id\n  name: name\n"


async def test_a_target_table_renamed_during_a_run_fails_the_run_once_and_the_next_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_service("postgresql")
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO people VALUES (?, ?)", [(n, f"Person {n}") for n in range(1, 501)])
    connection.close()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "people.yaml").write_text(SYNC)
    async with FreshPostgresDatabase() as url:
        (tmp_path / "brygga.yaml").write_text(PROJECT.format(target=url))
        target = await asyncpg.connect(url)
        try:
            await target.execute("CREATE TABLE people (id bigint PRIMARY KEY, name text)")
            real_write = SqlConnector.write
            batches = 0
            first_written, renamed = asyncio.Event(), asyncio.Event()

            async def renamed_before_the_second_batch(
                self: SqlConnector, stream: str, writes: Sequence[Write]
            ) -> list[WriteResult]:
                nonlocal batches
                batches += 1
                if batches == 1:
                    try:
                        return await real_write(self, stream, writes)
                    finally:
                        first_written.set()
                if batches == 2:  # writes overlap: the second may begin before the first is in
                    await first_written.wait()
                    await target.execute("ALTER TABLE people RENAME TO people_away")
                    renamed.set()
                else:  # the third, begun while the second waits, must not be written before the rename
                    await renamed.wait()
                return await real_write(self, stream, writes)

            monkeypatch.setattr(SqlConnector, "write", renamed_before_the_second_batch)
            async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
                failed = await engine.run("people", RunOptions())
                still_away = await engine.run("people", RunOptions())
                await target.execute("ALTER TABLE people_away RENAME TO people")
                back = await engine.run("people", RunOptions())
                dead_letters = await engine.store.dead_letters("people")
            rows = await target.fetchval("SELECT count(*) FROM people")
        finally:
            await target.close()

    assert (failed.status, failed.counts.created, failed.counts.failed) == ("failed", 100, 0)
    assert 'relation "people" does not exist' in (failed.error or "")
    assert "table people cannot be written at all" in (failed.error or "")
    assert dead_letters == []
    assert still_away.status == "failed"
    assert "table people does not exist; the tables there are: people_away" in (still_away.error or "")
    assert (back.status, back.counts.created, back.counts.failed) == ("succeeded", 400, 0)
    assert rows == 500
