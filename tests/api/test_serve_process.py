"""``brygga serve`` as a process: it comes up, answers, logs, stops on SIGTERM and leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import SERVICE_ENV, ApiProject, make_project
from tests.api.serve_process import ServeFailedError, ServeProcess
from tests.cli.helpers import run_brygga


def test_serve_comes_up_and_stops_on_sigterm_leaving_nothing(project: ApiProject) -> None:
    process = ServeProcess(project.file, {**SERVICE_ENV, **project.secrets.env()}, project.file.parent / "logs")
    process.start()
    assert process.process is not None
    pid = process.process.pid
    try:
        assert process.running()
        assert f"Uvicorn running on http://127.0.0.1:{process.port}" in process.log()
        assert re.search(r"serving 2 syncs from \S+brygga\.yaml", process.log())
    finally:
        code = process.stop()

    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled, once shut down
    assert "Application shutdown complete" in process.log()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not process.running() and process.stop() == code  # stopping twice is fine


def test_serve_with_config_errors_does_not_start(project: ApiProject) -> None:
    project.write_sync("contacts", "source: crm.contacts\ntarget: erp.customers\nfeilds: {customer_no: id}\n")
    process = ServeProcess(project.file, project.secrets.env(), project.file.parent / "logs")

    with pytest.raises(ServeFailedError, match=r"exit 2") as failed:
        process.start()

    assert re.search(r"contacts\.yaml:3:1: .*feilds", str(failed.value))
    assert not process.running()


def test_serve_refuses_a_public_address_without_tokens(project: ApiProject) -> None:
    text = project.file.read_text(encoding="utf-8")
    project.file.write_text(re.sub(r"api:\n(  .*\n)+", "", text), encoding="utf-8")
    assert "tokens" not in project.file.read_text(encoding="utf-8")

    refused = run_brygga(
        "serve", "-c", str(project.file), "--host", "0.0.0.0", "--port", "1", env=project.secrets.env(), timeout=30
    )

    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without api.tokens" in refused.stderr + refused.stdout


def test_a_serve_cut_off_while_it_starts_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's timeout that strikes while ``start`` waits for ``/health`` left the ``brygga serve`` running
    after the whole test run (its fixture never got it to stop)."""
    project = make_project(tmp_path / "project")
    process = ServeProcess(project.file, {**SERVICE_ENV, **project.secrets.env()}, tmp_path / "logs")
    spawned: list[subprocess.Popen[bytes]] = []

    def cut_off(self: ServeProcess) -> bool:
        assert self.process is not None
        spawned.append(self.process)
        raise TimeoutError("the test's time is up")

    monkeypatch.setattr(ServeProcess, "_wait_for_health", cut_off)
    with pytest.raises(TimeoutError):
        process.start()

    assert spawned[0].poll() is not None, "brygga serve outlived the start that was cut off"
