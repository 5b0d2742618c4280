"""Two-way: a record deleted on one side while it was edited on the other since the pair was last settled.

The delete was carried out where ``delete_in`` allowed, and the edit went with it: no conflict, no trace.
Now the edit wins (a delete can be made again, a lost edit cannot be had back): the edited record stays,
the conflict is logged with what was edited, and the record is created again on the side it was deleted
from where ``create_in`` allows. Real SQLite databases on both sides, the real engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.engine.two_way_project import SYNC, TwoWayProject, make_two_way_project

MAPPED = ["email", "phone", "name"]


def seed(project: TwoWayProject) -> None:
    project.crm.insert(
        [{"id": n, "email": f"c{n}@crm.se", "phone": f"07{n}", "name": f"Crm {n}", "notes": "own"} for n in (1, 2, 3)]
    )


def logged(project: TwoWayProject, run_id: int, action: str) -> list[tuple[Any, ...]]:
    """(direction, source key, target key, error, detail) of a run's record-log entries with ``action``."""
    rows = project.state_rows(
        "SELECT direction, source_key, target_key, error, detail FROM record_log "
        f"WHERE run_id = {run_id} AND action = '{action}' ORDER BY id"
    )
    return [(*row[:4], json.loads(row[4]) if row[4] else None) for row in rows]


async def test_a_record_deleted_in_a_but_edited_in_b_is_kept_created_again_in_a_and_logged(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path, delete_in="[b]")
    seed(project)
    await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id IN (1, 2)")
    project.erp.execute("UPDATE customers SET phone = 'edited in the ERP' WHERE customer_no = 1")

    run = await project.run()
    marks = project.crm.audit_mark(), project.erp.audit_mark()
    again = await project.run()

    assert run.status == "succeeded", run.error
    erp, crm = project.erp.records(MAPPED), project.crm.records(MAPPED)
    assert 2 not in erp, "a record nobody edited is deleted as before"
    assert erp[1] == {"email": "c1@crm.se", "phone": "edited in the ERP", "name": "Crm 1"}
    assert crm[1] == erp[1], "the edited record is created again in the CRM"
    assert sorted(crm) == sorted(erp) == [1, 3]
    assert run.conflicts == 1 and run.counts_by_direction is not None
    assert (run.counts_by_direction["to_b"].deleted, run.counts_by_direction["to_a"].created) == (1, 1)
    [(direction, source_key, target_key, why, detail)] = logged(project, run.id, "conflict")
    assert (direction, source_key, target_key) == ("to_a", "1", "1")
    assert detail == {"field": "phone", "a": None, "b": {"phone": "edited in the ERP"}, "winner": "b"}
    assert why == (
        "deleted in crm.contacts but edited in erp.customers (phone) since the pair was last settled: the edit "
        "stands, not the delete; the record is created again in crm.contacts"
    )
    assert [key for (key,) in project.state_rows("SELECT source_key FROM id_map ORDER BY source_key")] == ["1", "3"]
    assert again.status == "succeeded" and again.counts.changed == 0 and again.conflicts == 0
    assert (project.crm.audit_since(marks[0]), project.erp.audit_since(marks[1])) == ([], [])

    project.crm.execute("DELETE FROM contacts WHERE id = 1")
    deleted = await project.run()

    assert deleted.status == "succeeded" and deleted.conflicts == 0, "deleted again: nothing stands against it"
    assert sorted(project.erp.records(MAPPED)) == [3]


