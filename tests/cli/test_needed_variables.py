"""A command needs only the ``${VAR}``s of what it uses (SPEC 6), through the real ``brygga``.

The project names variables for the service alone (API tokens, an alert
webhook, a webhook secret) and for a system that only one sync uses; none of
them is set. ``run`` from cron, ``preview``, ``test`` and ``status`` of the
other sync work; ``validate``, ``serve`` and a run of the sync whose system
needs a variable stop with exit 2, naming each variable at its FILE:LINE:COL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.helpers import run_brygga

PROJECT = """\
version: 1
state: sqlite:///brygga.db
api:
  tokens:
    - {name: ops, token: "${BRYGGA_OPS_TOKEN}", role: viewer}
alerts:
  - {url: "${ALERT_WEBHOOK_URL}"}
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams:
      contacts: {table: contacts, key: id, cursor: updated_at}
    webhook: {verify: token, secret: "${CRM_WEBHOOK_SECRET}", stream: contacts}
  erp:
    connector: csv
    path: erp
    streams:
      customers: {file: customers.csv, key: customer_no}
      users: {file: users.csv, key: user_no}
  hr:
    connector: sql
    url: "${HR_DATABASE_URL}"
    streams:
      people: {table: people, key: id}
"""
"""The unset variables: BRYGGA_OPS_TOKEN 5:26, ALERT_WEBHOOK_URL 7:11, CRM_WEBHOOK_SECRET 14:38,
HR_DATABASE_URL 23:10."""

CUSTOMERS = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  name: {from: name, transform: [strip]}
tests:
  - {name: a name is stripped, input: {id: 1, name: " Ann "}, output: {customer_no: 1, name: Ann}}
"""

USERS = """\
source: hr.people
target: erp.users
fields:
  user_no: id
  name: {from: name, transform: [upper]}
tests:
  - {name: a name is upper case, input: {id: 1, name: bo}, output: {user_no: 1, name: BO}}
"""

UNSET = {
    "BRYGGA_OPS_TOKEN": "brygga.yaml:5:26",
    "ALERT_WEBHOOK_URL": "brygga.yaml:7:11",
    "CRM_WEBHOOK_SECRET": "brygga.yaml:14:38",
    "HR_DATABASE_URL": "brygga.yaml:23:10",
}
UNCHECKED = "mappings/users.yaml:1:9: source: system 'hr' has errors (above); its stream 'people' could not be checked"


def write(root: Path, project: str = PROJECT) -> Path:
    (root / "brygga.yaml").write_text(project, encoding="utf-8")
    (root / "mappings").mkdir()
    (root / "mappings" / "customers.yaml").write_text(CUSTOMERS, encoding="utf-8")
    (root / "mappings" / "users.yaml").write_text(USERS, encoding="utf-8")
    (root / "erp").mkdir()
    with sqlite3.connect(root / "crm.db") as connection:
        connection.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
        connection.execute("INSERT INTO contacts VALUES (1, ' Ann ', '2024-05-01 10:00:00')")
    connection.close()
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write(tmp_path)


def unset_lines(stderr: str) -> dict[str, str]:
    """``{VARIABLE: FILE:LINE:COL}`` of each "is not set" error printed."""
    found = {}
    for line in stderr.splitlines():
        if "is not set" in line:
            place, message = line.split(": environment variable ", 1)
            found[message.split()[0]] = place
    return found


def test_run_preview_test_and_status_of_a_sync_need_only_its_own_variables(project: Path) -> None:
    ran = run_brygga("run", "customers", cwd=project)
    previewed = run_brygga("preview", "customers", cwd=project)
    tested = run_brygga("test", cwd=project)
    status = run_brygga("status", cwd=project)

    assert ran.returncode == 0, ran.stderr
    assert "read 1, created 1" in ran.stdout
    assert previewed.returncode == 0, previewed.stderr
    assert tested.returncode == 0, tested.stderr
    assert "2 passed, 0 failed" in tested.stdout  # users' tests too: a mapping test connects nowhere
    assert status.returncode == 0, status.stderr
    assert "customers" in status.stdout
    assert (project / "erp" / "customers.csv").read_text(encoding="utf-8").splitlines() == ["customer_no,name", "1,Ann"]


