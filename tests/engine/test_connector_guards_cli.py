"""Through the real CLI: a connector raising KeyboardInterrupt fails its run alone, while a real Ctrl-C
still stops ``brygga run``; a call that never returns fails its run at the system's ``call_timeout``."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import BRYGGA, run_brygga
from tests.engine.buggy_kind import READING, REPO, register

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  src:
    connector: buggy
    streams: {bad: {key: id, bug: KeyboardInterrupt}, good: {key: id}, slow: {key: id, bug: hang}}
  stuck:
    connector: buggy
    call_timeout: 300ms
    streams: {people: {key: id, bug: hang}, swallows: {key: id, bug: swallow}, thread: {key: id, bug: thread}}
  tgt:
    connector: buggy
    streams: {people: {key: id}}
"""


def _project(tmp_path: Path) -> dict[str, str]:
    """The project in ``tmp_path``, and the environment that installs kind ``buggy`` for the CLI."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    syncs = {"bad": "src.bad", "good": "src.good", "slow": "src.slow", "stuck": "stuck.people"}
    syncs.update({"swallows": "stuck.swallows", "thread": "stuck.thread"})
    for name, source in syncs.items():
        mapping = f"source: {source}\ntarget: tgt.people\nfields: {{id: id, name: name}}\n"
        (tmp_path / "mappings" / f"{name}.yaml").write_text(mapping)
    site = register(tmp_path / "site")
    path = os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def test_a_connector_raising_keyboard_interrupt_fails_its_run_and_the_next_sync_runs(tmp_path: Path) -> None:
    result = run_brygga("run", "bad", "good", cwd=tmp_path, env=_project(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "the buggy connector of system 'src' raised KeyboardInterrupt('pressed by a connector')" in result.stdout
    assert "good: succeeded" in result.stdout


def test_a_real_ctrl_c_still_stops_brygga_run(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
    env.update(_project(tmp_path), NO_COLOR="1")
    process = subprocess.Popen(
        [str(BRYGGA), "run", "slow"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # until the connector is inside its read, waiting
            if line.strip() == READING:
                break
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 130, stdout + stderr  # as a shell reports a Ctrl-C: not a run failed
    assert "raised KeyboardInterrupt" not in stdout + stderr


def test_a_call_that_never_returns_fails_brygga_run_at_the_deadline(tmp_path: Path) -> None:
    result = run_brygga("run", "stuck", "good", cwd=tmp_path, env=_project(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "the buggy connector of system 'stuck' did not finish reading stream 'people' within 300ms (the system's "
        "call_timeout)"
    ) in result.stdout
    assert "good: succeeded" in result.stdout


@pytest.mark.parametrize("sync", ["swallows", "thread"])
def test_a_call_that_will_not_stop_fails_brygga_run_at_the_deadline_and_brygga_ends(tmp_path: Path, sync: str) -> None:
    """A connector that swallows its cancellation, or waits on a thread that never returns, is left running:
    the run fails as a timeout, the next sync runs, and ``brygga run`` ends without waiting for it."""
    result = run_brygga("run", sync, "good", cwd=tmp_path, env=_project(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"system 'stuck' did not finish reading stream '{sync}' within 300ms" in result.stdout
    assert "good: succeeded" in result.stdout
    assert "ending without waiting for" in result.stderr
