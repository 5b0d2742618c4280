"""A run asks the state database about the dead letters of each batch's keys: it no longer reads every
letter of its sync as it begins and holds them for the whole run (~220 bytes a letter: 250 MB at 1,000,000).

Memory is measured with tracemalloc (allocations, not time): a run of a sync with 50,000 dead letters peaks
where one with 5,000 does. The letters are given up (failed more often than ``retry.later_runs``), so no
run retries them: they are only the letters a run has to know about.
"""

from __future__ import annotations

import sqlite3
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.mapping import record_hash
from app.records import dumps
from app.store import Counts, RunInfo
from app.store.tables import DEAD_LETTERS, utc_now

PROJECT = """\
version: 1
state: {state}
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams: {{items: {{table: items, key: code}}}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams: {{items: {{table: items, key: code}}}}
"""
SYNC = """\
source: crm.items
target: erp.items
retry: {attempts: 1, backoff: 0s, max_backoff: 0s, later_runs: 3}
fields:
  code: code
  name: name
"""
GIVEN_UP = 4
"""Attempts of a letter no later run retries (``later_runs: 3``)."""


def _project(root: Path, state: str, sync: str) -> Path:
    """Source items a (new), b (a letter keeps this very record), c (a letter keeps an older version); the
    sync ``sync`` (each project a sync of its own name: on PostgreSQL they share one state database)."""
    for name in ("crm.db", "erp.db"):
        with sqlite3.connect(root / name) as connection:
            connection.execute("CREATE TABLE items (code TEXT PRIMARY KEY, name TEXT)")
        connection.close()
    with sqlite3.connect(root / "crm.db") as connection:
        connection.executemany("INSERT INTO items VALUES (?, ?)", [("a", "Ann"), ("b", "Bo"), ("c", "Cy")])
    connection.close()
    (root / "brygga.yaml").write_text(PROJECT.format(state=state), encoding="utf-8")
    (root / "mappings").mkdir()
    (root / "mappings" / f"{sync}.yaml").write_text(textwrap.dedent(SYNC), encoding="utf-8")
    return root / "brygga.yaml"


def _letter(sync: str, key: str, record: dict[str, Any], digest: str | None) -> dict[str, Any]:
    now = utc_now()
    return {
        "sync": sync,
        "source_key": key,
        "record": dumps(record),
        "error": "field name: required",
        "reason": "mapping",
        "attempts": GIVEN_UP,
        "run_id": None,
        "first_failed_at": now,
        "last_failed_at": now,
        "direction": "",
        "hash": digest,
    }


async def _keep_letters(file: Path, sync: str, count: int) -> None:
    """``count`` given-up letters of records gone from the source, and those of b and c. b's is one kept before
    letters had hashes (its record is hashed when asked), c's keeps an older version of c."""
    letters = [_letter(sync, f"gone-{n:06}", {"code": f"gone-{n:06}", "name": None}, f"h{n}") for n in range(count)]
    letters.append(_letter(sync, "b", {"code": "b", "name": "Bo"}, None))
    old_c = {"code": "c", "name": None}
    letters.append(_letter(sync, "c", old_c, record_hash(old_c)))
    async with open_engine(open_workspace(file, environ={})) as engine, engine.store.engine.begin() as connection:
        for start in range(0, len(letters), 10_000):
            await connection.execute(insert(DEAD_LETTERS), letters[start : start + 10_000])


async def _run_measured(file: Path, sync: str) -> tuple[RunInfo, int, list[str]]:
    """Run the sync with tracemalloc on: the run, its peak of allocations, and the letters left after it."""
    async with open_engine(open_workspace(file, environ={})) as engine:
        tracemalloc.start()
        try:
            run = await engine.run(sync, RunOptions())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        letters = [letter.source_key for letter in await engine.store.dead_letters(sync)]
    return run, peak, letters


async def test_a_run_s_memory_does_not_grow_with_its_sync_s_dead_letters(tmp_path: Path, state: str) -> None:
    peaks: dict[int, int] = {}
    for number, count in enumerate((5_000, 50_000, 5_000)):  # the first run warms up what any first run loads
        sync = f"items{number}"
        root = tmp_path / sync
        root.mkdir()
        file = _project(root, state, sync)
        await _keep_letters(file, sync, count)

        run, peaks[count], letters = await _run_measured(file, sync)

        # as before: a new, b read again as its letter keeps it (left alone, its letter stays), c changed since
        # its letter was kept (written, its letter cleared)
        assert (run.status, run.counts) == ("succeeded", Counts(read=3, created=2, unchanged=1)), run.error
        assert len(letters) == count + 1 and "b" in letters and "c" not in letters
        with sqlite3.connect(root / "erp.db") as connection:
            assert connection.execute("SELECT code, name FROM items ORDER BY code").fetchall() == [
                ("a", "Ann"),
                ("c", "Cy"),
            ]
        connection.close()

    grown = peaks[50_000] - peaks[5_000]
    # reading every letter held ~220 bytes each: 45,000 more were ~10 MB more at the peak
    assert grown < 1_000_000, f"45,000 more dead letters: the run's peak grew by {grown:,} bytes ({peaks})"
