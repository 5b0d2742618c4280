"""``brygga run`` in a subprocess against the local API: REST → SQLite, SQLite → REST, and a SIGKILL mid-create."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.cli.helpers import BRYGGA, run_brygga
from tests.cli.test_startup import NOT_NEEDED
from tests.cli.test_startup import _heavy as families
from tests.cli.test_startup import _loaded as loaded_by
from tests.connectors.rest.server import ApiState, contacts
from tests.connectors.rest.test_engine import execute, project


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(root / "db.sqlite") as db:
        rows = db.execute(sql).fetchall()
    db.close()
    return rows


def _brygga(root: Path, *args: str) -> str:
    done = run_brygga(*args, "-c", str(root / "brygga.yaml"), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_sqlite_to_rest_by_the_cli_creates_once_updates_the_right_record_and_mirrors_a_delete(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    project(tmp_path, api_url)

    first = _brygga(tmp_path, "run", "out")
    ids_by_email = {row["email"]: row["id"] for row in api.store.values()}
    again = _brygga(tmp_path, "run", "out")
    execute(tmp_path, "UPDATE people SET name = 'Person Three' WHERE id = 3")
    execute(tmp_path, "DELETE FROM people WHERE id = 4")
    changed = _brygga(tmp_path, "run", "out")

    assert "read 5, created 5, updated 0, deleted 0, unchanged 0, skipped 0, failed 0" in first
    assert "read 5, created 0, updated 0, deleted 0, unchanged 5, skipped 0, failed 0" in again
    assert "read 4, created 0, updated 1, deleted 1, unchanged 3, skipped 0, failed 0" in changed
    assert len(api.requests("/api/w/contacts", "POST")) == 5
    assert [seen.path for seen in api.requests(method="PATCH")] == [f"/api/w/contacts/{ids_by_email['p3@x.se']}"]
    assert [seen.path for seen in api.requests(method="DELETE")] == [f"/api/w/contacts/{ids_by_email['p4@x.se']}"]
    assert {row["email"]: row["name"] for row in api.store.values()} == {
        "p1@x.se": "Person 1",
        "p2@x.se": "Person 2",
        "p3@x.se": "Person Three",
        "p5@x.se": "Person 5",
    }


def test_rest_to_sqlite_by_the_cli_creates_once_updates_one_row_and_mirrors_a_delete(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    project(tmp_path, api_url)
    inward = tmp_path / "mappings" / "in.yaml"
    inward.write_text(inward.read_text().replace("target: db.copies\n", "target: db.copies\nmode: mirror\n"))
    config = json.loads((tmp_path / "brygga.yaml").read_text())
    config["systems"]["db"]["streams"]["copies"]["delete"] = "hard"
    (tmp_path / "brygga.yaml").write_text(json.dumps(config))
    api.contacts = contacts(25)

    first = _brygga(tmp_path, "run", "in")
    again = _brygga(tmp_path, "run", "in")
    api.contacts[6] = {**api.contacts[6], "name": "Renamed", "updated_at": "2024-06-01T00:00:00Z"}
    del api.contacts[9]
    changed = _brygga(tmp_path, "run", "in")

    assert "read 25, created 25, updated 0, deleted 0, unchanged 0, skipped 0, failed 0" in first
    assert "created 0, updated 0, deleted 0" in again
    assert "created 0, updated 1, deleted 1" in changed
    rows = {int(str(key)): str(name) for key, name in _rows(tmp_path, "SELECT id, name FROM copies")}
    assert len(rows) == 24 and 10 not in rows
    assert rows[7] == "Renamed"
    assert sum(1 for name in rows.values() if name.startswith("Contact ")) == 23


def test_a_run_killed_while_creating_leaves_each_record_once_after_the_next_run(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    """The kill lands between a create reaching the API and its key reaching the ID map; the
    intent recorded before sending makes the next run look the record up instead of creating it again."""
    total = 2_000
    project(tmp_path, api_url)
    execute(tmp_path, "DELETE FROM people")
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        people = [(n, f"p{n}@x.se", f"P {n}") for n in range(1, total + 1)]
        db.executemany("INSERT INTO people VALUES (?, ?, ?)", people)
    db.close()
    api.delay = 0.002  # a little latency, so the kill lands with creates in flight
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
    command = [str(BRYGGA), "run", "out", "-c", str(tmp_path / "brygga.yaml")]

    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(api.store) < 300 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    created_before_kill = len(api.store)
    assert process.returncode == -signal.SIGKILL
    assert 0 < created_before_kill < total, "the run must be killed in the middle"

    api.delay = 0.0
    again = _brygga(tmp_path, "run", "out")

    emails = [row["email"] for row in api.store.values()]
    assert len(emails) == total and len(set(emails)) == total, "each record exactly once"
    assert "failed 0" in again
    assert next(api.ids) - 1001 == total, "the API created no record twice, not even one deleted again"
    with sqlite3.connect(tmp_path / "state.db") as state:
        mapped = state.execute("SELECT count(*), count(DISTINCT target_key) FROM id_map WHERE target_key IS NOT NULL")
        assert mapped.fetchall() == [(total, total)]
    state.close()


def test_a_run_reading_an_api_imports_httpx_but_not_its_command_line(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    """httpx imports its own command line (click, rich, pygments: 3.4 MB) where those are installed."""
    project(tmp_path, api_url)

    code, modules = loaded_by("run", "out", "-c", str(tmp_path / "brygga.yaml"), cwd=tmp_path)

    assert code == 0
    assert "httpx" in modules
    assert families(modules, NOT_NEEDED) == []
