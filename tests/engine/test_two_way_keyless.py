"""Two-way syncs and records without a key (a CSV line with an empty key cell, a SQL row whose key column is
NULL), over SQLite and PostgreSQL state: each fails alone into the dead letters of its direction, is counted
once a run, run after run, and the other records go on, as in a one-way sync (SPEC 8). Both sides' reads left
such records out without a word: a run said ``succeeded``, with nothing failed and nothing in the dead letters,
and the records never reached the other side."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.engine.preview import preview_sync
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import BatchChanges, DeadLetterInfo, Failure, RunInfo
from tests.engine.two_way_project import make_two_way_project

PROJECT = """\
version: 1
state: {state}
systems:
  crm:
    connector: csv
    path: crm
    streams: {{contacts: {{file: contacts.csv, key: id}}}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams: {{people: {{table: people, key: code}}}}
"""
SYNC = """\
two_way: {a: crm.contacts, b: erp.people, create_in: [b]}
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
to_b: {code: id, name: name}
to_a: {id: code, name: name}
"""


def _project(root: Path, state: str) -> Path:
    (root / "crm").mkdir()
    (root / "crm" / "contacts.csv").write_text("id,name\n1,Ann\n,Bo\n2,Cy\n,Di\n", encoding="utf-8")
    erp = sqlite3.connect(root / "erp.db")
    with erp:
        erp.execute("CREATE TABLE people (row INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT)")
        erp.execute("INSERT INTO people (code, name) VALUES (NULL, 'Eve')")
    erp.close()
    (root / "brygga.yaml").write_text(PROJECT.format(state=state), encoding="utf-8")
    (root / "mappings").mkdir()
    (root / "mappings" / "tw.yaml").write_text(SYNC, encoding="utf-8")
    return root / "brygga.yaml"


async def _run(file: Path) -> tuple[RunInfo, list[DeadLetterInfo]]:
    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("tw", RunOptions())
        return run, await engine.store.dead_letters("tw")


def _erp(root: Path) -> list[tuple[str | None, str]]:
    erp = sqlite3.connect(root / "erp.db")
    try:
        return list(erp.execute("SELECT code, name FROM people ORDER BY row"))
    finally:
        erp.close()


async def test_records_without_a_key_fail_alone_on_either_side_counted_once_run_after_run(
    tmp_path: Path, state: str
) -> None:
    file = _project(tmp_path, state)
    async with open_engine(open_workspace(file, environ={})) as engine:
        shown = await preview_sync(engine, "tw", 10)

    runs = [await _run(file) for _ in range(3)]

    assert sorted((row.direction, row.action, row.source_key[:9]) for row in shown if row.action != "create") == [
        ("to_a", "fail", "(no key) "),
        ("to_b", "fail", "(no key) "),
        ("to_b", "fail", "(no key) "),
    ]
    for run, letters in runs:
        assert (run.status, run.counts.failed) == ("partial", 3), run
        assert run.counts_by_direction is not None
        assert (run.counts_by_direction["to_b"].failed, run.counts_by_direction["to_a"].failed) == (2, 1)
        assert sorted((letter.direction, letter.record.get("name")) for letter in letters) == [
            ("to_a", "Eve"),
            ("to_b", "Bo"),
            ("to_b", "Di"),
        ]
    assert runs[0][0].counts.created == 2 and _erp(tmp_path) == [(None, "Eve"), ("1", "Ann"), ("2", "Cy")]
    ids = [sorted(letter.id for letter in letters) for _, letters in runs]
    assert ids[0] == ids[1] == ids[2], "the dead letters were cleared and made again"
    assert [letter.attempts for letter in runs[2][1]] == [3, 3, 3]
    errors = {letter.error for letter in runs[0][1]}
    assert errors == {
        "sync tw: a record of crm.contacts has no value for its key field id, so it cannot be linked with a record "
        "of erp.people: give it one in crm",
        "sync tw: a record of erp.people has no value for its key field code, so it cannot be linked with a record "
        "of crm.contacts: give it one in erp",
    }


async def test_identical_records_without_a_key_are_each_counted_failed_run_after_run(
    tmp_path: Path, state: str
) -> None:
    """Two identical records without a key share one stand-in key: they were counted as one failed record (read
    1 for 2), where a one-way run counts both. Each is counted and logged as failed; they keep one dead letter,
    retried once a run."""
    file = _project(tmp_path, state)
    (tmp_path / "crm" / "contacts.csv").write_text("id,name\n1,Ann\n,Bo\n,Bo\n", encoding="utf-8")

    runs = [await _run(file) for _ in range(3)]

    for run, letters in runs:
        assert run.counts_by_direction is not None
        to_b = run.counts_by_direction["to_b"]
        assert (to_b.read, to_b.failed, run.counts.failed) == (3, 2, 3), run
        assert sorted((letter.direction, letter.record.get("name")) for letter in letters) == [
            ("to_a", "Eve"),
            ("to_b", "Bo"),
        ]
    assert [letter.attempts for letter in runs[2][1]] == [3, 3]
    async with open_engine(open_workspace(file, environ={})) as engine:
        logged = await engine.store.history.log(runs[2][0].id, None, 100, "failed")
    assert sorted(entry.direction or "" for entry in logged) == ["to_a", "to_b", "to_b"]


async def test_a_record_without_a_key_whose_dead_letter_is_tried_out_is_unchanged_not_failed_again(
    tmp_path: Path,
) -> None:
    """As in a one-way sync: read again once its dead letter is no longer retried, the very same record is
    unchanged (its letter stays, to be discarded or fixed), not failed anew."""
    file = _project(tmp_path, "sqlite:///state.db")
    (tmp_path / "mappings" / "tw.yaml").write_text(
        SYNC.replace("retry: {attempts: 1,", "retry: {later_runs: 0, attempts: 1,"), encoding="utf-8"
    )

    first, letters = await _run(file)
    second, again = await _run(file)

    assert (first.counts.failed, second.counts.failed) == (3, 0)
    assert second.counts.unchanged == 2 * 2 + 3  # two pairs, each both ways; the three records without a key
    assert [letter.id for letter in letters] == [letter.id for letter in again]


async def test_a_dead_letter_kept_without_its_record_is_settled_again_by_its_key(tmp_path: Path) -> None:
    """A pair whose record a side refused to look up is kept as a letter with no record (``{}``): it has no key,
    but it is no record without one; it is retried by its pair's key, not failed again from its empty copy."""
    project = make_two_way_project(tmp_path)
    project.crm.insert([{"id": 1, "email": "a@crm.se", "phone": "1", "name": "A", "notes": None}])
    await project.run()
    async with open_engine(open_workspace(project.file, environ={})) as engine:
        run = await engine.store.start_run("crm-erp", "manual")
        refused = Failure("1", {}, "the system refused to look the record up by its key", "write", "to_b")
        await engine.store.commit_batch("crm-erp", run, BatchChanges(failures=[refused]))
        await engine.store.finish_run(run, "partial")

    retried = await project.run()

    assert (retried.status, retried.counts.failed) == ("succeeded", 0)
    assert project.state_rows("SELECT count(*) FROM dead_letters") == [(0,)]
