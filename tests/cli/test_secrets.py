"""Values from ``${VAR}`` never appear in any output, in any form, whatever goes wrong (SPEC 2).

Each secret carries the marker ``s3cr3t``, which no encoder changes: the marker
anywhere in the output means some form of the secret got out.
"""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.cli.output import RedactingStream
from app.config import SecretValues
from tests.cli.helpers import run_brygga
from tests.config.test_secrets import FORMS
from tests.conftest import ProjectWriter
from tests.connectors.rest.server import ApiServer, contacts, running_api
from tests.services import MARIADB_URL, POSTGRES_URL, require_service

MARKER = "s3cr3t"
SHAPES = {
    "slash and plus": "s3cr3t/Token+value",
    "backslash and quote": 'back\\slash"quote-s3cr3t',
    "space percent plus non-ASCII": "sp ace%25 and+plus lösen€😀-s3cr3t",
}
SECRET = SHAPES["slash and plus"]

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


def _assert_secret_absent(text: str, secret: str = SECRET) -> None:
    assert MARKER in secret
    for name, form in FORMS.items():
        assert form(secret) not in text, name
    assert MARKER not in text, text


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_config_errors_never_show_the_secret(write_project: ProjectWriter, secret: str) -> None:
    project = write_project({"brygga.yaml": PROJECT_WITH_BAD_VALUES, "mappings/bad.yaml": SYNC_WITH_BAD_VALUES})

    for command in ("validate", "test"):
        result = run_brygga(command, "-c", str(project), env={"CRM_TOKEN": secret})

        assert result.returncode == 2
        assert "mode: '***' is not valid" in result.stderr
        assert "timeout: '***' is not a duration" in result.stderr
        _assert_secret_absent(result.stdout + result.stderr, secret)


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_failing_mapping_tests_never_show_the_secret(write_project: ProjectWriter, secret: str) -> None:
    project = write_project(
        {
            "brygga.yaml": VALID_PROJECT,
            "mappings/leaky.yaml": SYNC_WITH_FAILING_TESTS,
            "mappings/unconvertible.yaml": SYNC_WITH_FAILING_CONVERSION,
        }
    )

    result = run_brygga("test", "-c", str(project), env={"CRM_TOKEN": secret})

    assert result.returncode == 1
    assert "api_key: expected 'something else', got '***'" in result.stdout
    assert "id: expected '***', got 3" in result.stdout
    assert "cannot convert '***' to integer" in result.stdout
    assert result.stdout.splitlines()[-1] == "0 passed, 3 failed"
    _assert_secret_absent(result.stdout + result.stderr, secret)


def test_a_long_secret_cut_short_by_a_message_shows_none_of_its_start(write_project: ProjectWriter) -> None:
    """A conversion error shows at most 60 characters of a value: the cut came before the scrub, which then
    could not find the secret whole, and its first 56 characters were printed."""
    secret = "s3cr3tPART-" * 30
    project = write_project({"brygga.yaml": VALID_PROJECT, "mappings/unconvertible.yaml": SYNC_WITH_FAILING_CONVERSION})

    result = run_brygga("test", "-c", str(project), env={"CRM_TOKEN": secret})

    assert result.returncode == 1
    assert "cannot convert '***... to integer" in result.stdout
    assert MARKER not in result.stdout + result.stderr


def test_validate_succeeds_quietly_with_secrets(write_project: ProjectWriter) -> None:
    project = write_project({"brygga.yaml": VALID_PROJECT})

    result = run_brygga("validate", "-c", str(project), env={"CRM_TOKEN": SECRET})

    assert result.returncode == 0, result.stderr
    _assert_secret_absent(result.stdout + result.stderr)


@pytest.fixture(scope="module")
def rest_api() -> Iterator[ApiServer]:
    with running_api() as server:
        yield server


