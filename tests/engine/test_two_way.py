"""Two-way syncs between two real SQLite databases (SPEC 3.1): carrying, conflicts, creates, deletes, no echoes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine import two_way
from tests.cli.helpers import BRYGGA
from tests.engine.two_way_project import TwoWayProject, make_two_way_project

MAPPED = ["email", "phone", "name"]


def agree(project: TwoWayProject) -> None:
    """Both sides hold the same records, with the same mapped values."""
    assert project.crm.records(MAPPED) == project.erp.records(MAPPED)


def seed(project: TwoWayProject) -> None:
    project.crm.insert(
        [{"id": n, "email": f"c{n}@crm.se", "phone": f"07{n}", "name": f"Crm {n}", "notes": "own"} for n in (1, 2, 3)]
    )
    project.erp.insert(
        [
            {"customer_no": n, "email": f"e{n}@erp.se", "phone": f"08{n}", "name": f"Erp {n}", "internal": "own"}
            for n in (100, 101)
        ]
    )


async def test_records_new_on_either_side_are_created_on_the_other_and_a_second_run_writes_nothing(
    tmp_path: Path,
) -> None:
    project = make_two_way_project(tmp_path)
    seed(project)

    first = await project.run()
    crm_mark, erp_mark = project.crm.audit_mark(), project.erp.audit_mark()
    second = await project.run()

    assert first.status == "succeeded", first.error
    agree(project)
    assert sorted(project.crm.records(MAPPED)) == [1, 2, 3, 100, 101]
    assert first.counts_by_direction is not None
    assert (first.counts_by_direction["to_b"].created, first.counts_by_direction["to_a"].created) == (3, 2)
    assert second.status == "succeeded", second.error
    assert project.crm.audit_since(crm_mark) == project.erp.audit_since(erp_mark) == []
    assert second.counts.created + second.counts.updated == 0


async def test_a_change_on_one_side_is_carried_to_the_other_writing_only_that_field(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    seed(project)
    await project.run()
    project.crm.execute("UPDATE contacts SET email = 'new@crm.se' WHERE id = 1")
    project.erp.execute("UPDATE customers SET phone = '0999' WHERE customer_no = 101")
    crm_mark, erp_mark = project.crm.audit_mark(), project.erp.audit_mark()

    run = await project.run()

    agree(project)
    assert project.erp.audit_since(erp_mark) == [("update", 1, "email,")]
    assert project.crm.audit_since(crm_mark) == [("update", 101, "phone,")]
    assert run.counts_by_direction is not None
    assert (run.counts_by_direction["to_b"].updated, run.counts_by_direction["to_a"].updated) == (1, 1)
    assert run.conflicts == 0
    assert project.crm.rows("SELECT notes FROM contacts WHERE id = 1") == [("own",)]


async def test_a_field_changed_on_both_sides_is_settled_by_wins_and_logged(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    seed(project)
    await project.run()
    project.crm.execute("UPDATE contacts SET name = 'From CRM', phone = 'crm phone' WHERE id = 2")
    project.erp.execute("UPDATE customers SET name = 'From ERP', phone = 'erp phone' WHERE customer_no = 2")

    run = await project.run()
    again = await project.run()

    agree(project)
    assert project.crm.records(MAPPED)[2] == {"email": "c2@crm.se", "phone": "erp phone", "name": "From CRM"}
    assert run.conflicts == 2
    conflicts = project.state_rows(
        f"SELECT direction, detail FROM record_log WHERE run_id = {run.id} AND action = 'conflict' ORDER BY id"
    )
    details = sorted(
        (direction, json.loads(detail)["field"], json.loads(detail)["winner"]) for direction, detail in conflicts
    )
    assert details == [("to_a", "phone", "b"), ("to_b", "name", "a")]
    assert again.counts.updated + again.counts.created == 0 and again.conflicts == 0


async def test_the_same_change_on_both_sides_writes_nothing(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    seed(project)
    await project.run()
    project.crm.execute("UPDATE contacts SET name = 'Same' WHERE id = 3")
    project.erp.execute("UPDATE customers SET name = 'Same' WHERE customer_no = 3")
    crm_mark, erp_mark = project.crm.audit_mark(), project.erp.audit_mark()

    run = await project.run()

    assert project.crm.audit_since(crm_mark) == project.erp.audit_since(erp_mark) == []
    assert run.conflicts == 0 and run.counts.updated == 0


async def test_a_side_that_lower_cases_on_save_costs_one_settling_write_never_a_loop(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path, erp_lowers=["email"])
    project.crm.insert([{"id": 1, "email": "Ann@CRM.se", "phone": "1", "name": "Ann", "notes": None}])

    runs = [await project.run() for _ in range(4)]

    agree(project)
    assert project.crm.records(MAPPED)[1]["email"] == "ann@crm.se"
    written = [(run.counts.created, run.counts.updated) for run in runs]
    assert written == [(1, 0), (0, 1), (0, 0), (0, 0)]


async def test_a_deleted_record_is_deleted_on_the_other_side_where_delete_in_allows(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path, delete_in="[b]")
    seed(project)
    await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id = 1")
    project.erp.execute("DELETE FROM customers WHERE customer_no = 100")

    run = await project.run()

    assert 1 not in project.erp.records(MAPPED)  # carried out in b
    assert 100 in project.crm.records(MAPPED)  # delete_in does not name a: the record left stays, unlinked
    assert 100 not in project.erp.records(MAPPED)  # and is not created again in b: b's delete stands
    assert run.counts_by_direction is not None
    assert run.counts_by_direction["to_b"].deleted == 1 and run.counts_by_direction["to_a"].skipped == 1
    assert run.counts.created == 0
    links = project.state_rows("SELECT source_key, gone_from FROM id_map ORDER BY source_key")
    assert links == [("100", "b"), ("101", None), ("2", None), ("3", None)]


async def test_a_deleted_record_is_noticed_at_a_full_run_where_delete_in_names_no_side(
    tmp_path: Path,
) -> None:
    """With ``delete_in: []`` nothing is deleted and a plain run reads no key it need not (a nothing-changed
    run stays cheap); a ``--full`` run unlinks and logs a pair whose record is gone on either side, and the
    record left stays where it is, not created again on the side it was gone from."""
    project = make_two_way_project(tmp_path, delete_in="[]")
    seed(project)
    await project.run()
    await project.run()
    # the partners of the records about to be deleted are not read again (their cursor is long past them)
    project.crm.execute("UPDATE contacts SET updated_at = '2000-01-01' WHERE id = 100")
    project.erp.execute("UPDATE customers SET modified_at = '2000-01-01' WHERE customer_no = 1")
    project.crm.execute("DELETE FROM contacts WHERE id = 1")
    project.erp.execute("DELETE FROM customers WHERE customer_no = 100")
    crm_mark, erp_mark = project.crm.audit_mark(), project.erp.audit_mark()

    plain = await project.run()
    assert plain.status == "succeeded", plain.error
    assert len(project.state_rows("SELECT source_key FROM id_map")) == 5, "a plain run looked for gone records"

    run = await project.run(full=True)

    assert run.status == "succeeded", run.error
    assert 1 in project.erp.records(MAPPED) and 100 in project.crm.records(MAPPED)  # nothing deleted
    assert project.crm.audit_since(crm_mark) == project.erp.audit_since(erp_mark) == []  # nor created again
    assert run.counts_by_direction is not None
    assert run.counts_by_direction["to_b"].skipped == run.counts_by_direction["to_a"].skipped == 1
    assert run.counts.created == 0
    links = project.state_rows("SELECT source_key, gone_from FROM id_map ORDER BY source_key")
    assert links == [("1", "a"), ("100", "b"), ("101", None), ("2", None), ("3", None)]
    logged = project.state_rows(
        f"SELECT direction, source_key, action, error FROM record_log WHERE run_id = {run.id}"
        " ORDER BY direction, action"
    )
    assert [row[:3] for row in logged] == [("to_a", "100", "skipped"), ("to_b", "1", "skipped")]
    assert all("the pair is unlinked" in error for *_, action, error in logged if action == "skipped")
    again = await project.run(full=True)
    assert (again.counts.created, again.counts.updated, again.counts.deleted) == (0, 0, 0)


def test_a_killed_run_then_a_rerun_loses_no_edit_and_creates_nothing_twice(tmp_path: Path) -> None:
    """SIGKILL in the middle of a two-way ``brygga run``, then a rerun (issue 19, must show 3)."""
    project = make_two_way_project(tmp_path, batch_size=100)
    rows = 4_000
    project.crm.insert([{"id": n, "email": f"p{n}@crm.se", "phone": "0", "name": f"P {n}"} for n in range(rows)])
    command = [str(BRYGGA), "run", "crm-erp", "-c", str(project.file)]
    assert subprocess.run(command, capture_output=True, timeout=120, check=False).returncode == 0
    project.crm.execute("UPDATE contacts SET email = 'new' || id || '@crm.se'")
    project.erp.execute("UPDATE customers SET phone = 'erp ' || customer_no")
    project.crm.insert(
        [{"id": n, "email": f"n{n}@crm.se", "phone": "1", "name": "New"} for n in range(rows, rows + 500)]
    )
    mark = project.erp.audit_mark()

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: len(project.erp.audit_since(mark)) >= 400, 60, "the first writes")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    written_at_kill = len(project.erp.audit_since(mark))
    assert process.returncode == -signal.SIGKILL
    assert written_at_kill < rows + 500, "the run must be killed in the middle"

    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert again.returncode == 0, again.stdout + again.stderr
    agree(project)
    crm = project.crm.records(MAPPED)
    assert len(crm) == rows + 500
    assert all(crm[n]["email"] == f"new{n}@crm.se" and crm[n]["phone"] == f"erp {n}" for n in range(rows))
    assert project.state_rows("SELECT count(*), count(DISTINCT target_key) FROM id_map") == [(rows + 500, rows + 500)]
    inserts = [key for action, key, _ in project.erp.audit_since(mark) if action == "insert"]
    assert sorted(inserts) == list(range(rows, rows + 500)), "a record created twice, or not at all"
    assert project.state_rows("SELECT count(*) FROM dead_letters") == [(0,)]


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except sqlite3.OperationalError:  # the run holds a lock for a moment: ask again
            pass
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def test_a_record_a_side_refuses_fails_alone_into_the_dead_letters_with_its_direction(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path)
    seed(project)
    await project.run()
    refuse = (
        "CREATE TRIGGER refuse BEFORE UPDATE ON customers WHEN NEW.email = 'bad' BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    project.erp.execute(refuse)
    project.crm.execute("UPDATE contacts SET email = 'bad' WHERE id = 1")
    project.crm.execute("UPDATE contacts SET email = 'fine@crm.se' WHERE id = 2")

    failed = await project.run()
    letters = project.state_rows("SELECT source_key, direction FROM dead_letters")
    project.erp.execute("DROP TRIGGER refuse")
    retried = await project.run()

    assert failed.status == "partial"
    assert failed.counts_by_direction is not None and failed.counts_by_direction["to_b"].failed == 1
    assert letters == [("1", "to_b")]
    assert project.state_rows(f"SELECT direction FROM record_log WHERE run_id = {failed.id} AND action = 'failed'") == [
        ("to_b",)
    ]
    assert retried.status == "succeeded" and retried.counts.updated == 1
    assert project.state_rows("SELECT count(*) FROM dead_letters") == [(0,)]
    agree(project)


async def test_edits_conflicts_and_no_echoes_over_each_kind_of_state_database(tmp_path: Path, state: str) -> None:
    project = make_two_way_project(tmp_path, state=state, delete_in="[b]")
    seed(project)
    first = await project.run()
    project.crm.execute("UPDATE contacts SET name = 'CRM', email = 'one@crm.se' WHERE id = 1")
    project.erp.execute("UPDATE customers SET name = 'ERP' WHERE customer_no = 1")
    project.crm.execute("DELETE FROM contacts WHERE id = 3")

    settled = await project.run()
    marks = project.crm.audit_mark(), project.erp.audit_mark()
    again = await project.run()

    assert (first.status, settled.status, again.status) == ("succeeded",) * 3
    agree(project)
    assert project.erp.records(MAPPED)[1] == {"email": "one@crm.se", "phone": "071", "name": "CRM"}
    assert settled.conflicts == 1 and settled.counts_by_direction is not None
    assert settled.counts_by_direction["to_b"].updated == 1
    assert settled.counts_by_direction["to_b"].deleted == 1 and 3 not in project.erp.records(MAPPED)
    assert (project.crm.audit_since(marks[0]), project.erp.audit_since(marks[1])) == ([], [])
    assert again.counts.changed == 0


async def test_an_update_leaves_a_required_column_it_does_not_map_as_it_is(tmp_path: Path) -> None:
    """The ERP's table has a NOT NULL column without a default that the sync never maps: an update of the
    fields that changed is an UPDATE by key (an upsert of them would be refused for the row it could insert)."""
    project = make_two_way_project(tmp_path, erp_extra=" code TEXT NOT NULL,")
    project.crm.insert([{"id": 1, "email": "a@crm.se", "phone": "1", "name": "A", "notes": None}])
    project.erp.insert([{"customer_no": 1, "email": "a@crm.se", "phone": "1", "name": "A", "code": "K-1"}])
    linked = await project.run()
    project.crm.execute("UPDATE contacts SET email = 'new@crm.se' WHERE id = 1")
    mark = project.erp.audit_mark()

    run = await project.run()

    assert linked.status == "succeeded" and linked.counts.changed == 0, linked
    assert run.status == "succeeded", run.error
    assert project.erp.audit_since(mark) == [("update", 1, "email,")]
    assert project.erp.rows("SELECT email, code FROM customers") == [("new@crm.se", "K-1")]


async def test_dead_letters_due_again_are_read_a_page_at_a_time_and_every_one_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(two_way, "_LETTERS_READ", 1)
    project = make_two_way_project(tmp_path)
    seed(project)
    await project.run()
    refuse = "WHEN NEW.email LIKE 'bad%' BEGIN SELECT RAISE(ABORT, 'no'); END"
    project.erp.execute(f"CREATE TRIGGER refuse BEFORE UPDATE ON customers {refuse}")
    project.crm.execute("UPDATE contacts SET email = 'bad' || id WHERE id IN (1, 2)")

    failed = await project.run()
    project.erp.execute("DROP TRIGGER refuse")
    retried = await project.run()

    assert failed.counts_by_direction is not None and failed.counts_by_direction["to_b"].failed == 2
    assert retried.status == "succeeded" and retried.counts.updated == 2
    assert project.state_rows("SELECT count(*) FROM dead_letters") == [(0,)]
    agree(project)
