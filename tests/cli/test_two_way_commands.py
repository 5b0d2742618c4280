"""A two-way sync through the real ``brygga``: validate, test (each case in its direction), run, status."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import run_brygga
from tests.engine.two_way_project import make_two_way_project

TESTS = """\
tests:
  - {name: to the ERP, direction: to_b, input: {id: 7, email: a@b.se, phone: "1", name: Ann}, output: {customer_no: 7}}
  - {name: to the CRM, direction: to_a, input: {customer_no: 7, email: a@b.se}, output: {id: 7, email: a@b.se}}
  - {name: wrong on purpose, direction: to_a, input: {customer_no: 7}, output: {id: 8}}
"""


def test_validate_test_run_and_status_know_a_two_way_sync(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    sync = tmp_path / "mappings" / "crm-erp.yaml"
    sync.write_text(sync.read_text() + TESTS)
    project.crm.insert([{"id": 1, "email": "a@crm.se", "phone": "1", "name": "A", "notes": None}])
    project.erp.insert([{"customer_no": 2, "email": "b@erp.se", "phone": "2", "name": "B", "internal": None}])
    config = ["-c", str(project.file)]

    validated = run_brygga("validate", *config)
    tested = run_brygga("test", *config)
    ran = run_brygga("run", "crm-erp", *config)
    status = run_brygga("status", *config)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "1 sync" in validated.stdout
    assert tested.returncode == 1
    assert "PASS crm-erp › to the ERP" in tested.stdout and "PASS crm-erp › to the CRM" in tested.stdout
    assert "FAIL crm-erp › wrong on purpose" in tested.stdout and "2 passed, 1 failed" in tested.stdout
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "to_b: read 1, created 1" in ran.stdout and "to_a: read 1, created 1" in ran.stdout
    assert "conflicts settled: 0" in ran.stdout
    assert status.returncode == 0 and "crm-erp" in status.stdout


def test_a_sync_file_that_is_both_kinds_is_refused_at_its_place(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    sync = tmp_path / "mappings" / "crm-erp.yaml"
    lines = sync.read_text().splitlines()
    sync.write_text("\n".join([*lines, "source: crm.contacts"]) + "\n")

    validated = run_brygga("validate", "-c", str(project.file))

    assert validated.returncode == 2
    assert f"mappings/crm-erp.yaml:{len(lines) + 1}:1: source: a sync file is either one-way" in validated.stderr
