"""Two-way: a record new on one side is never created onto, or linked with, a record of the other side that
another record is linked with or takes in the same run. Where the other side's key ignores case (a contact's
email as the ERP's key, ``COLLATE NOCASE``), ``Anna@x.se`` and ``anna@x.se`` were both created there, one row;
then each run carried one contact's values onto the other, in the CRM too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo

PROJECT = """\
version: 1
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    batch_size: {batch_size}
    streams: {{contacts: {{table: contacts, key: id}}}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    batch_size: {batch_size}
    streams: {{people: {{table: people, key: {erp_key}}}}}
"""
SYNC = """\
two_way:
  a: crm.contacts
  b: erp.people
  create_in: [b]
retry: {{attempts: 1, backoff: 0s, max_backoff: 0s}}
to_b: {{{erp_key}: {from_a}, name: name{extra}}}
to_a: {{email: email, name: name}}
"""
CONTACTS = [(1, "Anna@x.se", "Anna"), (2, "anna@x.se", "anna small"), (3, "bo@x.se", "Bo")]


def _project(root: Path, erp_table: str, erp_key: str, from_a: str, *, batch_size: int = 1000, extra: str = "") -> Path:
    crm = sqlite3.connect(root / "crm.db")
    with crm:
        crm.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        crm.executemany("INSERT INTO contacts VALUES (?, ?, ?)", CONTACTS)
    crm.close()
    erp = sqlite3.connect(root / "erp.db")
    erp.execute(erp_table)
    erp.close()
    (root / "brygga.yaml").write_text(PROJECT.format(batch_size=batch_size, erp_key=erp_key), encoding="utf-8")
    (root / "mappings").mkdir()
    (root / "mappings" / "tw.yaml").write_text(
        SYNC.format(erp_key=erp_key, from_a=from_a, extra=extra), encoding="utf-8"
    )
    return root / "brygga.yaml"


async def _run(file: Path) -> tuple[RunInfo, dict[str, str]]:
    async with open_engine(open_workspace(file, environ={})) as engine:
        run = await engine.run("tw", RunOptions())
        return run, {letter.source_key: letter.error for letter in await engine.store.dead_letters("tw")}


def _rows(file: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(file)
    try:
        return sorted(connection.execute(sql))
    finally:
        connection.close()


@pytest.mark.parametrize("batch_size", [1000, 1], ids=["one-batch", "a-batch-each"])
async def test_emails_differing_in_case_never_share_the_erps_row(tmp_path: Path, batch_size: int) -> None:
    table = "CREATE TABLE people (email TEXT COLLATE NOCASE PRIMARY KEY, name TEXT)"
    file = _project(tmp_path, table, "email", "email", batch_size=batch_size)

    run, letters = await _run(file)
    again, letters_again = await _run(file)

    assert run.status == "partial", run.error
    assert run.counts_by_direction is not None and run.counts_by_direction["to_b"].created == 2
    assert list(letters) == ["2"] and "names the same record in erp.people as that of source record 1" in letters["2"]
    assert _rows(tmp_path / "erp.db", "SELECT email, name FROM people") == [("Anna@x.se", "Anna"), ("bo@x.se", "Bo")]
    assert _rows(tmp_path / "crm.db", "SELECT id, email, name FROM contacts") == CONTACTS  # neither written over
    assert again.counts.created + again.counts.updated == 0
    assert list(letters_again) == ["2"]
    assert _rows(tmp_path / "crm.db", "SELECT id, email, name FROM contacts") == CONTACTS


async def test_keys_converted_to_one_never_link_two_records_to_one(tmp_path: Path) -> None:
    """Without any collation: two CRM codes that convert to one ERP number (the CRM's ``email`` here
    holds ``7`` and ``007``)."""
    crm_rows = [(1, "7", "Seven"), (2, "007", "Bond")]
    file = _project(
        tmp_path,
        "CREATE TABLE people (no INTEGER PRIMARY KEY, name TEXT, email TEXT)",
        "no",
        "{from: email, type: integer}",
        extra=", email: email",
    )
    connection = sqlite3.connect(tmp_path / "crm.db")
    with connection:
        connection.execute("DELETE FROM contacts")
        connection.executemany("INSERT INTO contacts VALUES (?, ?, ?)", crm_rows)
    connection.close()

    run, letters = await _run(file)
    again, _ = await _run(file)

    assert run.status == "partial", run.error
    assert list(letters) == ["2"] and "its target key 7 is already that of source record 1" in letters["2"]
    assert _rows(tmp_path / "erp.db", "SELECT no, name FROM people") == [(7, "Seven")]
    assert _rows(tmp_path / "crm.db", "SELECT id, email, name FROM contacts") == crm_rows
    assert again.counts.created + again.counts.updated == 0


async def test_a_row_the_erp_held_before_is_linked_under_its_own_key(tmp_path: Path) -> None:
    table = "CREATE TABLE people (email TEXT COLLATE NOCASE PRIMARY KEY, name TEXT)"
    file = _project(tmp_path, table, "email", "email")
    connection = sqlite3.connect(tmp_path / "crm.db")
    with connection:
        connection.execute("DELETE FROM contacts WHERE id = 2")
    connection.close()
    connection = sqlite3.connect(tmp_path / "erp.db")
    with connection:
        connection.execute("INSERT INTO people VALUES ('ANNA@X.SE', 'typed by hand')")
    connection.close()

    run, letters = await _run(file)
    settling, _ = await _run(file)  # the ERP keeps its key as it was typed: carried to the CRM once
    again, _ = await _run(file)

    assert run.status == "succeeded", (run.error, letters)
    assert _rows(tmp_path / "erp.db", "SELECT * FROM people") == [("ANNA@X.SE", "Anna"), ("bo@x.se", "Bo")]  # adopted
    assert settling.counts.updated <= 1
    assert _rows(tmp_path / "crm.db", "SELECT * FROM contacts") == [(1, "ANNA@X.SE", "Anna"), (3, "bo@x.se", "Bo")]
    assert again.status == "succeeded" and again.counts.created + again.counts.updated == 0, again.counts
