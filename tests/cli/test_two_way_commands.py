"""A two-way sync through the real ``brygga``: validate, test (each case in its direction), run, status."""

from __future__ import annotations

import json
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


def test_preview_shows_both_directions_and_the_conflicts_it_would_settle_writing_nothing(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    project.crm.insert(
        [{"id": n, "email": f"c{n}@crm.se", "phone": "1", "name": f"C {n}", "notes": None} for n in (1, 2)]
    )
    config = ["-c", str(project.file)]
    assert run_brygga("run", "crm-erp", *config).returncode == 0
    project.crm.execute("UPDATE contacts SET name = 'From CRM' WHERE id = 1")
    project.erp.execute("UPDATE customers SET name = 'From ERP', email = 'e@erp.se' WHERE customer_no = 1")
    project.erp.insert([{"customer_no": 5, "email": "new@erp.se", "phone": "5", "name": "New", "internal": None}])
    marks = project.crm.audit_mark(), project.erp.audit_mark()
    state = (tmp_path / "state.db").read_bytes()

    shown = run_brygga("preview", "crm-erp", "--json", *config)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = json.loads(shown.stdout)
    summary = sorted(
        (row["direction"], row["action"], row["source_key"]) for row in rows if row["action"] != "unchanged"
    )
    assert summary == [("to_a", "create", "5"), ("to_a", "update", "1"), ("to_b", "update", "1")]
    by_direction = {(row["direction"], row["action"]): row for row in rows}
    assert by_direction[("to_b", "update")]["changes"] == {"name": {"from": "From ERP", "to": "From CRM"}}
    assert by_direction[("to_a", "update")]["changes"] == {"email": {"from": "c1@crm.se", "to": "e@erp.se"}}
    notes = " ".join(row["note"] or "" for row in rows)
    assert "conflict on name: a 'From CRM', b 'From ERP'; a's value stands" in notes
    assert (project.crm.audit_since(marks[0]), project.erp.audit_since(marks[1])) == ([], [])
    assert (tmp_path / "state.db").read_bytes() == state


def test_a_record_deleted_on_one_side_and_edited_on_the_other_is_shown_kept_and_logged(tmp_path: Path) -> None:
    """``preview`` shows what ``run`` then does: the edit wins over the delete, as a conflict."""
    project = make_two_way_project(tmp_path, delete_in="[b]")
    project.crm.insert([{"id": n, "email": f"c{n}@crm.se", "phone": "1", "name": "C", "notes": None} for n in (1, 2)])
    config = ["-c", str(project.file)]
    assert run_brygga("run", "crm-erp", *config).returncode == 0
    project.crm.execute("DELETE FROM contacts")
    project.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 1")

    shown = run_brygga("preview", "crm-erp", "--json", *config)
    ran = run_brygga("run", "crm-erp", *config)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {(row["direction"], row["action"], row["source_key"]): row for row in json.loads(shown.stdout)}
    assert set(rows) == {("to_a", "create", "1"), ("to_b", "delete", "2")}
    assert rows[("to_a", "create", "1")]["note"] == (
        "conflict: deleted in a, edited in b (phone); the edit stands, not the delete"
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "to_b: read 1, created 0, updated 0, deleted 1" in ran.stdout
    assert "to_a: read 1, created 1" in ran.stdout and "conflicts settled: 1" in ran.stdout
    assert project.crm.records(["phone"]) == {1: {"phone": "edited"}}
    assert project.erp.records(["phone"]) == {1: {"phone": "edited"}}


def test_an_edit_of_the_field_that_fills_the_other_sides_key_fails_the_run_saying_why(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path, crm_extra=" erp_no INTEGER,")
    project.write_sync(
        "two_way: {a: crm.contacts, b: erp.customers, create_in: [b]}\n"
        "to_b: {customer_no: erp_no, name: name}\n"
        "to_a: {erp_no: customer_no, name: name}\n"
    )
    project.crm.insert([{"id": 1, "erp_no": 701, "email": None, "name": "Ann", "notes": None}])
    config = ["-c", str(project.file)]
    assert run_brygga("run", "crm-erp", *config).returncode == 0
    project.crm.execute("UPDATE contacts SET erp_no = 702, name = 'Ann B' WHERE id = 1")

    shown = run_brygga("preview", "crm-erp", "--json", *config)
    ran = run_brygga("run", "crm-erp", *config)

    why = "sync crm-erp, crm.contacts record 1: to_b.customer_no (from erp_no) gives 702 now, 701 before"
    assert shown.returncode == 0, shown.stdout + shown.stderr
    [row] = json.loads(shown.stdout)
    assert (row["direction"], row["action"], row["source_key"]) == ("to_b", "fail", "1")
    assert row["error"].startswith(why)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"failed 1: {why}" in ran.stdout + ran.stderr
    assert project.erp.records(["name"]) == {701: {"name": "Ann"}}
