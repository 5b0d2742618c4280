"""Under the real ``brygga serve``: a connector call stuck for ever, or a connector raising ``SystemExit`` in
``open`` or ``prepare``, fails its run alone and the service goes on; a connector that holds the event loop is
named in the log while it does."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.serve_process import Api, ServeProcess, wait_until
from tests.engine.buggy_kind import REPO, register

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  src:
    connector: buggy
    call_timeout: 500ms
    streams:
      stuck: {key: id, bug: hang}
      swallows: {key: id, bug: swallow}
      exits: {key: id, bug: prepare SystemExit}
      blocks: {key: id, bug: block}
      good: {key: id}
  closed:
    connector: buggy
    bug: open SystemExit
    streams: {people: {key: id}}
  tgt:
    connector: buggy
    streams: {people: {key: id}}
"""

SOURCES = {
    "stuck": "src.stuck",
    "swallows": "src.swallows",
    "exits": "src.exits",
    "blocks": "src.blocks",
    "good": "src.good",
    "opens": "closed.people",
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServeProcess, Api]]:
    """``brygga serve`` of a project with a sync per bug, kind ``buggy`` installed for it."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    for name, source in SOURCES.items():
        mapping = f"source: {source}\ntarget: tgt.people\nfields: {{id: id, name: name}}\n"
        (tmp_path / "mappings" / f"{name}.yaml").write_text(mapping)
    site = register(tmp_path / "site")
    path = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    process = ServeProcess(tmp_path / "brygga.yaml", {"PYTHONPATH": path}, tmp_path / "logs").start()
    api = Api(process.url, [])
    try:
        yield process, api
    finally:
        api.close()
        process.stop()


def _run(api: Api, sync: str) -> dict[str, object]:
    run_id = api.json("POST", f"/api/v1/syncs/{sync}/runs", expect=202)["run_id"]
    return api.wait_for_run(run_id)


def test_a_stuck_call_fails_its_run_at_the_deadline_and_the_sync_runs_again(
    served: tuple[ServeProcess, Api],
) -> None:
    process, api = served

    first = _run(api, "stuck")
    second = _run(api, "stuck")  # not 409: the stuck run let go of its sync

    for run in (first, second):
        assert run["status"] == "failed"
        assert "the buggy connector of system 'src' did not finish reading stream 'stuck' within 500ms" in str(
            run["error"]
        )
    assert _run(api, "good")["status"] == "succeeded"
    assert process.running()


def test_a_call_that_swallows_its_cancellation_fails_its_run_and_the_service_goes_on_and_stops(
    served: tuple[ServeProcess, Api],
) -> None:
    """The call is given up on and left running (logged); it holds neither its sync, nor the service, nor
    the service's stop (SIGTERM)."""
    process, api = served

    first = _run(api, "swallows")
    second = _run(api, "swallows")  # not 409: the run given up on let go of its sync

    for run in (first, second):
        assert run["status"] == "failed"
        assert "did not finish reading stream 'swallows' within 500ms" in str(run["error"])
    assert "did not stop within 2s of being cancelled while reading stream 'swallows'" in process.log()
    assert _run(api, "good")["status"] == "succeeded"
    assert api.get("/health").status_code == 200
    exit_code = process.stop()
    assert exit_code in (0, -signal.SIGTERM), process.log()  # not SIGKILL, after the test's deadline


@pytest.mark.parametrize(("sync", "call"), [("opens", "connecting (open)"), ("exits", "preparing stream 'exits'")])
def test_system_exit_in_open_or_prepare_fails_its_run_and_the_service_goes_on(
    served: tuple[ServeProcess, Api], sync: str, call: str
) -> None:
    process, api = served

    run = _run(api, sync)

    assert run["status"] == "failed"
    assert f"raised SystemExit('exit by a connector') while {call}" in str(run["error"])
    assert api.get("/health").status_code == 200
    assert _run(api, "good")["status"] == "succeeded"
    assert process.running()


def test_a_connector_holding_the_event_loop_is_named_in_the_log(served: tuple[ServeProcess, Api]) -> None:
    process, api = served
    held = "sync blocks: the buggy connector of system 'src' has held the event loop for"

    with ThreadPoolExecutor(1) as pool:  # the answer may wait for the loop: asked aside
        asked = pool.submit(lambda: api.post("/api/v1/syncs/blocks/runs"))
        wait_until(lambda: held in process.log(), 30, "the warning that the loop is held")
        (process.config.parent / "release").touch()
        answer: httpx.Response = asked.result(timeout=30)
    run = api.wait_for_run(answer.json()["run_id"])

    line = next(line for line in process.log().splitlines() if held in line)
    assert "while reading stream 'blocks' (at " in line
    assert "buggy_kind.py:" in line
    assert "a connector must not block in an async method" in line
    wait_until(lambda: "the event loop is free again, after" in process.log(), 30, "the loop's release")
    assert run["status"] == "succeeded"
    assert api.get("/health").status_code == 200


def test_a_connector_whose_close_hangs_holds_a_stopping_service_no_longer_than_its_grace(tmp_path: Path) -> None:
    """SIGTERM: the service closes its connectors within ``shutdown_grace``, says which did not close, and
    exits; it did wait up to the connector's ``call_timeout`` (an hour by default)."""
    project = PROJECT.replace(
        "  closed:\n    connector: buggy\n    bug: open SystemExit\n",
        "  closed:\n    connector: buggy\n    bug: close hang\n",
    )
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(project.replace("    call_timeout: 500ms\n", ""))
    (tmp_path / "mappings" / "opens.yaml").write_text("source: closed.people\ntarget: tgt.people\nfields: {id: id}\n")
    site = register(tmp_path / "site")
    path = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    settings = {"PYTHONPATH": path, "BRYGGA_SHUTDOWN_GRACE": "1s"}
    process = ServeProcess(tmp_path / "brygga.yaml", settings, tmp_path / "logs").start()
    api = Api(process.url, [])
    try:
        assert _run(api, "opens")["status"] == "succeeded"  # the connector is open, and stays open
    finally:
        api.close()
        exit_code = process.stop()

    assert exit_code in (0, -signal.SIGTERM), process.log()  # not SIGKILL, after the test's 15 s
    assert "stopping: a connector did not close within 1 s (shutdown_grace); left open" in process.log()
