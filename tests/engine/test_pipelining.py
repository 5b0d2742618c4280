"""Batches overlap (one planned while the one before is written and stored): a key read again in the
next batch is planned on what the batch before it did, never on a look-up made before that was stored."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import app.engine.one_way_run as run_module
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.errors import PermanentError, StoreError
from app.store import Checkpoint, Counts, RunInfo, Store
from connectors.base import Batch, Write, WriteResult
from connectors.csv.connector import CsvConnector
from connectors.sql.connector import SqlConnector

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  exports:
    connector: csv
    path: exports
    batch_size: 2
    streams: {people: {file: people.csv, key: id}}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams: {people: {table: people, key: id}}
"""

SYNC = "source: exports.people\ntarget: db.people\nfields: {id: {from: id, type: integer}, name: name}\n"


def _project(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "people.csv").write_text("id,name\n" + rows)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "people.yaml").write_text(SYNC)
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
    connection.close()
    return tmp_path / "brygga.yaml"


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.execute(sql))
    finally:
        connection.close()


async def _run(project: Path, options: RunOptions | None = None) -> RunInfo:
    async with open_engine(open_workspace(project, environ={})) as engine:
        return await engine.run("people", options or RunOptions())


async def test_a_key_read_again_in_the_next_batch_is_updated_once_more_not_created_twice(tmp_path: Path) -> None:
    run = await _run(_project(tmp_path, "1,Ann\n2,Bo\n1,Annie\n3,Cy\n2,Bob\n4,Di\n"))

    assert run.status == "succeeded", run.error
    assert run.counts == Counts(read=6, created=4, updated=2)
    assert _rows(tmp_path / "db.sqlite", "SELECT id, name FROM people ORDER BY id") == [
        (1, "Annie"), (2, "Bob"), (3, "Cy"), (4, "Di"),
    ]  # fmt: skip
    assert _rows(tmp_path / "state.db", "SELECT source_key, action FROM record_log ORDER BY id") == [
        ("1", "created"), ("2", "created"), ("1", "updated"), ("3", "created"), ("2", "updated"), ("4", "created"),
    ]  # fmt: skip
    assert _rows(tmp_path / "state.db", "SELECT source_key FROM id_map ORDER BY source_key") == [
        ("1",), ("2",), ("3",), ("4",),
    ]  # fmt: skip


async def test_a_batch_waiting_for_the_one_before_still_counts_for_the_look_up_of_the_next(tmp_path: Path) -> None:
    # 1 comes again in the second batch (which then waits for the first to be stored), and 3 again in
    # the third, looked up while the second waited.
    run = await _run(_project(tmp_path, "1,Ann\n2,Bo\n1,Annie\n3,Cy\n3,Cyd\n4,Di\n"))

    assert run.status == "succeeded", run.error
    assert run.counts == Counts(read=6, created=4, updated=2)
    assert _rows(tmp_path / "db.sqlite", "SELECT id, name FROM people ORDER BY id") == [
        (1, "Annie"), (2, "Bo"), (3, "Cyd"), (4, "Di"),
    ]  # fmt: skip


async def test_a_first_load_looks_up_only_keys_it_has_met_and_finds_one_met_long_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"{n},Person {n}\n" for n in range(1, 19)) + "1,Person one\n"  # 1 again, nine batches on
    _project(tmp_path, rows)
    looked_up: list[set[str]] = []
    id_map = Store.id_map

    async def counted(self: Store, sync: str, keys: Any) -> Any:
        looked_up.append(set(keys))
        return await id_map(self, sync, keys)

    monkeypatch.setattr(Store, "id_map", counted)

    async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
        first = await engine.run("people", RunOptions())
        assert (first.status, first.counts) == ("succeeded", Counts(read=19, created=18, updated=1)), first.error
        assert looked_up == [{"1"}], "a first load looks up only a key it has met before"
        assert _rows(tmp_path / "db.sqlite", "SELECT name FROM people WHERE id = 1") == [("Person one",)]

        looked_up.clear()
        again = await engine.run("people", RunOptions(full=True))
    assert again.counts.read == 19 and again.counts.created == 0
    assert len(looked_up) == 10, "a later run looks every batch up"


