"""SIGTERM in the middle of a run of ``brygga serve``: a quick, clean exit; after a restart the sync
completes with every record once in the target (SPEC 6, 8)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

from tests.service.conftest import Project, Served

ROWS = 20_000
SETTINGS = {"BRYGGA_SHUTDOWN_GRACE": "3s", "BRYGGA_LEASE_TTL": "3s"}


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def test_sigterm_mid_run_exits_quickly_and_a_restart_completes_every_record_once(
    project: Project, serve: Callable[..., Served]
) -> None:
    project.write(batch_size=50)
    project.customers_sync()
    project.add_contacts(ROWS)
    first = serve(project.file, SETTINGS)

    started = first.client.post("/api/v1/syncs/customers/runs")
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    _wait_until(lambda: project.erp.count("customers") >= 1_000, 30, "the run to be under way")
    busy = first.client.post("/api/v1/syncs/customers/runs")
    assert busy.status_code == 409, busy.text
    assert "running already" in busy.json()["detail"]

    asked = time.monotonic()
    first.signal(signal.SIGTERM)
    try:
        first.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"brygga serve did not exit within 10s of SIGTERM:\n{first.log()}") from None
    exited_after = time.monotonic() - asked
    written = project.erp.count("customers")
    assert 0 < written < ROWS, f"the run must be stopped in the middle, not {written} of {ROWS}"
    stopped = project.state.rows("SELECT status, error FROM runs WHERE id = ?", run_id)
    assert stopped == [("failed", stopped[0][1])] and "stopped before it ended" in stopped[0][1], stopped
    assert project.state.rows("SELECT count(*) FROM leases") == [(0,)], "the lease is given back"

    second = serve(project.file, SETTINGS)
    again = second.client.post("/api/v1/syncs/customers/runs")
    assert again.status_code == 202, again.text
    again_id = again.json()["run_id"]
    _wait_until(lambda: _status(project, again_id) != "running", 60, "the run after the restart")

    assert _status(project, again_id) == "succeeded", second.log()
    assert project.erp.rows("SELECT count(*), count(DISTINCT customer_no), min(customer_no), max(customer_no) "
                            "FROM customers") == [(ROWS, ROWS, 1, ROWS)]  # fmt: skip
    assert project.state.rows("SELECT sum(created) FROM runs") == [(ROWS,)], "nothing created twice"
    assert exited_after < 10


def _status(project: Project, run_id: int) -> str:
    rows = project.state.rows("SELECT status FROM runs WHERE id = ?", run_id)
    return str(rows[0][0])
