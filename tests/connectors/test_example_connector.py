"""The example third-party connector (examples/jsonl), installed as a package, in a sync run by the real CLI."""

from __future__ import annotations

import json
import sqlite3
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from tests.cli.helpers import run_brygga
from tests.services import services_required

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  files:
    connector: jsonl
    path: data
    streams:
      people: {file: people.jsonl, key: id}
  db:
    connector: sql
    url: sqlite:///db.sqlite
    streams:
      people: {table: people, key: id}
"""

SYNC = """\
source: files.people
target: db.people
fields:
  id: id
  name: name
  city: city
"""


@pytest.fixture(autouse=True)
def _installed() -> None:
    try:
        distribution("brygga-jsonl")
    except PackageNotFoundError:
        if services_required():
            pytest.fail("brygga-jsonl is not installed, and BRYGGA_REQUIRE_SERVICES=1 requires it")
        pytest.skip("brygga-jsonl is not installed: pip install -e examples/jsonl")


def test_brygga_lists_the_installed_example_kind() -> None:
    listed = run_brygga("connectors")

    assert listed.returncode == 0, listed.stderr
    assert "jsonl" in listed.stdout


def test_a_sync_runs_through_the_example_connector(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "people.yaml").write_text(SYNC, encoding="utf-8")
    (tmp_path / "data").mkdir()
    people = [{"id": 1, "name": "Åsa", "city": "Umeå"}, {"id": 2, "name": "Bo", "city": None}]
    lines = "".join(json.dumps(person, ensure_ascii=False) + "\n" for person in people)
    (tmp_path / "data" / "people.jsonl").write_text(lines, encoding="utf-8")
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        connection.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
    connection.close()

    ran = run_brygga("run", "people", cwd=tmp_path)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    with sqlite3.connect(tmp_path / "db.sqlite") as connection:
        rows = connection.execute("SELECT id, name, city FROM people ORDER BY id").fetchall()
    connection.close()
    assert rows == [(1, "Åsa", "Umeå"), (2, "Bo", None)]
