"""``brygga run`` ends without the work that only a process that goes on needs (issue 22): no full garbage
collection once its engine is closed. The real entry point runs in a fresh interpreter, in-process there,
so the collections it made can be counted; what it saves is in ``bench/RESULTS.md``, not timed here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers import run_brygga

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json, sys
sys.argv = ["brygga", "run", "--all"]
full = []

def watch(phase, info):
    # only once the run has tuned the collector (app.engine.garbage_collection): its own collections
    if phase == "stop" and info["generation"] == 2 and gc.get_threshold()[0] >= 50_000:
        full.append(info["collected"])

gc.callbacks.append(watch)
from app.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
sys.__stdout__.write("\\nCOLLECTIONS " + json.dumps({"code": code, "full": full}) + "\\n")
"""


def test_a_run_ends_without_a_full_collection(tmp_path: Path) -> None:
    shutil.copy(REPO / "brygga.yaml", tmp_path / "brygga.yaml")
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    assert run_brygga("demo", cwd=tmp_path).returncode == 0
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("COLLECTIONS "))
    report = json.loads(line.removeprefix("COLLECTIONS "))
    assert report == {"code": 0, "full": []}, result.stderr
