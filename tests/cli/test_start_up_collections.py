"""No garbage collection during ``brygga``'s start-up, and none afterwards over what start-up made.

The collector is off from ``main()`` until the command's project is open (app/cli/start_up.py); turned on
again, with start-up's objects frozen, its first collection goes over what was made since, not over
every object start-up made (23 ms of a ``brygga run`` with nothing to do, for nothing found). Observed
from inside a fresh interpreter running the real entry point: each collection's youngest generation as it
starts. No time is measured.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

SCRIPT = """
import gc, json, sys
sys.argv = ["brygga", *json.loads(sys.argv[1])]
from app.cli import main
starts = []
def watch(phase, info):
    if phase == "start":
        starts.append((gc.get_count()[0], gc.get_threshold()[0], gc.get_freeze_count()))
gc.callbacks.append(watch)
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
gc.callbacks.remove(watch)
sys.__stdout__.write("\\nCOLLECTIONS " + json.dumps({"code": code, "starts": starts}) + "\\n")
"""


def _collections(*args: str, cwd: Path) -> tuple[int, list[tuple[int, int, int]]]:
    """``brygga ARGS``'s exit code, and for each collection while it ran: the youngest generation's count
    as it began, the threshold then, and how many objects were frozen."""
    command = [sys.executable, "-c", SCRIPT, json.dumps(args)]
    result = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=60)
    line = next(line for line in result.stdout.splitlines() if line.startswith("COLLECTIONS "))
    report = json.loads(line.removeprefix("COLLECTIONS "))
    return report["code"] or 0, [tuple(start) for start in report["starts"]]


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["run", "crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers"],
        ["run", "crm-companies-to-erp-accounts"],  # the second time: nothing to do
    ],
)
def test_no_collection_goes_over_what_start_up_made(quickstart: Path, args: list[str]) -> None:
    project = quickstart.parent
    assert _collections("run", "--all", cwd=project)[0] == 0  # the state exists: the runs below are short

    code, starts = _collections(*args, cwd=project)

    assert code == 0
    for young, threshold, frozen in starts:
        assert frozen > 100_000, "start-up's objects are frozen before any collection"
        assert young <= threshold + 1_000, f"a collection began over {young:,} young objects (threshold {threshold})"


@pytest.mark.parametrize("collecting", [True, False])
def test_main_leaves_the_collector_as_it_found_it(
    quickstart: Path, collecting: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program or test calling ``main()`` itself goes on with its own collector as it was."""
    monkeypatch.chdir(quickstart.parent)
    monkeypatch.setattr(sys, "argv", ["brygga", "connectors"])  # a command that opens no project
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        with pytest.raises(SystemExit):
            main()
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()
