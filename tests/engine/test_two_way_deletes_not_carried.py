"""A delete that ``delete_in`` does not carry (SPEC 3.1: "otherwise the pair is unlinked and logged"), over SQLite
and PostgreSQL state: the record left stays on its side, and stays unlinked. It was taken for a record new on its
side, so the run created it again on the side that deleted it, with the edit; deleted again, it came back at the
next edit of the record left, after each delete. Now the pair is remembered as gone from that side: the record
left's edits are logged as skipped, saying why, and shown so by ``brygga preview``."""

from __future__ import annotations

from pathlib import Path

from app.engine.preview import preview_sync
from app.engine.runner import open_engine
from app.engine.workspace import open_workspace
from app.store import LogRecord, Pair, RunInfo
from tests.engine.two_way_project import TwoWayProject, make_two_way_project

MAPPED = ["email", "phone", "name"]


def _synced(tmp_path: Path, state: str, delete_in: str = "[]") -> TwoWayProject:
    project = make_two_way_project(tmp_path, state=state, delete_in=delete_in)
    project.crm.insert(
        [{"id": n, "email": f"c{n}@crm.se", "phone": str(n), "name": f"C{n}", "notes": None} for n in (1, 2, 3)]
    )
    return project


async def _pairs(project: TwoWayProject) -> dict[str, Pair]:
    async with open_engine(open_workspace(project.file, environ={})) as engine:
        return await engine.store.pairs("crm-erp", ["1", "2", "3"])


async def _logged(project: TwoWayProject, run: RunInfo) -> list[LogRecord]:
    async with open_engine(open_workspace(project.file, environ={})) as engine:
        return await engine.store.history.log(run.id, None, 100)


async def _preview(project: TwoWayProject) -> set[tuple[str | None, str, str, str | None]]:
    async with open_engine(open_workspace(project.file, environ={})) as engine:
        rows = await preview_sync(engine, "crm-erp", 10)
    return {(row.direction, row.action, row.source_key, row.note) for row in rows if row.action != "unchanged"}


async def test_a_record_deleted_in_a_stays_deleted_there_however_often_it_is_edited_in_b(
    tmp_path: Path, state: str
) -> None:
    project = _synced(tmp_path, state)
    assert (await project.run()).status == "succeeded"
    project.crm.execute("DELETE FROM contacts WHERE id = 2")
    project.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 2")

    shown = await _preview(project)
    noticed = await project.run()
    crm_mark = project.crm.audit_mark()
    project.erp.execute("UPDATE customers SET phone = 'edited again' WHERE customer_no = 2")
    shown_again = await _preview(project)
    edited = await project.run()
    quiet = await project.run()

    assert shown == {
        ("to_b", "unlink", "2", "gone from a; delete_in does not name b: the record left stays, unlinked"),
    }
    assert (noticed.status, edited.status, quiet.status) == ("succeeded",) * 3
    assert 2 not in project.crm.records(MAPPED), "the record deleted in the CRM came back"
    assert project.crm.audit_since(crm_mark) == []
    assert project.erp.records(["phone"])[2] == {"phone": "edited again"}  # b's record stays, with its edits
    assert noticed.counts_by_direction is not None and edited.counts_by_direction is not None
    assert (noticed.counts.created, noticed.counts_by_direction["to_b"].skipped) == (0, 1)
    assert (edited.counts.created, edited.counts.updated, edited.counts_by_direction["to_a"].skipped) == (0, 0, 1)
    assert (quiet.counts.skipped, quiet.counts.changed) == (0, 0), "a re-read of the record left is no edit"
    [first] = await _logged(project, noticed)
    assert (first.direction, first.action, first.source_key, first.target_key) == ("to_b", "skipped", "2", "2")
    assert first.error == (
        "gone from a; delete_in does not name b: the pair is unlinked, and erp.customers record 2 stays, its edits "
        "no longer carried to crm.contacts"
    )
    [skipped] = await _logged(project, edited)
    assert (skipped.direction, skipped.action, skipped.source_key, skipped.target_key) == ("to_a", "skipped", "2", "2")
    assert skipped.error is not None
    assert skipped.error.startswith(
        "not carried to crm.contacts (phone): its record 2 was deleted there, and delete_in does not name b, so this "
        "record stays in erp.customers, unlinked"
    )
    assert shown_again == {
        ("to_a", "skip", "2", "deleted in a, and delete_in does not name b: its edits (phone) are not carried to a"),
    }
    assert (await _pairs(project))["2"].gone_from == "a"


async def test_a_full_run_remembers_a_delete_in_either_side_once_and_creates_nothing(
    tmp_path: Path, state: str
) -> None:
    """``--full`` looks at every key: it notices each side's delete once, and later ``--full`` runs settle the
    pairs so remembered without a word (they are not gone news)."""
    project = _synced(tmp_path, state)
    await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id = 1")
    project.erp.execute("DELETE FROM customers WHERE customer_no = 3")
    crm_mark, erp_mark = project.crm.audit_mark(), project.erp.audit_mark()

    noticed = await project.run(full=True)
    again = await project.run(full=True)

    assert project.crm.audit_since(crm_mark) == project.erp.audit_since(erp_mark) == []
    assert sorted(project.crm.records(MAPPED)) == [2, 3] and sorted(project.erp.records(MAPPED)) == [1, 2]
    assert noticed.counts_by_direction is not None
    assert (noticed.counts_by_direction["to_b"].skipped, noticed.counts_by_direction["to_a"].skipped) == (1, 1)
    assert noticed.counts.created == 0
    assert (again.counts.created, again.counts.skipped, again.counts.deleted) == (0, 0, 0)
    pairs = await _pairs(project)
    assert (pairs["1"].gone_from, pairs["2"].gone_from, pairs["3"].gone_from) == ("a", None, "b")


async def test_a_record_made_anew_under_the_key_it_was_deleted_with_is_linked_again(tmp_path: Path, state: str) -> None:
    project = _synced(tmp_path, state)
    await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id = 2")
    project.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 2")
    await project.run()
    project.crm.insert([{"id": 2, "email": "back@crm.se", "phone": "22", "name": "Back", "notes": None}])

    relinked = await project.run()
    project.erp.execute("UPDATE customers SET name = 'From ERP' WHERE customer_no = 2")
    carried = await project.run()

    assert (relinked.status, carried.status) == ("succeeded", "succeeded")
    assert project.crm.records(MAPPED)[2] == project.erp.records(MAPPED)[2]
    assert project.crm.records(["name"])[2] == {"name": "From ERP"}
    assert carried.counts_by_direction is not None and carried.counts_by_direction["to_a"].updated == 1
    assert (await _pairs(project))["2"].gone_from is None


async def test_where_delete_in_names_the_other_side_a_remembered_delete_is_carried_out(
    tmp_path: Path, state: str
) -> None:
    """A pair remembered under ``delete_in: []``, then the sync changed to carry deletes: the next run that looks
    for gone records deletes the record left (it was not edited since)."""
    project = _synced(tmp_path, state)
    await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id = 3")
    await project.run(full=True)
    sync = (project.file.parent / "mappings" / "crm-erp.yaml").read_text(encoding="utf-8")
    project.write_sync(sync.replace("delete_in: []", "delete_in: [b]"))

    run = await project.run()

    assert run.counts_by_direction is not None and run.counts_by_direction["to_b"].deleted == 1
    assert 3 not in project.erp.records(MAPPED)
    assert "3" not in await _pairs(project)
