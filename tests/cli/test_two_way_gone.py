"""Records gone from a side of a two-way sync whose ``delete_in`` does not carry the delete, through the real
``brygga``: the pair is unlinked, and the record left is new on its side from then on, carried as such at
the run that unlinks it (it was carried only at a later run that happened to read it again: a record made
anew under the key of a pair gone from both sides never reached the other side, its cursor moved on)."""

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
    assert run_brygga("run", "crm-erp", *config).returncode == 0
    project.crm.insert([{"id": 3, "email": "again@crm.se", "phone": "33", "name": "Again", "notes": None}])
    project.crm.execute("UPDATE contacts SET name = 'Later' WHERE id = 1")  # the cursor moves past record 3

    ran = [run_brygga("run", "crm-erp", *config) for _ in range(3)]

    assert all(run.returncode == 0 for run in ran), [run.stdout + run.stderr for run in ran]
    assert project.erp.records(["email", "name"]) == {
        1: {"email": "c1@crm.se", "name": "Later"},
        2: {"email": "c2@crm.se", "name": "C2"},
        3: {"email": "again@crm.se", "name": "Again"},
    }
    assert _counts(ran[0].stdout, "to_b")["created"] == 1, "created at the run that unlinked the old pair"
    assert _counts(ran[0].stdout, "to_a")["skipped"] == 1  # the old pair, unlinked: gone from the ERP
    assert [_counts(run.stdout, "to_b")["created"] for run in ran[1:]] == [0, 0]


def test_a_record_deleted_on_one_side_comes_back_with_the_edit_of_the_other_at_the_run_that_unlinks_it(
    tmp_path: Path,
) -> None:
    """With ``delete_in: []`` a delete is not carried out: the record left is edited in the ERP, so the CRM
    gets it back, with the edit, at the next run (it came back only at the ERP's next edit after that)."""
    project, config = _synced(tmp_path)
    project.crm.execute("DELETE FROM contacts WHERE id = 2")
    project.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 2")

    shown = run_brygga("preview", "crm-erp", "--json", *config)
    ran = run_brygga("run", "crm-erp", *config)
    again = run_brygga("run", "crm-erp", *config)

    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {
        (row["direction"], row["action"], row["source_key"])
        for row in json.loads(shown.stdout)
        if row["action"] != "unchanged"
    }
    assert rows == {("to_b", "unlink", "2"), ("to_a", "create", "2")}
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (_counts(ran.stdout, "to_a")["created"], _counts(ran.stdout, "to_b")["skipped"]) == (1, 1)
    assert project.crm.records(["phone"])[2] == {"phone": "edited"}
    assert again.returncode == 0 and "created 0, updated 0, deleted 0" in again.stdout