def _rest_project(root: Path, api_url: str) -> Path:
    """A REST system whose ``base_url`` path holds a secret (a path the API does not have: every read
    fails, with the request's URL in the error) and one with a query key that has a space in it."""
    query_auth = {"type": "query", "name": "api_key", "value": "${QUERY_KEY}"}
    stream = {"key": "id", "path": "/cursors/contacts", "records": "data"}
    systems = {
        "db": {
            "connector": "sql",
            "url": "sqlite:///db.sqlite",
            "streams": {"copies": {"table": "copies", "key": "id"}},
        },
        "hidden": {"connector": "rest", "base_url": api_url + "/${PATH_SECRET}", "streams": {"contacts": stream}},
        "keyed": {
            "connector": "rest",
            "base_url": api_url,
            "auth": query_auth,
            "streams": {"contacts": {**stream, "path": "/nowhere"}},
        },
    }
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    for system in ("hidden", "keyed"):
        (root / "mappings" / f"{system}.yaml").write_text(
            f"source: {system}.contacts\ntarget: db.copies\nretry: {{attempts: 1, backoff: 0s, max_backoff: 0s}}\n"
            "fields: {id: id, name: name}\n"
        )
    with sqlite3.connect(root / "db.sqlite") as db:
        db.execute("CREATE TABLE copies (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    return root / "brygga.yaml"


def _state_text(project: Path) -> str:
    """Every error the state database keeps: it is shown later by the API and ``brygga status``."""
    with sqlite3.connect(project.parent / "state.db") as state:
        rows = state.execute("SELECT error FROM runs UNION ALL SELECT error FROM record_log").fetchall()
    state.close()
    return "\n".join(str(error) for (error,) in rows)


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_a_failed_rest_run_never_shows_a_secret_of_its_url(rest_api: ApiServer, tmp_path: Path, secret: str) -> None:
    rest_api.fresh().contacts = contacts(3)
    project = _rest_project(tmp_path, rest_api.url)
    query_key = f"my api key {MARKER}"
    env = {"PATH_SECRET": secret, "QUERY_KEY": query_key}

    hidden = run_brygga("run", "hidden", "-c", str(project), env=env)
    keyed = run_brygga("run", "keyed", "-c", str(project), env=env)
    previewed = run_brygga("preview", "hidden", "--json", "-c", str(project), env=env)

    assert hidden.returncode == keyed.returncode == 1
    assert "hidden: failed" in hidden.stdout
    assert "error: hidden.contacts: reading page 1: GET http://127.0.0.1:" in hidden.stdout
    assert "/api/***/cursors/contacts: 404 Not Found" in hidden.stdout
    assert "/api/nowhere?api_key=***: 404 Not Found" in keyed.stdout
    assert previewed.returncode == 2
    assert "/api/***/cursors/contacts: 404 Not Found" in previewed.stderr
    for result in (hidden, keyed, previewed):
        _assert_secret_absent(result.stdout + result.stderr, secret)
        _assert_secret_absent(result.stdout + result.stderr, query_key)
    assert "/api/***/cursors/contacts: 404 Not Found" in _state_text(project)
    _assert_secret_absent(_state_text(project), secret)
    _assert_secret_absent(_state_text(project), query_key)


SYNC_SHOWING_A_SECRET = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  tenant: {value: "${TENANT}"}
  note: "{{ 'tenant ' ~ record.name }}"
"""


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_preview_json_never_shows_a_secret(write_project: ProjectWriter, secret: str) -> None:
    project = write_project({"mappings/shown.yaml": SYNC_SHOWING_A_SECRET})
    with sqlite3.connect(project.parent / "crm.db") as crm:
        crm.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
        crm.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        crm.executemany("INSERT INTO contacts VALUES (?, ?, '2024-01-01')", [(1, secret), (2, "Ann")])
    (project.parent / "erp").mkdir()
    (project.parent / "erp" / "customers.csv").write_text("customer_no,tenant,note\n", encoding="utf-8")
    crm.close()

    result = run_brygga("preview", "shown", "--json", "-c", str(project), env={"TENANT": secret})

    assert result.returncode == 0, result.stderr
    rows = {row["source_key"]: row["record"] for row in json.loads(result.stdout)}
    assert rows["1"] == {"customer_no": 1, "tenant": "***", "note": "tenant ***"}
    assert rows["2"] == {"customer_no": 2, "tenant": "***", "note": "tenant Ann"}
    _assert_secret_absent(result.stdout + result.stderr, secret)


def test_a_secret_written_in_pieces_is_scrubbed_whole() -> None:
    """``print(a, b)`` and logging write a line in several calls: the guard on stdout and stderr passes text
    on a line at a time, so a secret cut between two writes is still found."""
    secrets = SecretValues()
    secrets.add(f"piece-one piece-two {MARKER}")
    underneath = io.StringIO()
    stream = RedactingStream(underneath, secrets)

    print("key:", "piece-one", f"piece-two {MARKER}", "end", file=stream)
    stream.write(f"no newline yet: piece-one piece-two {MARKER}")
    before_flush = underneath.getvalue()
    stream.flush()

    assert before_flush == "key: *** end\n"
    assert underneath.getvalue() == "key: *** end\nno newline yet: ***"


def test_database_passwords_never_show_when_databases_fail(tmp_path: Path) -> None:
    """Passwords written in database URLs as they are (not from ``${VAR}``): SQLAlchemy shows URLs with
    the password masked, and the drivers' messages name the user, never the password."""
    require_service("postgresql")
    require_service("mariadb")
    missing = f"brygga_missing_{uuid.uuid4().hex[:8]}"
    postgres = make_url(POSTGRES_URL).set(database=missing)
    state = postgres.set(password=f"state-pw-{MARKER}").render_as_string(hide_password=False)
    source = postgres.set(password=f"source-pw-{MARKER}").render_as_string(hide_password=False)
    maria = make_url(MARIADB_URL).set(password=f"maria-pw-{MARKER}").render_as_string(hide_password=False)
    systems = {
        "pg": {"connector": "sql", "url": source, "streams": {"items": {"table": "items", "key": "id"}}},
        "maria": {"connector": "sql", "url": maria, "streams": {"items": {"table": "items", "key": "id"}}},
    }
    project = tmp_path / "brygga.yaml"
    project.write_text(json.dumps({"version": 1, "state": state, "systems": systems}))
    (tmp_path / "mappings").mkdir()
    for name, source_system in (("from-pg", "pg"), ("from-maria", "maria")):
        target = "maria" if source_system == "pg" else "pg"
        (tmp_path / "mappings" / f"{name}.yaml").write_text(
            f"source: {source_system}.items\ntarget: {target}.items\n"
            "retry: {attempts: 1, backoff: 0s, max_backoff: 0s}\nfields: {id: id}\n"
        )

    status = run_brygga("status", "-c", str(project))
    project.write_text(project.read_text().replace(json.dumps(state), '"sqlite:///state.db"'))
    runs = run_brygga("run", "from-pg", "from-maria", "-c", str(project))

    assert status.returncode == 1
    assert f"cannot open the state database postgresql+asyncpg://{postgres.username}:***@" in status.stderr
    assert f'database "{missing}" does not exist' in runs.stdout
    assert "Access denied for user" in runs.stdout
    _assert_secret_absent(status.stdout + status.stderr + runs.stdout + runs.stderr, f"state-pw-{MARKER}")
