"""SPEC 6: ``preview``, ``validate``, ``test`` and ``schema`` create and change no file, the state database included."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.helpers import run_brygga

REPO = Path(__file__).resolve().parents[2]
CONTACTS = "crm-contacts-to-erp-customers"
SYNCS = ["crm-companies-to-erp-accounts", CONTACTS]
Snapshot = dict[str, tuple[int, int] | None]


def snapshot(folder: Path) -> Snapshot:
    """Every file under ``folder`` with its modification time and size; every folder, by name."""
    found: Snapshot = {}
    for path in sorted(folder.rglob("*")):
        status = path.stat()
        found[str(path.relative_to(folder))] = (status.st_mtime_ns, status.st_size) if path.is_file() else None
    return found


def commands(project: Path) -> list[list[str]]:
    return [
        ["validate", "-c", str(project)],
        ["test", "-c", str(project)],
        ["schema"],
        ["schema", "sync"],
        ["preview", CONTACTS, "-c", str(project)],
        ["preview", CONTACTS, "--json", "-c", str(project)],
        ["check", "-c", str(project)],  # not in SPEC 6's list: a command of Brygga's own, writing nothing too
    ]


def test_nothing_is_written_in_a_fresh_project(quickstart: Path) -> None:
    folder = quickstart.parent
    before = snapshot(folder)

    for args in commands(quickstart):
        result = run_brygga(*args, cwd=folder)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert snapshot(folder) == before, f"brygga {' '.join(args)} wrote in the project folder"
    assert not (folder / "demo" / "brygga.db").exists()
    preview = run_brygga("preview", SYNCS[0], "--json", "-c", str(quickstart))
    assert {row["action"] for row in json.loads(preview.stdout)} == {"create"}  # as a first run would


def test_nothing_is_written_with_a_state_database_after_a_run(quickstart: Path) -> None:
    folder = quickstart.parent
    ran = run_brygga("run", *SYNCS, "-c", str(quickstart))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    before = snapshot(folder)

    for args in commands(quickstart):
        result = run_brygga(*args, cwd=folder)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert snapshot(folder) == before, f"brygga {' '.join(args)} wrote in the project folder"
    preview = run_brygga("preview", CONTACTS, "--json", "-c", str(quickstart))
    actions = {row["source_key"]: row["action"] for row in json.loads(preview.stdout)}
    assert actions["1"] == "unchanged"  # read from the ID map the run left


def test_preview_does_not_upgrade_an_older_state_database(quickstart: Path) -> None:
    folder = quickstart.parent
    assert run_brygga("run", *SYNCS, "-c", str(quickstart)).returncode == 0
    state = folder / "demo" / "brygga.db"
    with sqlite3.connect(state) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0004'")
    connection.close()
    before = snapshot(folder)

    result = run_brygga("preview", CONTACTS, "-c", str(quickstart))

    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "older" in message
    assert "brygga run" in message
    assert snapshot(folder) == before
    with sqlite3.connect(state) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0004",)]
    connection.close()


def test_preview_of_a_missing_sqlite_source_is_an_error_and_creates_no_file(quickstart: Path) -> None:
    folder = quickstart.parent
    (folder / "demo" / "crm.db").unlink()
    before = snapshot(folder)

    result = run_brygga("preview", CONTACTS, "-c", str(quickstart))

    assert result.returncode == 2
    assert "crm.db does not exist" in " ".join(result.stderr.split())
    assert snapshot(folder) == before
