"""Run the real ``brygga`` console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BRYGGA = Path(sys.executable).parent / "brygga"


def run_brygga(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``brygga ARGS…`` with a clean environment plus ``env``; output captured as text."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
    environment.update({"NO_COLOR": "1", "COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [str(BRYGGA), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )
