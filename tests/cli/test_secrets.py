"""Values from ``${VAR}`` never appear in any output, whatever goes wrong (SPEC 2)."""

from __future__ import annotations

from urllib.parse import quote

from tests.cli.helpers import run_brygga
from tests.conftest import ProjectWriter

SECRET = "s3cr3t/Token+value"

PROJECT_WITH_BAD_VALUES = """\
version: 1
state: "${CRM_TOKEN}"
systems:
  crm:
    connector: sql
    url: "sqlite:///crm.db?key=${CRM_TOKEN}"
    streams:
      contacts: {table: contacts, key: id}
  api:
    connector: rest
    base_url: "${CRM_TOKEN}"
    auth: {type: bearer, token: "${CRM_TOKEN}"}
    timeout: "${CRM_TOKEN}"
    streams:
      items: {path: /items, key: id}
"""

SYNC_WITH_BAD_VALUES = """\
source: crm.contacts
target: crm.contacts
mode: "${CRM_TOKEN}"
fields:
  id: id
"""

SYNC_WITH_FAILING_TESTS = """\
source: crm.contacts
target: crm.contacts
fields:
  id: id
  api_key: {value: "${CRM_TOKEN}"}
tests:
  - name: the secret differs from what is expected
    input: {id: 1}
    output: {api_key: something else}
  - name: the secret in an expected value
    input: {id: 3}
    output: {id: "${CRM_TOKEN}"}
"""

SYNC_WITH_FAILING_CONVERSION = """\
source: crm.contacts
target: crm.contacts
fields:
  id: id
  as_number: {value: "${CRM_TOKEN}", type: integer}
tests:
  - name: the secret does not convert
    input: {id: 2}
    output: {id: 2}
"""

VALID_PROJECT = (
    PROJECT_WITH_BAD_VALUES.replace('state: "${CRM_TOKEN}"', "state: sqlite:///state.db")
    .replace('base_url: "${CRM_TOKEN}"', "base_url: https://api.example.com")
    .replace('timeout: "${CRM_TOKEN}"', "timeout: 10s")
)


def _assert_secret_absent(text: str) -> None:
    for form in (SECRET, quote(SECRET, safe=""), "s3cr3t"):
        assert form not in text


def test_config_errors_never_show_the_secret(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": PROJECT_WITH_BAD_VALUES, "mappings/bad.yaml": SYNC_WITH_BAD_VALUES})

    for command in ("validate", "test"):
        result = run_brygga(command, "-c", str(project), env={"CRM_TOKEN": SECRET})

        assert result.returncode == 2
        assert "mode: '***' is not valid" in result.stderr
        assert "timeout: '***' is not a duration" in result.stderr
        _assert_secret_absent(result.stdout + result.stderr)


def test_failing_mapping_tests_never_show_the_secret(write_project: ProjectWriter) -> None:
    project = write_project(
        {
            "brygga.yaml": VALID_PROJECT,
            "mappings/leaky.yaml": SYNC_WITH_FAILING_TESTS,
            "mappings/unconvertible.yaml": SYNC_WITH_FAILING_CONVERSION,
        }
    )

    result = run_brygga("test", "-c", str(project), env={"CRM_TOKEN": SECRET})

    assert result.returncode == 1
    assert "api_key: expected 'something else', got '***'" in result.stdout
    assert "id: expected '***', got 3" in result.stdout
    assert "cannot convert '***' to integer" in result.stdout
    assert result.stdout.splitlines()[-1] == "0 passed, 3 failed"
    _assert_secret_absent(result.stdout + result.stderr)


def test_validate_succeeds_quietly_with_secrets(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": VALID_PROJECT})

    result = run_brygga("validate", "-c", str(project), env={"CRM_TOKEN": SECRET})

    assert result.returncode == 0, result.stderr
    _assert_secret_absent(result.stdout + result.stderr)
