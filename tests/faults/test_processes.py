"""Every ``brygga`` process a fault test starts is killed when the test ends, however it ends.

A test cut off by its timeout (pytest-timeout raises in the test's thread) skips what it would have done next:
``test_kill``'s ``brygga serve``, cut off as it started on a busy machine (waiting for ``/health``), was never
stopped and lived on after the suite. The cut-off is played here by an exception at that very moment.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.api.serve_process import ServeProcess
from tests.cli.helpers import BRYGGA
from tests.faults.conftest import Processes


class CutOff(Exception):
    """What pytest-timeout raises in a test that runs past its timeout."""


def _project(root: Path) -> Path:
    (root / "brygga.yaml").write_text("version: 1\nsystems: {}\n", encoding="utf-8")
    return root / "brygga.yaml"


def _gone(pid: int) -> bool:
    """Whether no process of the group ``pid`` leads is left (every one here leads its own, or none)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_brygga_serve_cut_off_as_it_starts_is_killed_when_its_test_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _project(tmp_path)
    answering = ServeProcess._wait_for_health
    pids: list[int] = []

    def cut_off(server: ServeProcess) -> bool:
        assert answering(server), server.log()  # it runs and answers: only the test is cut off
        assert server.process is not None
        pids.append(server.process.pid)
        raise CutOff("Timeout (>300.0s) from pytest-timeout.")

    monkeypatch.setattr(ServeProcess, "_wait_for_health", cut_off)

    with pytest.raises(CutOff), Processes() as processes:
        processes.serve(file, tmp_path / "logs")

    assert len(pids) == 1 and _gone(pids[0]), "brygga serve outlived its test"


def test_a_brygga_command_still_running_is_killed_when_its_test_ends(tmp_path: Path) -> None:
    file = _project(tmp_path)

    with pytest.raises(CutOff), Processes() as processes:
        started = processes.start([str(BRYGGA), "serve", "-c", str(file), "--port", "0"], tmp_path)
        raise CutOff("Timeout (>300.0s) from pytest-timeout.")

    assert started.process.poll() == -signal.SIGKILL, "the command outlived its test"