def test_validate_names_every_unset_variable_at_its_place(project: Path) -> None:
    result = run_brygga("validate", cwd=project)

    assert result.returncode == 2
    assert unset_lines(result.stderr) == UNSET
    assert UNCHECKED in result.stderr  # the stream of a system left unreadable by its variable
    assert "5 config errors" in result.stderr


def test_serve_needs_every_variable(project: Path) -> None:
    result = run_brygga("serve", "--port", "0", cwd=project, timeout=30)

    assert result.returncode == 2
    assert unset_lines(result.stderr) == UNSET


def test_a_run_of_a_sync_whose_system_needs_an_unset_variable_names_only_that_one(project: Path) -> None:
    ran = run_brygga("run", "users", cwd=project)
    previewed = run_brygga("preview", "users", cwd=project)

    assert ran.returncode == 2
    assert unset_lines(ran.stderr) == {"HR_DATABASE_URL": "brygga.yaml:23:10"}
    assert UNCHECKED in ran.stderr
    assert "2 config errors" in ran.stderr
    assert previewed.returncode == 2
    assert unset_lines(previewed.stderr) == {"HR_DATABASE_URL": "brygga.yaml:23:10"}
    assert not (project / "erp" / "users.csv").exists()


def test_run_of_both_syncs_needs_both_systems(project: Path) -> None:
    result = run_brygga("run", "customers", "users", cwd=project)

    assert result.returncode == 2
    assert unset_lines(result.stderr) == {"HR_DATABASE_URL": "brygga.yaml:23:10"}


def test_an_unset_variable_in_a_sync_file_stops_that_sync_alone(project: Path) -> None:
    users = project / "mappings" / "users.yaml"
    users.write_text(USERS.replace("  user_no: id\n", "  user_no: id\n  site: {value: '${HR_SITE}'}\n"), "utf-8")

    customers = run_brygga("run", "customers", cwd=project)
    tested = run_brygga("test", "users", cwd=project)

    assert customers.returncode == 0, customers.stderr
    assert tested.returncode == 2
    assert unset_lines(tested.stderr) == {"HR_SITE": "mappings/users.yaml:5:17"}


def test_the_state_database_is_needed_by_status_and_run_but_not_by_test(tmp_path: Path) -> None:
    project = write(tmp_path, PROJECT.replace("sqlite:///brygga.db", '"${BRYGGA_STATE_URL}"'))

    tested = run_brygga("test", "customers", cwd=project)
    status = run_brygga("status", cwd=project)
    ran = run_brygga("run", "customers", cwd=project)

    assert tested.returncode == 0, tested.stderr
    assert status.returncode == 2
    assert unset_lines(status.stderr) == {"BRYGGA_STATE_URL": "brygga.yaml:2:8"}
    assert ran.returncode == 2
    assert unset_lines(ran.stderr) == {"BRYGGA_STATE_URL": "brygga.yaml:2:8"}
    assert not (project / "brygga.db").exists()


def test_a_variable_that_is_not_utf8_stops_only_the_commands_that_use_it(project: Path) -> None:
    """Like an unset one: ``status`` (the state database only) and a run of the other sync go on."""
    users = project / "mappings" / "users.yaml"
    users.write_text(USERS + 'description: "${USERS_NOTE}"\n', encoding="utf-8")
    note = {"USERS_NOTE": "caf\udce9"}  # the bytes caf\xe9 in the child's environment: Latin-1, not UTF-8

    status = run_brygga("status", cwd=project, env=note)
    ran = run_brygga("run", "customers", cwd=project, env=note)
    validated = run_brygga("validate", cwd=project, env=note)

    assert status.returncode == 0, status.stderr
    assert ran.returncode == 0, ran.stderr
    assert validated.returncode == 2
    assert (
        "mappings/users.yaml:8:14: environment variable USERS_NOTE is not UTF-8 text (or holds a NUL character)"
        in validated.stderr
    )