class _WatchedStop(asyncio.Event):
    """A stop request that tells when the run has seen it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = asyncio.Event()

    def is_set(self) -> bool:
        if super().is_set():
            self.seen.set()
            return True
        return False


async def test_a_stop_asked_mid_write_lets_that_batch_finish_and_be_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, "".join(f"{n},Person {n}\n" for n in range(1, 9)))
    stop = _WatchedStop()
    write, read = SqlConnector.write, CsvConnector.read
    first_written = asyncio.Event()
    writes_done: list[bool] = []
    """For each write that ended: whether the run had seen the stop by then."""

    async def read_slowly(
        self: CsvConnector, stream: str, checkpoint: Checkpoint | None, size: int
    ) -> AsyncIterator[Batch]:
        async for batch in read(self, stream, checkpoint, size):
            yield batch
            await first_written.wait()  # a slow source: the next batch comes once the first is in the target

    async def write_then_stop(self: SqlConnector, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        results = await write(self, stream, writes)  # in the target now, and not yet in the state
        if not writes_done:
            stop.set()  # the service shuts down while this batch is still being written
            first_written.set()
            await stop.seen.wait()  # the run reaches its next check first: it waits for the next batch, not this
        writes_done.append(stop.seen.is_set())
        return results

    monkeypatch.setattr(CsvConnector, "read", read_slowly)
    monkeypatch.setattr(SqlConnector, "write", write_then_stop)
    stopped = await _run(project, RunOptions(stop=stop))
    monkeypatch.undo()

    assert writes_done == [True], "the write under way when the stop came was finished, not cancelled"
    assert stopped.status == "failed" and "stopped before it ended" in (stopped.error or ""), stopped
    written = _rows(tmp_path / "db.sqlite", "SELECT id FROM people ORDER BY id")
    assert written, "the batch being written when the stop came was finished"
    assert _rows(tmp_path / "state.db", "SELECT CAST(source_key AS INTEGER) FROM id_map ORDER BY 1") == written
    assert stopped.counts.created == len(written)

    again = await _run(project)
    assert (again.status, again.counts.created) == ("succeeded", 8 - len(written))


async def test_the_target_is_opened_and_prepared_while_the_source_reads_its_first_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch is asked for before the target is opened: a REST API's first page takes longer than a
    database's connection and catalog queries, which neither waits for the other."""
    project = _project(tmp_path, "1,Ann\n")
    both_begun = asyncio.Barrier(2)
    csv_read, sql_prepare = CsvConnector.read, SqlConnector.prepare

    async def meet() -> None:
        async with asyncio.timeout(5):  # one after the other, the first would wait here for ever
            await both_begun.wait()

    async def read(connector: Any, *args: Any) -> AsyncIterator[Batch]:
        await meet()
        async for batch in csv_read(connector, *args):
            yield batch

    async def prepare(connector: Any, stream: str, **options: Any) -> Any:
        await meet()
        return await sql_prepare(connector, stream, **options)

    monkeypatch.setattr(CsvConnector, "read", read)
    monkeypatch.setattr(SqlConnector, "prepare", prepare)

    run = await _run(project)

    assert (run.status, run.counts.created) == ("succeeded", 1), run.error


async def test_a_target_that_does_not_open_fails_the_run_and_the_first_batch_asked_for_is_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source's first batch, asked for already, is cancelled and its read closed: nothing is left running."""
    project = _project(tmp_path, "1,Ann\n")
    asked, closed = asyncio.Event(), asyncio.Event()
    csv_read = CsvConnector.read

    async def read(connector: Any, *args: Any) -> AsyncIterator[Batch]:
        asked.set()
        try:
            await asyncio.Event().wait()  # an answer that takes its time
            async for batch in csv_read(connector, *args):
                yield batch
        finally:
            closed.set()

    async def prepare(connector: Any, stream: str, **options: Any) -> Any:
        await asked.wait()
        raise PermanentError("target table customers: no such table")

    monkeypatch.setattr(CsvConnector, "read", read)
    monkeypatch.setattr(SqlConnector, "prepare", prepare)

    run = await asyncio.wait_for(_run(project), 10)

    assert (run.status, run.error) == ("failed", "target table customers: no such table")
    assert closed.is_set()


async def test_the_next_batch_is_read_while_one_is_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source read and the ID-map look-up are each a database's work: they overlap, not queue."""
    project = _project(tmp_path, "1,Ann\n2,Bo\n3,Cy\n4,Di\n5,Ed\n")
    assert (await _run(project)).status == "succeeded"
    second_read = asyncio.Event()
    csv_read, id_map = CsvConnector.read, Store.id_map

    async def read(connector: Any, *args: Any) -> AsyncIterator[Batch]:
        count = 0
        async for batch in csv_read(connector, *args):
            count += 1
            if count == 2:
                second_read.set()
            yield batch

    async def looked_up(store: Store, sync: str, keys: Any) -> Any:
        async with asyncio.timeout(5):  # the source waiting for this look-up would never read the second batch
            await second_read.wait()
        return await id_map(store, sync, keys)

    monkeypatch.setattr(CsvConnector, "read", read)
    monkeypatch.setattr(Store, "id_map", looked_up)

    run = await _run(project, RunOptions(full=True))

    assert (run.status, run.counts.unchanged) == ("succeeded", 5), run.error


