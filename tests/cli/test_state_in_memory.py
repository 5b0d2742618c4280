"""A state database kept in memory is refused before anything runs: each start would forget the ID map,
cursors and dead letters, and the next run would create every record again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import run_brygga

CONTACTS = "crm-contacts-to-erp-customers"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true"])
@pytest.mark.parametrize("command", [["validate"], ["run", CONTACTS], ["status"]])
def test_an_in_memory_state_database_is_a_config_error(quickstart: Path, url: str, command: list[str]) -> None:
    result = run_brygga(*command, "-c", str(quickstart), env={"BRYGGA_STATE_URL": url})

    assert result.returncode == 2, result.stderr
    line = next(number for number, text in enumerate(quickstart.read_text().splitlines(), 1) if "state:" in text)
    assert f"brygga.yaml:{line}:8: state: this is an in-memory SQLite database" in result.stderr
    assert "name a file, such as" in result.stderr
    assert not list(quickstart.parent.glob("*.db-wal"))


def test_a_state_file_is_kept_between_runs(quickstart: Path) -> None:
    """The control: the same run with a file as ``state`` works, and the file stays."""
    result = run_brygga("run", "--all", "-c", str(quickstart), env={"BRYGGA_STATE_URL": "sqlite:///kept.db"})

    assert result.returncode == 0, result.stderr
    assert (quickstart.parent / "kept.db").is_file()
