"""``brygga demo``, ``run``, ``preview`` and ``status`` on the quickstart project, as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.helpers import run_brygga, silent_api_project

REPO = Path(__file__).resolve().parents[2]
SYNCS = ["crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers"]


def test_the_quickstart_syncs_and_then_finds_everything_unchanged(quickstart: Path) -> None:
    first = run_brygga("run", *SYNCS, "-c", str(quickstart))
    second = run_brygga("run", *SYNCS, "-c", str(quickstart))

    assert first.returncode == 0, first.stdout + first.stderr
    assert "  read 5, created 5, updated 0, deleted 0, unchanged 0, skipped 0, failed 0" in first.stdout
    assert "  read 7, created 6, updated 0, deleted 0, unchanged 0, skipped 1, failed 0" in first.stdout
    assert second.returncode == 0
    assert "  read 5, created 0, updated 0, deleted 0, unchanged 5, skipped 0, failed 0" in second.stdout
    assert "created 0, updated 0, deleted 0" in second.stdout.split("crm-contacts-to-erp-customers")[1]
    customers = (quickstart.parent / "demo" / "erp-import" / "customers.csv").read_bytes().decode("cp1252")
    assert "2;Örjan Åkesson;orjan@berg.se;0707654321;A00001;5000;2023-02-01;smb" in customers.splitlines()


def test_the_quickstart_two_way_sync_fills_the_helpdesk_and_carries_its_edits_back(quickstart: Path) -> None:
    """The README's command runs the two-way sync too: the helpdesk gets the CRM's contacts, a second run
    writes nothing, and a phone changed in the helpdesk reaches the CRM."""
    command = ("run", *SYNCS, "crm-contacts-helpdesk", "-c", str(quickstart))
    first = run_brygga(*command)
    second = run_brygga(*command)
    helpdesk = quickstart.parent / "demo" / "helpdesk.db"
    with sqlite3.connect(helpdesk) as connection:
        connection.execute("UPDATE people SET phone = '070 000 00 00' WHERE id = 2")
    connection.close()
    third = run_brygga("run", "crm-contacts-helpdesk", "-c", str(quickstart))

    assert first.returncode == 0, first.stdout + first.stderr
    assert "    to_b: read 7, created 6, updated 0, deleted 0, unchanged 0, skipped 1, failed 0" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "created 0, updated 0, deleted 0" in second.stdout.split("crm-contacts-helpdesk")[1]
    assert third.returncode == 0, third.stdout + third.stderr
    assert "    to_a: read 6, created 0, updated 1," in third.stdout
    with sqlite3.connect(quickstart.parent / "demo" / "crm.db") as connection:
        assert connection.execute("SELECT phone FROM contacts WHERE id = 2").fetchone() == ("070 000 00 00",)
    connection.close()


def test_demo_leaves_existing_data_alone(quickstart: Path) -> None:
    again = run_brygga("demo", "-c", str(quickstart))

    assert again.returncode == 0
    assert "the sample CRM is there already" in again.stdout


def test_demo_reset_starts_over_and_removes_only_what_demo_made(quickstart: Path) -> None:
    run_brygga("run", *SYNCS, "-c", str(quickstart))
    folder = quickstart.parent / "demo"
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    (folder / "erp-import" / "README").write_text("mine too", encoding="utf-8")

    reset = run_brygga("demo", "--reset", "-c", str(quickstart))

    assert reset.returncode == 0, reset.stderr
    assert "created the sample CRM" in reset.stdout
    assert not (folder / "brygga.db").exists() and not (folder / "erp-import" / "customers.csv").exists()
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (folder / "erp-import" / "README").read_text(encoding="utf-8") == "mine too"


def test_demo_writes_over_and_removes_nothing_in_the_place_of_its_files(quickstart: Path) -> None:
    folder = quickstart.parent / "demo"
    (folder / "crm.db").unlink()
    (folder / "crm.db").mkdir()
    (folder / "crm.db" / "important.txt").write_text("keep", encoding="utf-8")

    plain, reset = run_brygga("demo", "-c", str(quickstart)), run_brygga("demo", "--reset", "-c", str(quickstart))

    for result in (plain, reset):
        assert result.returncode == 2, result.stderr
        assert "crm.db is not a file that demo made: move it away, then run demo again" in result.stderr
        assert "Traceback" not in result.stderr
    assert (folder / "crm.db" / "important.txt").read_text(encoding="utf-8") == "keep"


def test_a_failing_record_makes_run_exit_1_and_shows_why(quickstart: Path) -> None:
    crm = quickstart.parent / "demo" / "crm.db"
    with sqlite3.connect(crm) as connection:
        connection.execute("UPDATE contacts SET email = NULL WHERE id = 2")
    connection.close()

    result = run_brygga("run", "crm-contacts-to-erp-customers", "-c", str(quickstart))

    assert result.returncode == 1
    assert "crm-contacts-to-erp-customers: partial" in result.stdout
    assert "failed 2: sync crm-contacts-to-erp-customers, record 2, field email: required" in result.stdout


def test_a_run_names_its_first_ten_failed_records_and_counts_the_rest(quickstart: Path) -> None:
    crm = quickstart.parent / "demo" / "crm.db"
    with sqlite3.connect(crm) as connection:
        connection.executemany(
            "INSERT INTO contacts (id, company_id, first_name, email, status, updated_at) "
            "VALUES (?, 1, 'No Mail', NULL, 'active', '2024-05-01 12:00:00')",
            [(number,) for number in range(100, 113)],
        )
    connection.close()

    result = run_brygga("run", "crm-companies-to-erp-accounts", "crm-contacts-to-erp-customers", "-c", str(quickstart))

    assert result.returncode == 1
    named = [line.split(":")[0].strip() for line in result.stdout.splitlines() if line.startswith("  failed ")]
    assert named == [f"failed {number}" for number in range(100, 110)]
    assert "  … and 3 more; they are dead letters, retried at later runs" in result.stdout


def test_preview_shows_actions_and_differences_without_writing(quickstart: Path) -> None:
    run_brygga("run", *SYNCS, "-c", str(quickstart))
    crm = quickstart.parent / "demo" / "crm.db"
    with sqlite3.connect(crm) as connection:
        connection.execute("UPDATE contacts SET first_name = 'Anna', updated_at = '2024-03-02 00:00:00' WHERE id = 1")
    connection.close()

    table = run_brygga("preview", "crm-contacts-to-erp-customers", "-c", str(quickstart))
    as_json = run_brygga("preview", "crm-contacts-to-erp-customers", "--json", "-c", str(quickstart))

    assert table.returncode == 0, table.stderr
    assert "name: 'Ann Berg' → 'Anna Berg'" in table.stdout
    rows = {row["source_key"]: row for row in json.loads(as_json.stdout)}
    assert rows["1"]["action"] == "update"
    assert rows["1"]["changes"] == {"name": {"from": "Ann Berg", "to": "Anna Berg"}}
    assert rows["5"]["action"] == "skip"
    customers = (quickstart.parent / "demo" / "erp-import" / "customers.csv").read_bytes().decode("cp1252")
    assert "Anna" not in customers


def test_preview_of_a_source_that_never_answers_says_so_after_one_try(tmp_path: Path) -> None:
    """A person waits on a preview: the REST connector's own five tries at its `timeout` each (2.5 minutes
    at the default 30 s) are left to runs; a preview reports the first failure."""
    with silent_api_project(tmp_path) as connections:
        result = run_brygga("preview", "orders", "-c", str(tmp_path / "brygga.yaml"))
        made = connections()

    assert result.returncode == 2, result.stdout + result.stderr
    assert "no answer in time" in result.stderr
    assert made == 1, "the request was tried again"


def test_status_lists_every_sync(quickstart: Path) -> None:
    before = run_brygga("status", "-c", str(quickstart))
    run_brygga("run", SYNCS[0], "-c", str(quickstart))
    after = run_brygga("status", "-c", str(quickstart))

    assert before.returncode == after.returncode == 0
    assert before.stdout.count("never") == 3
    assert after.stdout.count("never") == 2
    assert "5 read, 5 created" in after.stdout


def test_status_into_a_pipe_keeps_each_sync_on_one_line(quickstart: Path) -> None:
    """A narrow terminal's COLUMNS does not fold a pipe's table: ``brygga status | grep NAME`` finds each sync
    (rich folded names at 80 columns: ``crm-companies-t`` / ``o-erp-accounts``)."""
    run_brygga("run", "--all", "-c", str(quickstart))

    shown = run_brygga("status", "-c", str(quickstart), env={"COLUMNS": "40"})

    rows = [line.split("│") for line in shown.stdout.splitlines() if line.startswith("│")]
    names = sorted([*SYNCS, "crm-contacts-helpdesk"])
    assert [row[1].strip() for row in rows] == names, shown.stdout
    assert all("read" in row[4] and row[3].strip().endswith(")") for row in rows), shown.stdout


def test_an_unknown_sync_is_a_usage_error(quickstart: Path) -> None:
    result = run_brygga("run", "crm-contacts", "-c", str(quickstart))

    assert result.returncode == 2
    assert "no sync named 'crm-contacts'" in result.stderr
