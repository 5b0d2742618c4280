"""A written batch waits for its state commit holding its record-log texts, not its mapped records.

A batch is handed to the commit queue once written, and may wait there behind the batches before it;
what it holds then is held by every batch in the queue. Its record-log values are made into the text
the log keeps when the batch is written (a REST full load's peak: 8 MB less at 100,000 records).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.engine import one_way_run
from app.engine.pipeline import CommitQueue
from app.engine.runner import Engine, RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import BatchChanges
from tests.engine.conftest import Project, ProjectFactory, contact, state_rows
from tests.engine.test_bad_records import _project as items_project
from tests.engine.test_bad_records import _run as run_items


def _watch_commits(engine: Engine, seen: list[Any]) -> None:
    """Keep the record-log values of every batch handed to the state database."""
    commit = engine.store.commit_batch

    async def watching(sync: str, run_id: int, changes: BatchChanges, after: Any = None) -> None:
        seen.extend(entry[4] for entry in changes.log)
        await commit(sync, run_id, changes, after)

    engine.store.commit_batch = watching  # type: ignore[method-assign]


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    made = make_project(batch_size=2)
    made.crm.insert("contacts", [contact(1, "Ann"), contact(2, "Bo"), contact(3, "Cy", "cy@example.com")])
    return made


async def test_a_written_batch_holds_its_log_texts_not_its_records(project: Project) -> None:
    seen: list[Any] = []

    run = await project.run("contacts", engine_hook=lambda engine: _watch_commits(engine, seen))

    assert run.status == "succeeded" and run.counts.created == 3
    assert len(seen) == 3 and all(isinstance(values, str) for values in seen), seen
    stored = await state_rows(project, "SELECT detail FROM record_log ORDER BY id")
    assert [row[0] for row in stored] == seen
    assert any('"Cy"' in text for text in seen)


async def test_a_project_that_keeps_no_values_holds_none(project: Project) -> None:
    project.file.write_text(project.file.read_text() + "record_log: {values: false}\n")
    seen: list[Any] = []

    run = await project.run("contacts", engine_hook=lambda engine: _watch_commits(engine, seen))

    assert run.status == "succeeded" and run.counts.created == 3
    assert seen == [None, None, None]
    assert await state_rows(project, "SELECT detail FROM record_log") == [(None,)] * 3


async def test_batches_wait_to_be_stored_one_at_a_time_on_sqlite_two_on_postgresql(
    tmp_path: Path, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite stores one batch at a time: a second batch queued behind it only held its texts meanwhile.
    PostgreSQL writes a batch's rows while the one before commits, so two are under way there."""
    depths: list[int] = []

    class Watched(CommitQueue):
        def __init__(self, depth: int = 2) -> None:
            depths.append(depth)
            super().__init__(depth)

    monkeypatch.setattr(one_way_run, "CommitQueue", Watched)
    file = items_project(tmp_path, state, [("a", "Ann"), ("b", "Bo")])

    run, _, _ = await run_items(file)

    assert run.status == "succeeded" and run.counts.created == 2
    assert depths == [2 if state.startswith("postgresql") else 1]


async def test_the_failures_a_run_names_are_read_alone_the_first_few(make_project: ProjectFactory) -> None:
    """``brygga run`` names the first ten failed records: only those are read, not the run's whole log (a
    100,000-record run with one failure held all its entries, values and all, to find it)."""
    project = make_project()
    failing = [contact(n, email="   ") for n in (2, 4, 6, 8, 10)]
    project.crm.insert("contacts", [*failing, *(contact(n) for n in (1, 3, 5, 7, 9))])

    async with open_engine(open_workspace(project.file, environ={})) as engine:
        run = await engine.run("contacts", RunOptions())
        first = await engine.failures(run.id, 3)

    assert (run.counts.created, run.counts.failed) == (5, 5)
    assert [key for key, _ in first] == ["2", "4", "6"]
    assert all("email" in error for _, error in first)
