"""What the CLI echoes from config files and business systems prints as written, each on its own line.

A test's or field's name, a table's name, a record's key and a system's answer may hold line ends, a
terminal's escape codes, or text that rich reads as markup (``[red]``, ``[link=…]``): printed raw, a name
holding ``"\\nPASS …"`` printed a PASS line of its own, and a key made a link on the terminal. The real
``brygga`` in a subprocess, on a terminal's styles (``FORCE_COLOR``) and into a pipe.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.cli.helpers import run_brygga

STYLES = {"plain": {}, "styled": {"FORCE_COLOR": "1"}}
"""Into a pipe, and as a terminal gets it."""
_SGR = re.compile(r"\x1b\[[0-9;]*m")
"""The styles rich adds on a terminal (colour, bold): the only escape codes it may print."""

PROJECT = """\
version: 1
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams:
      contacts: {table: contacts, key: id}
      gone: {table: "con\\ntacts\\n[red]ok[/red] forged", key: id}
  erp:
    connector: csv
    path: erp
    streams:
      customers: {file: customers.csv, key: customer_no}
"""


def _project(folder: Path, syncs: dict[str, str], header: str = "customer_no,name") -> Path:
    (folder / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (folder / "mappings").mkdir()
    for name, text in syncs.items():
        (folder / "mappings" / f"{name}.yaml").write_text(text, encoding="utf-8")
    (folder / "erp").mkdir()
    (folder / "erp" / "customers.csv").write_text(header + "\n", encoding="utf-8")
    with closing(sqlite3.connect(folder / "crm.db")) as db, db:
        db.execute("CREATE TABLE contacts (id TEXT PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO contacts VALUES (?, ?)", ("k\n[red]FAIL[/red] forged", None))
        db.execute("INSERT INTO contacts VALUES (?, ?)", ("[link=http://evil.example]2[/link]", "[bold]Ann[/bold]\nok"))
    return folder / "brygga.yaml"


def _lines(text: str) -> list[str]:
    """``text``'s lines, rich's styles taken out; no other escape code may be in it."""
    unstyled = _SGR.sub("", text)
    assert "\x1b" not in unstyled, unstyled
    return unstyled.splitlines()


TESTED = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  "e\\nPASS forged": {value: 1}
  "[red]x[/red]": {value: 2}
tests:
  - name: "first\\nPASS t › forged\\e[2K\\u2028y"
    input: {id: 1}
    output: {customer_no: 2, "e\\nPASS forged": 3, "[red]x[/red]": 3, "[link=http://evil.example]y[/link]": 1}
  - name: "[red]x[/red] [link=http://evil.example]click[/link]"
    input: {id: 1}
    output: {customer_no: 1}
"""


@pytest.mark.parametrize("style", STYLES)
def test_brygga_test_prints_names_of_tests_and_fields_on_one_line_each(tmp_path: Path, style: str) -> None:
    project = _project(tmp_path, {"t": TESTED})

    result = run_brygga("test", "-c", str(project), env=STYLES[style])

    assert result.returncode == 1, result.stderr
    assert _lines(result.stdout) == [
        "FAIL t › first\\nPASS t › forged\\x1b[2K\\u2028y",
        "     customer_no: expected 2, got 1",
        "     e\\nPASS forged: expected 3, got 1",
        "     [red]x[/red]: expected 3, got 2",
        "     [link=http://evil.example]y[/link]: expected 1, got no such field",
        "PASS t › [red]x[/red] [link=http://evil.example]click[/link]",
        "1 passed, 1 failed",
    ]


PREVIEWED = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: "{{ '[red]k[/red]' ~ record.id ~ '\\nforged row' }}"
  name: name
"""


@pytest.mark.parametrize("style", STYLES)
def test_brygga_preview_prints_keys_and_values_as_written_one_row_each(tmp_path: Path, style: str) -> None:
    project = _project(tmp_path, {"p": PREVIEWED})

    result = run_brygga("preview", "p", "-c", str(project), env={"COLUMNS": "400", **STYLES[style]})

    assert result.returncode == 0, result.stderr
    rows = [line for line in _lines(result.stdout) if line.startswith("│")]
    assert len(rows) == 2, result.stdout  # one line for each record
    assert rows[0].startswith("│ [link=http://evil.example]2[/link] │ create │ [red]k[/red][link=http://evil.ex")
    assert "name: '[bold]Ann[/bold]\\nok'" in rows[0]
    assert rows[1].startswith("│ k\\n[red]FAIL[/red] forged          │ create │ [red]k[/red]k\\n[red]FAIL[/red] forged")


FAILING = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  name: {from: name, required: true}
"""
GONE = """\
source: crm.gone
target: erp.customers
fields:
  customer_no: id
"""


def test_brygga_run_prints_failed_keys_errors_and_logged_warnings_on_one_line_each(tmp_path: Path) -> None:
    project = _project(tmp_path, {"failing": FAILING, "gone": GONE})

    failing = run_brygga("run", "failing", "-c", str(project))
    gone = run_brygga("run", "gone", "-c", str(project))

    assert failing.returncode == gone.returncode == 1
    assert "  failed k\\n[red]FAIL[/red] forged: sync failing, record k\\n[red]FAIL[/red] forged, field name" in (
        failing.stdout
    )
    table = "table con\\ntacts\\n[red]ok[/red] forged does not exist; the tables there are: contacts"
    assert f"  error: crm.gone: {table} (Brygga never creates tables)" in gone.stdout.splitlines()
    assert [re.sub(r"run \d+", "run N", line) for line in gone.stderr.splitlines() if "forged" in line] == [
        f"run N of gone failed: crm.gone: {table} (Brygga never creates tables)"
    ]
    assert not any(line.startswith(("tacts", "[red]FAIL", "forged")) for line in failing.stdout.splitlines())


def test_brygga_check_prints_a_systems_error_on_one_line(tmp_path: Path) -> None:
    project = _project(tmp_path, {"gone": GONE})

    result = run_brygga("check", "crm", "-c", str(project))

    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("FAIL crm (sql): crm.gone: table con\\ntacts\\n[red]ok[/red]")


NAMED = """\
source: crm.contacts
target: erp.customers
fields:
  customer_no: id
  "x\\nerror: forged": name
"""


def test_an_error_quoting_a_name_is_one_line(tmp_path: Path) -> None:
    project = _project(tmp_path, {"named": NAMED})

    result = run_brygga("preview", "named", "-c", str(project))

    assert result.returncode == 2  # preview's exit code for an error of the project's
    assert [line for line in result.stderr.splitlines() if "forged" in line] == [
        "error: erp/customers.csv:1: column 'x\\nerror: forged' is not in the header; its columns are:"
        " 'customer_no', 'name' (Brygga never adds columns: add it to the file, or stop mapping it)"
    ]
