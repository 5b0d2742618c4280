"""Crash safety: ``brygga run`` killed with SIGKILL mid-sync, then run again (SPEC 8)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from app.records import loads
from tests.cli.helpers import BRYGGA
from tests.engine.conftest import Database, ProjectFactory, contact

ROWS = 20_000


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _count(database: Database, sql: str) -> int:
    try:
        return int(database.rows(sql)[0][0])
    except Exception:  # the writer holds a lock for a moment: ask again
        return -1


def test_a_killed_run_resumes_with_every_row_once_and_the_cursor_right(make_project: ProjectFactory) -> None:
    project = make_project(batch_size=250)
    start = datetime(2024, 3, 1, 12, 0, 0)
    stamps = [(start + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S") for n in range(ROWS)]
    project.crm.insert("contacts", [contact(n + 1, f"Name {n}", at=stamps[n]) for n in range(ROWS)])
    command = [str(BRYGGA), "run", "contacts", "-c", str(project.file)]

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: _count(project.erp, "SELECT count(*) FROM customers") >= 2_000, 60, "the first rows")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    written_at_kill = _count(project.erp, "SELECT count(*) FROM customers")
    assert process.returncode == -signal.SIGKILL
    assert 0 < written_at_kill < ROWS, "the run must be killed in the middle"

    state = Database(project.file.parent / "state.db")
    stored = state.rows("SELECT checkpoint FROM cursors")
    if stored:  # the checkpoint never runs ahead of what was written: every row before it is in the target
        checkpoint = loads(stored[0][0])
        assert set(checkpoint) == {"full"}, "a first run reads everything in key order, resumably"
        last_written = checkpoint["full"]["after"][0]
        written = project.erp.rows("SELECT count(*) FROM customers WHERE customer_no <= ?", last_written)
        assert written == [(last_written,)]

    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert again.returncode == 0, again.stdout + again.stderr
    assert project.erp.rows("SELECT count(*), count(DISTINCT customer_no) FROM customers") == [(ROWS, ROWS)]
    assert project.erp.rows("SELECT min(customer_no), max(customer_no) FROM customers") == [(1, ROWS)]
    assert state.rows("SELECT count(*) FROM id_map") == [(ROWS,)]
    checkpoint = loads(state.rows("SELECT checkpoint FROM cursors")[0][0])
    assert str(checkpoint["cursor"]) == stamps[-1]  # SQLite keeps timestamps as text; so does the cursor
    assert state.rows("SELECT count(*) FROM dead_letters") == [(0,)]