async def test_a_record_deleted_in_b_but_edited_in_a_is_kept_even_when_no_cursor_reads_the_edit(
    tmp_path: Path,
) -> None:
    """The other way round, and found as a run looks for gone records (``delete_in`` names a side): the
    CRM's edit is stamped before the cursor, so only the look at every key finds the pair."""
    project = make_two_way_project(tmp_path, delete_in="[a]")
    seed(project)
    await project.run()
    await project.run()
    project.crm.execute("UPDATE contacts SET name = 'Edited in the CRM' WHERE id = 1")
    project.crm.execute("UPDATE contacts SET updated_at = '2000-01-01' WHERE id = 1")
    project.erp.execute("DELETE FROM customers WHERE customer_no IN (1, 2)")

    run = await project.run()
    again = await project.run()

    assert run.status == "succeeded", run.error
    crm, erp = project.crm.records(MAPPED), project.erp.records(MAPPED)
    assert 2 not in crm
    assert crm[1] == erp[1] == {"email": "c1@crm.se", "phone": "071", "name": "Edited in the CRM"}
    assert project.crm.rows("SELECT notes FROM contacts WHERE id = 1") == [("own",)]
    assert run.conflicts == 1 and run.counts_by_direction is not None
    assert (run.counts_by_direction["to_a"].deleted, run.counts_by_direction["to_b"].created) == (1, 1)
    [(direction, source_key, _, why, detail)] = logged(project, run.id, "conflict")
    assert (direction, source_key) == ("to_b", "1")
    assert detail == {"field": "name", "a": {"name": "Edited in the CRM"}, "b": None, "winner": "a"}
    assert "deleted in erp.customers but edited in crm.contacts (name)" in why
    assert again.status == "succeeded" and again.counts.changed == 0 and again.conflicts == 0


async def test_where_create_in_leaves_out_the_deleting_side_the_edited_record_stays_unlinked(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path, delete_in="[b]")
    project.write_sync(SYNC.format(wins="a", delete_in="[b]").replace("  delete_in:", "  create_in: [b]\n  delete_in:"))
    seed(project)
    await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id = 1")
    project.erp.execute("UPDATE customers SET email = 'kept@erp.se' WHERE customer_no = 1")

    run = await project.run()

    assert run.status == "succeeded", run.error
    assert project.erp.records(MAPPED)[1]["email"] == "kept@erp.se"
    assert 1 not in project.crm.records(MAPPED)
    assert run.conflicts == 1 and run.counts_by_direction is not None
    assert run.counts_by_direction["to_a"].skipped == 1 and run.counts.deleted == 0
    [(_, _, _, why, _)] = logged(project, run.id, "conflict")
    assert why.endswith("the edit stands, not the delete; the pair is unlinked (create_in does not name a)")
    assert [key for (key,) in project.state_rows("SELECT source_key FROM id_map ORDER BY source_key")] == ["2", "3"]


async def test_an_edit_of_a_field_carried_only_the_other_way_keeps_the_record_too(tmp_path: Path) -> None:
    """The ERP's ``internal`` is read into the CRM's ``notes`` and never written: an edit of it is an edit."""
    project = make_two_way_project(tmp_path, delete_in="[b]")
    sync = SYNC.format(wins="a", delete_in="[b]")
    project.write_sync(sync.replace("to_a:\n", "to_a:\n  notes: internal\n"))
    seed(project)
    await project.run()
    await project.run()  # the ERP's empty internal reaches the CRM's notes
    project.crm.execute("DELETE FROM contacts WHERE id IN (1, 2)")
    project.erp.execute("UPDATE customers SET internal = 'a note from the ERP' WHERE customer_no = 1")

    run = await project.run()

    assert run.status == "succeeded", run.error
    assert sorted(project.erp.records(MAPPED)) == [1, 3], "a record nobody edited is deleted as before"
    assert project.erp.rows("SELECT internal FROM customers WHERE customer_no = 1") == [("a note from the ERP",)]
    assert project.crm.rows("SELECT notes FROM contacts WHERE id = 1") == [("a note from the ERP",)]
    [(_, _, _, _, detail)] = logged(project, run.id, "conflict")
    assert detail == {"field": "notes", "a": None, "b": {"notes": "a note from the ERP"}, "winner": "b"}


async def test_a_new_record_that_failed_and_was_then_deleted_takes_its_dead_letter_with_it(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    project.erp.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON customers WHEN NEW.email = 'bad' BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    project.crm.insert([{"id": 9, "email": "bad", "phone": "9", "name": "Nine", "notes": None}])
    failed = await project.run()
    letters = project.state_rows("SELECT source_key, direction FROM dead_letters")
    project.crm.execute("DELETE FROM contacts WHERE id = 9")

    gone = await project.run()

    assert failed.status == "partial" and letters == [("9", "to_b")]
    assert gone.status == "succeeded", gone.error
    assert project.state_rows("SELECT count(*) FROM dead_letters") == [(0,)]
