"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import run_brygga

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """A copy of the quickstart project (contacts run ``after:`` companies), with its sample systems created
    and no state database yet; the path of its brygga.yaml."""
    shutil.copy(REPO / "brygga.yaml", tmp_path / "brygga.yaml")
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    created = run_brygga("demo", "-c", str(tmp_path / "brygga.yaml"))
    assert created.returncode == 0, created.stderr
    return tmp_path / "brygga.yaml"
