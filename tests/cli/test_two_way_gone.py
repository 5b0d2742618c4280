"""Records gone from a side of a two-way sync whose ``delete_in`` does not carry the delete, through the real
``brygga``: the pair is unlinked, and the record left stays where it is, remembered as left by that delete: it
is not created again on the side it was deleted from, whatever is edited in it since (it was, at the run that
unlinked it, and then again after each delete). A pair gone from both sides is forgotten: a record made anew
under its key is a new record, carried at the run that reads it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.helpers import run_brygga
from tests.engine.two_way_project import TwoWayProject, make_two_way_project


def _counts(output: str, direction: str) -> dict[str, int]:
    line = re.search(rf"{direction}: (read .*)", output)
    assert line is not None, output
    return {name: int(number) for number, name in (part.split(" ")[::-1] for part in line[1].split(", "))}


def _synced(tmp_path: Path) -> tuple[TwoWayProject, list[str]]:
    project = make_two_way_project(tmp_path)
    project.crm.insert(
        [{"id": n, "email": f"c{n}@crm.se", "phone": str(n), "name": f"C{n}", "notes": None} for n in (1, 2, 3)]
    )
    config = ["-c", str(project.file)]
    assert run_brygga("run", "crm-erp", *config).returncode == 0
    return project, config


def test_a_record_made_anew_under_the_key_of_a_pair_gone_from_both_sides_reaches_the_other_side(
    tmp_path: Path,
) -> None:
    project, config = _synced(tmp_path)
    project.crm.execute("DELETE FROM contacts WHERE id = 3")
    project.erp.execute("DELETE FROM customers WHERE customer_no = 3")
    assert run_brygga("run", "crm-erp", "--full", *config).returncode == 0  # looks at every key: gone from both
    project.crm.insert([{"id": 3, "email": "again@crm.se", "phone": "33", "name": "Again", "notes": None}])
    project.crm.execute("UPDATE contacts SET name = 'Later' WHERE id = 1")  # the cursor moves past record 3

    ran = [run_brygga("run", "crm-erp", *config) for _ in range(3)]

    assert all(run.returncode == 0 for run in ran), [run.stdout + run.stderr for run in ran]
    assert project.erp.records(["email", "name"]) == {
        1: {"email": "c1@crm.se", "name": "Later"},
        2: {"email": "c2@crm.se", "name": "C2"},
        3: {"email": "again@crm.se", "name": "Again"},
    }
    assert [_counts(run.stdout, "to_b")["created"] for run in ran] == [1, 0, 0]


def test_a_record_deleted_on_one_side_does_not_come_back_with_the_edits_of_the_other(tmp_path: Path) -> None:
    """With ``delete_in: []`` a delete is not carried out: the record left stays in the ERP, edited there, and the
    CRM does not get it back (it did, at the run that noticed the delete, and then at each edit after a delete)."""
    project, config = _synced(tmp_path)
    project.crm.execute("DELETE FROM contacts WHERE id = 2")
    project.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 2")

    shown = run_brygga("preview", "crm-erp", "--json", *config)
    ran = run_brygga("run", "crm-erp", *config)
    project.erp.execute("UPDATE customers SET phone = 'edited again' WHERE customer_no = 2")
    edited = run_brygga("run", "crm-erp", *config)
    again = run_brygga("run", "crm-erp", *config)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {
        (row["direction"], row["action"], row["source_key"])
        for row in json.loads(shown.stdout)
        if row["action"] != "unchanged"
    }
    assert rows == {("to_b", "unlink", "2")}
    assert ran.returncode == edited.returncode == again.returncode == 0, ran.stdout + ran.stderr
    assert (_counts(ran.stdout, "to_a")["created"], _counts(ran.stdout, "to_b")["skipped"]) == (0, 1)
    assert (_counts(edited.stdout, "to_a")["created"], _counts(edited.stdout, "to_a")["skipped"]) == (0, 1)
    assert 2 not in project.crm.records(["phone"])
    assert project.erp.records(["phone"])[2] == {"phone": "edited again"}
    assert "created 0, updated 0, deleted 0" in again.stdout and "skipped 0" in again.stdout