async def test_a_batch_is_being_written_before_the_next_one_is_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write's round trips to the target overlap the next batch's planning (Python's work), not follow it."""
    project = _project(tmp_path, "1,Ann\n2,Bo\n3,Cy\n4,Di\n5,Ed\n6,Flo\n")
    events: list[str] = []
    plan_batch, write = run_module.plan_batch, SqlConnector.write  # type: ignore[attr-defined]

    async def planning(parts: Any, records: Sequence[Any], *args: Any, **options: Any) -> Any:
        events.append(f"plan {records[0]['id']}")
        return await plan_batch(parts, records, *args, **options)

    async def writing(connector: Any, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        events.append(f"write {writes[0].record['id'] if writes[0].record else None}")
        return await write(connector, stream, writes)

    monkeypatch.setattr(run_module, "plan_batch", planning)
    monkeypatch.setattr(SqlConnector, "write", writing)

    run = await _run(project)

    assert (run.status, run.counts.created) == ("succeeded", 6), run.error
    assert events == ["plan 1", "write 1", "plan 3", "write 3", "plan 5", "write 5"]


def _batches_ahead(monkeypatch: pytest.MonkeyPatch, done: Callable[[], int]) -> list[int]:
    """As each batch is read, how many batches read are not ``done`` yet (written, committed): filled as the run
    reads."""
    read, batches_read, ahead = CsvConnector.read, 0, []

    async def counted_read(self: CsvConnector, *args: Any) -> AsyncIterator[Batch]:
        nonlocal batches_read
        async for batch in read(self, *args):
            batches_read += 1
            ahead.append(batches_read - done())
            yield batch

    monkeypatch.setattr(CsvConnector, "read", counted_read)
    return ahead


async def test_reading_waits_while_the_records_read_and_not_yet_written_reach_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 2, at most 4 records in flight: the source reads a batch only once at most one
    # batch read before it is still unwritten, however slow the writes.
    project = _project(tmp_path, "".join(f"{n},Person {n}\n" for n in range(1, 13)))
    monkeypatch.setattr(run_module, "RECORDS_IN_FLIGHT", 4, raising=False)
    write, batches_written = SqlConnector.write, 0
    ahead = _batches_ahead(monkeypatch, lambda: batches_written)

    async def slow_write(self: SqlConnector, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        nonlocal batches_written
        for _ in range(5):
            await asyncio.sleep(0)  # a target slower than the source: reading would run ahead
        results = await write(self, stream, writes)
        batches_written += 1
        return results

    monkeypatch.setattr(SqlConnector, "write", slow_write)
    run = await _run(project)

    assert (run.status, run.counts) == ("succeeded", Counts(read=12, created=12)), run.error
    assert max(ahead) <= 2, f"batches read ahead of the writes: {ahead}"


async def test_reading_waits_while_the_records_read_and_not_yet_committed_reach_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A state database slower than the rest: a batch written holds its records' state rows (and the next
    # batches their records) until its commit, so the source reads on only as batches are committed, not
    # written: reading ahead of slow commits piled three batches of state rows up, two read ahead of them.
    project = _project(tmp_path, "".join(f"{n},Person {n}\n" for n in range(1, 13)))
    monkeypatch.setattr(run_module, "RECORDS_IN_FLIGHT", 4, raising=False)
    commit_batch, batches_committed = Store.commit_batch, 0
    ahead = _batches_ahead(monkeypatch, lambda: batches_committed)

    async def slow_commit(self: Store, *args: Any, **options: Any) -> None:
        nonlocal batches_committed
        for _ in range(20):
            await asyncio.sleep(0)  # a state database slower than the source and the target
        await commit_batch(self, *args, **options)
        batches_committed += 1

    monkeypatch.setattr(Store, "commit_batch", slow_commit)
    run = await _run(project)

    assert (run.status, run.counts) == ("succeeded", Counts(read=12, created=12)), run.error
    assert max(ahead) <= 2, f"batches read ahead of the commits: {ahead}"


async def test_a_commit_failing_while_the_source_waits_for_room_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The records of a batch whose commit failed are never given back: the source, waiting for room,
    # would wait for ever, and the run with it, instead of failing with the state database's error.
    project = _project(tmp_path, "".join(f"{n},Person {n}\n" for n in range(1, 13)))
    monkeypatch.setattr(run_module, "RECORDS_IN_FLIGHT", 4, raising=False)
    commit_batch, commits = Store.commit_batch, 0

    async def failing_commit(self: Store, *args: Any, **options: Any) -> None:
        nonlocal commits
        commits += 1
        if commits == 2:
            raise StoreError("the state database is full")
        await commit_batch(self, *args, **options)

    monkeypatch.setattr(Store, "commit_batch", failing_commit)
    async with asyncio.timeout(30):
        run = await _run(project)

    assert run.status == "failed"
    assert "the state database is full" in (run.error or "")
    assert _rows(tmp_path / "state.db", "SELECT count(*) FROM id_map") == [(2,)]
