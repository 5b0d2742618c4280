"""A key the source gives twice in one read, in different batches (a CSV export's duplicated row, a JOIN that
repeats a row, offset pages that shift): each run wrote both versions, so the target flipped between them
within every run and nothing said why."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import Counts

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  exports:
    connector: csv
    path: exports
    batch_size: 1
    streams:
      people: {file: people.csv, key: id}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams:
      people: {table: people, key: id}
"""

SYNC = """\
source: exports.people
target: db.people
fields:
  id: {from: id, type: integer}
  name: name
"""

READ_AGAIN = "its key was read earlier in this run"


def _project(tmp_path: Path, rows: str) -> Path:
    (tmp_path / "exports").mkdir()
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings" / "people.yaml").write_text(SYNC)
    (tmp_path / "exports" / "people.csv").write_text(rows)
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
    connection.close()
    return tmp_path / "brygga.yaml"


def _people(project: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(project.parent / "db.sqlite")
    try:
        return list(connection.execute("SELECT id, name FROM people ORDER BY id"))
    finally:
        connection.close()


async def _run(project: Path) -> tuple[Counts, list[tuple[str, str, str | None]]]:
    """One run's counts and its record log: (source key, action, note)."""
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("people", RunOptions())
        assert run.error is None, run.error
        log = await engine.store.history.log(run.id, None, 100)
    return run.counts, [(entry.source_key, entry.action, entry.error) for entry in log]


def _counts(counts: Counts) -> tuple[int, ...]:
    return counts.read, counts.created, counts.updated, counts.unchanged, counts.skipped


async def test_a_key_read_twice_across_batches_stops_flipping_the_target_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # key 2's repeat is the very same row: it changes nothing and is no repeat to report
    project = _project(tmp_path, "id,name\n1,Anna\n2,Bo\n1,Carl\n2,Bo\n")
    caplog.set_level(logging.WARNING, "brygga.engine")

    # the first run meets the repeat: the later read is written (it may be a change made while the run read)
    counts, log = await _run(project)
    assert _counts(counts) == (4, 2, 1, 1, 0)
    assert [(key, action) for key, action, _ in log] == [("1", "created"), ("2", "created"), ("1", "updated")]
    assert READ_AGAIN in (log[2][2] or "")
    assert _people(project) == [(1, "Carl"), (2, "Bo")]
    assert "1 record(s) had their key read again in a later batch of the same run" in caplog.text

    # the next run: the first read is written back, the very same repeat is skipped, saying why
    caplog.clear()
    counts, log = await _run(project)
    assert _counts(counts) == (4, 0, 1, 2, 1)
    assert [(key, action) for key, action, _ in log] == [("1", "updated"), ("1", "skipped")]
    assert READ_AGAIN in (log[1][2] or "")
    assert _people(project) == [(1, "Anna"), (2, "Bo")]
    assert "1 record(s) had their key read again" in caplog.text

    # from then on nothing is written: the target keeps the first read, and every run still says so
    for _ in range(2):
        counts, log = await _run(project)
        assert _counts(counts) == (4, 0, 0, 3, 1)
        assert [(key, action) for key, action, _ in log] == [("1", "skipped")]
        assert _people(project) == [(1, "Anna"), (2, "Bo")]


async def test_a_repeat_with_new_values_is_written_not_lost(tmp_path: Path) -> None:
    """A later read that differs from the repeat skipped before may be a change made while the run read (a REST
    API's shifting pages): it is written."""
    project = _project(tmp_path, "id,name\n1,Anna\n2,Bo\n1,Carl\n")
    for _ in range(2):
        await _run(project)
    (project.parent / "exports" / "people.csv").write_text("id,name\n1,Anna\n2,Bo\n1,Dora\n")

    counts, log = await _run(project)

    assert _counts(counts) == (3, 0, 1, 2, 0)
    assert [(key, action) for key, action, _ in log] == [("1", "updated")]
    assert _people(project) == [(1, "Dora"), (2, "Bo")]


@pytest.mark.parametrize(
    ("fixed", "kept"),
    [("id,name\n1,Anna\n2,Bo\n", "Anna"), ("id,name\n2,Bo\n1,Carl\n", "Carl")],
    ids=["the later row removed", "the earlier row removed"],
)
async def test_once_the_source_gives_the_key_once_its_row_is_what_the_target_holds(
    tmp_path: Path, fixed: str, kept: str
) -> None:
    project = _project(tmp_path, "id,name\n1,Anna\n2,Bo\n1,Carl\n")
    for _ in range(3):
        counts, _log = await _run(project)
    assert counts.updated == 0, "the third run writes nothing"
    (project.parent / "exports" / "people.csv").write_text(fixed)

    for _ in range(2):
        counts, log = await _run(project)
        assert counts.skipped == 0
        assert all(READ_AGAIN not in (note or "") for _, _, note in log)
        assert _people(project) == [(1, kept), (2, "Bo")]
