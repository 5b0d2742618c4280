"""``brygga test``: each failure with expected and actual, a summary line, SPEC 6 exit codes."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import run_brygga
from tests.conftest import ProjectWriter

SYNC = """\
source: crm.contacts
target: erp.customers
where: "{{ record.status != 'archived' }}"
fields:
  customer_no: id
  email: {from: email, transform: [strip, lower], required: true}
  credit: {from: credit, type: decimal, decimal_mark: ","}
tests:
  - name: passes
    input: {id: 1, email: " A@B.se ", credit: "1 000,50"}
    output: {customer_no: 1, email: a@b.se, credit: "1000.50"}
  - name: wrong output
    input: {id: 2, email: X@Y.se, credit: "5"}
    output: {email: X@Y.se, credit: "6", missing_field: 1}
  - name: wrongly expects a skip
    input: {id: 3, email: a@b.se}
    skip: true
  - name: wrongly expects an error
    input: {id: 4, email: a@b.se}
    error: email
  - name: expects output but gets an error
    input: {id: 5}
    output: {customer_no: 5}
"""


def test_failures_show_expected_and_actual_and_exit_1(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/contacts.yaml": SYNC})

    result = run_brygga("test", "-c", str(project))

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "PASS contacts › passes" in lines
    assert "FAIL contacts › wrong output" in lines
    assert "     email: expected 'X@Y.se', got 'x@y.se'" in lines
    assert "     credit: expected '6', got 5 (decimal)" in lines
    assert "     missing_field: expected 1, got no such field" in lines
    assert "FAIL contacts › wrongly expects a skip" in lines
    assert any(line.startswith("     expected the record to be skipped, got a mapped record: {") for line in lines)
    assert (
        "     expected an error about 'email', got a mapped record: {customer_no: 4, email: 'a@b.se', credit: null}"
        in lines
    )
    assert (
        "     expected a mapped record, got an error: required, but 'email' is missing or empty (field email)" in lines
    )
    assert lines[-1] == "1 passed, 4 failed"


def test_all_passing_exits_0(write_project: ProjectWriter) -> None:
    passing = SYNC.split("  - name: wrong output", maxsplit=1)[0]
    project = write_project({"mappings/contacts.yaml": passing})

    result = run_brygga("test", "-c", str(project))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_named_syncs_only(write_project: ProjectWriter) -> None:
    passing = SYNC.split("  - name: wrong output", maxsplit=1)[0]
    project = write_project({"mappings/good.yaml": passing, "mappings/bad.yaml": SYNC})

    result = run_brygga("test", "good", "-c", str(project))

    assert result.returncode == 0
    assert "bad" not in result.stdout
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_unknown_sync_name_is_a_usage_error(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/contacts.yaml": SYNC})

    result = run_brygga("test", "contcts", "-c", str(project))

    assert result.returncode == 2
    assert "no sync named 'contcts' (did you mean 'contacts'?)" in result.stderr


def test_config_errors_exit_2_without_running_tests(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/contacts.yaml": SYNC.replace("required: true", "required: yes please")})

    result = run_brygga("test", "-c", str(project))

    assert result.returncode == 2
    assert "contacts.yaml:6:61: fields.email.required: expected true or false" in result.stderr
    assert "passed" not in result.stdout


def test_config_found_through_environment_variable(write_project: ProjectWriter, tmp_path: Path) -> None:
    project = write_project({"mappings/contacts.yaml": SYNC.split("  - name: wrong output", maxsplit=1)[0]})

    result = run_brygga("test", cwd=tmp_path.parent, env={"BRYGGA_CONFIG": str(project)})

    assert result.returncode == 0, result.stderr


def test_missing_project_file_exits_2(tmp_path: Path) -> None:
    result = run_brygga("validate", cwd=tmp_path)

    assert result.returncode == 2
    assert "brygga.yaml:1:1: file not found: create it, or pass -c PATH" in result.stderr


TYPED_SYNC = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: {from: id, type: string}
  changed_at: {from: changed_at, type: datetime}
  credit: {from: credit, type: decimal}
tests:
  - name: by meaning
    input: {id: 7, changed_at: "2024-05-01T10:00:07+00:00", credit: "1.5"}
    output: {customer_no: 7, changed_at: "2024-05-01T10:00:07Z", credit: "1.50"}
"""


def test_expected_values_compare_by_meaning_through_the_fields_type(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/contacts.yaml": TYPED_SYNC})

    result = run_brygga("test", "-c", str(project))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


MARK_SYNC = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  credit: {from: credit, type: decimal}
  nordic: {from: nordic, type: decimal, decimal_mark: ","}
tests:
  - name: thousands separators
    input: {id: 1, credit: "1,234", nordic: "1.234,5"}
    output: {credit: "1234", nordic: "1234.5"}
  - name: a comma in a wrong place
    input: {id: 2, credit: "1,2"}
    error: credit
"""


def test_decimal_mark_through_brygga_test(write_project: ProjectWriter) -> None:
    project = write_project({"mappings/contacts.yaml": MARK_SYNC})

    result = run_brygga("test", "-c", str(project))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_a_failure_with_a_huge_value_shows_its_start_and_its_length(write_project: ProjectWriter) -> None:
    """A test case's field of 5 MB was printed in full at its failure."""
    sync = (
        "source: crm.contacts\ntarget: erp.customers\nfields: {customer_no: id, name: name}\ntests:\n"
        f"  - {{name: big, input: {{id: 1, name: '{'x' * 5_000_000}'}}, output: {{name: y}}}}\n"
    )
    project = write_project({"mappings/contacts.yaml": sync})

    result = run_brygga("test", "-c", str(project))

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"     name: expected 'y', got '{'x' * 200}'… (5,000,000 characters)" in lines
    assert len(result.stdout) < 2_000
