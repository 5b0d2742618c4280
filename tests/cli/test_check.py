"""``brygga check``: each system the syncs use answers, and has their streams, before a sync first runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cli.helpers import run_brygga, silent_api_project
from tests.cli.test_secrets import SHAPES, _assert_secret_absent, _rest_project
from tests.cli.test_writes_nothing import snapshot
from tests.connectors.rest.server import running_api


def test_the_quickstart_is_ready_and_nothing_is_written(quickstart: Path) -> None:
    folder = quickstart.parent
    before = snapshot(folder)

    result = run_brygga("check", "-c", str(quickstart))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "ok   crm (sql): companies, contacts",
        "ok   erp (csv): accounts, customers",
        "ok   helpdesk (sql): people",
        "ok   state (sqlite): not made yet: the first run makes it",
        "3 systems ready",
    ]
    assert snapshot(folder) == before, "check wrote in the project folder (a state database, say)"


def test_each_system_that_is_not_ready_says_why_and_the_others_are_checked(quickstart: Path) -> None:
    folder = quickstart.parent
    with sqlite3.connect(folder / "demo" / "helpdesk.db") as helpdesk:
        helpdesk.execute("ALTER TABLE people RENAME COLUMN phone TO telephone")
    helpdesk.close()
    (folder / "demo" / "crm.db").rename(folder / "demo" / "crm-moved.db")
    before = snapshot(folder)

    result = run_brygga("check", "-c", str(quickstart))
    named = run_brygga("check", "erp", "-c", str(quickstart))

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL crm (sql): ") and "crm.db does not exist" in lines[0]
    assert lines[1] == "ok   erp (csv): accounts, customers"
    assert lines[2].startswith("FAIL helpdesk (sql): helpdesk.people: table people has no column phone")
    assert lines[3] == "ok   state (sqlite): not made yet: the first run makes it"
    assert lines[4] == "1 system ready, 2 not"
    assert (named.returncode, named.stdout) == (0, "ok   erp (csv): accounts, customers\n1 system ready\n")
    assert snapshot(folder) == before, "check created the missing SQLite file, or wrote elsewhere"


def test_a_name_that_is_no_system_a_sync_uses_is_a_usage_error(quickstart: Path) -> None:
    result = run_brygga("check", "crn", "-c", str(quickstart))

    assert result.returncode == 2
    assert "no system used by a sync named 'crn' (did you mean 'crm'?)" in result.stderr


@pytest.mark.parametrize("secret", SHAPES.values(), ids=SHAPES.keys())
def test_a_system_that_fails_the_check_never_shows_a_secret(tmp_path: Path, secret: str) -> None:
    with running_api() as api:
        api.fresh()
        project = _rest_project(tmp_path, api.url)
        query_key = f"my api key {secret}"

        result = run_brygga("check", "-c", str(project), env={"PATH_SECRET": secret, "QUERY_KEY": query_key})

    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL hidden (rest): " in result.stdout and "/api/***/cursors/contacts" in result.stdout
    assert "ok   db (sql): copies" in result.stdout
    _assert_secret_absent(result.stdout + result.stderr, secret)
    _assert_secret_absent(result.stdout + result.stderr, query_key)


def test_a_system_that_never_answers_is_reported_after_one_try(tmp_path: Path) -> None:
    """A check tells what is wrong now; the REST connector's own retries (five tries at its `timeout` each,
    with waits between) made an API that never answers take minutes to report."""
    with silent_api_project(tmp_path) as connections:
        result = run_brygga("check", "shop", "-c", str(tmp_path / "brygga.yaml"))
        made = connections()

    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL shop (rest): shop.orders: checking: GET http://127.0.0.1:" in result.stdout
    assert "no answer in time" in result.stdout
    assert made == 1, "the request was tried again"


def test_a_state_database_that_does_not_answer_fails_the_check_without_its_password(quickstart: Path) -> None:
    ran = run_brygga("run", "--all", "-c", str(quickstart))
    answering = run_brygga("check", "-c", str(quickstart))
    password = "pass/word+s3cr3t"
    url = f"postgresql://ops:{quote(password, safe='')}@127.0.0.1:1/state"  # a port nothing listens on
    down = run_brygga("check", "-c", str(quickstart), env={"BRYGGA_STATE_URL": url})

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "ok   state (sqlite): answers, with this Brygga's schema" in answering.stdout
    assert down.returncode == 1
    assert "FAIL state (postgresql): cannot open the state database" in down.stdout
    assert "3 systems ready, 1 not" in down.stdout
    _assert_secret_absent(down.stdout + down.stderr, password)


def test_a_system_named_state_is_checked_as_a_system(tmp_path: Path) -> None:
    (tmp_path / "brygga.yaml").write_text(
        "version: 1\nsystems:\n"
        "  state: {connector: sql, url: 'sqlite:///a.sqlite', streams: {people: {table: people, key: id}}}\n"
        "  db: {connector: sql, url: 'sqlite:///b.sqlite', streams: {people: {table: people, key: id}}}\n"
    )
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "people.yaml").write_text("source: state.people\ntarget: db.people\nfields: {id: id}\n")
    for name in ("a.sqlite", "b.sqlite"):
        with sqlite3.connect(tmp_path / name) as db:
            db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY)")
        db.close()

    result = run_brygga("check", "-c", str(tmp_path / "brygga.yaml"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "ok   state (sql): people",
        "ok   db (sql): people",
        "ok   state (sqlite): not made yet: the first run makes it",
        "2 systems ready",
    ]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("", "''"),
        ("x" * 100_000, "'" + "x" * 119 + "…'"),
        ("cr\udcffm", "'cr\\udcffm' (did you mean 'crm'?)"),  # a byte that is no UTF-8, as argv gives it
        ("../crm", "'../crm' (did you mean 'crm'?)"),
    ],
    ids=["empty", "huge", "not UTF-8", "a path"],
)
def test_a_hostile_system_name_is_a_usage_error_that_shows_it_safely(quickstart: Path, name: str, shown: str) -> None:
    result = run_brygga("check", name, "-c", str(quickstart))

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no system used by a sync named {shown}" in result.stderr
    assert result.stdout == ""
