"""The engine's promises, shown on real SQLite databases (SPEC 3 and 8)."""

from __future__ import annotations

from decimal import Decimal

from app.engine.runner import open_engine
from app.engine.workspace import open_workspace
from app.store import Counts
from tests.engine.conftest import CHILD_SYNC, COMPANIES_SYNC, T0, ProjectFactory, contact, state_rows

T1 = "2024-03-01 12:05:00"


async def test_a_first_run_creates_and_a_second_finds_everything_unchanged(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1, "Ann"), contact(2, "Bo")])

    first = await project.run("contacts")
    project.erp.execute("UPDATE customers SET name = 'edited in the ERP' WHERE customer_no = 1")
    second = await project.run("contacts")

    assert first.status == "succeeded"
    assert first.counts == Counts(read=2, created=2)
    assert second.counts.created == second.counts.updated == 0
    assert second.counts.unchanged == second.counts.read
    # not written again: the edit made in the target stays
    assert project.erp.rows("SELECT name FROM customers WHERE customer_no = 1") == [("edited in the ERP",)]


async def test_one_changed_row_gives_exactly_one_update(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(n) for n in range(1, 6)])
    await project.run("contacts")

    project.crm.execute("UPDATE contacts SET first_name = 'Changed', updated_at = ? WHERE id = 3", T1)
    run = await project.run("contacts")

    assert run.counts.updated == 1 and run.counts.created == 0
    assert project.erp.rows("SELECT customer_no, name FROM customers WHERE name = 'Changed'") == [(3, "Changed")]
    log = await state_rows(project, f"SELECT source_key, action FROM record_log WHERE run_id = {run.id}")
    assert log == [("3", "updated")]


async def test_rows_sharing_a_cursor_value_across_a_batch_boundary_are_all_synced(make_project: ProjectFactory) -> None:
    project = make_project(batch_size=3)
    project.crm.insert("contacts", [contact(n, at=T0) for n in range(1, 8)])

    first = await project.run("contacts")
    project.crm.insert("contacts", [contact(n, at=T1) for n in range(8, 15)])
    second = await project.run("contacts")

    assert first.counts.created == 7
    assert second.counts.created == 7
    assert project.erp.rows("SELECT count(*) FROM customers") == [(14,)]


async def test_a_late_commit_within_lookback_is_picked_up(make_project: ProjectFactory) -> None:
    project = make_project(lookback="2m")
    project.crm.insert("contacts", [contact(1, at=T1)])
    await project.run("contacts")

    # committed after the first run, stamped before its cursor
    project.crm.insert("contacts", [contact(2, at="2024-03-01 12:04:00"), contact(3, at="2024-03-01 11:00:00")])
    run = await project.run("contacts")

    assert run.counts.created == 1
    assert project.erp.rows("SELECT customer_no FROM customers ORDER BY 1") == [(1,), (2,)]


async def test_where_skips_and_logs(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1), contact(2, status="archived")])

    run = await project.run("contacts")

    assert run.counts == Counts(read=2, created=1, skipped=1)
    assert project.erp.rows("SELECT customer_no FROM customers") == [(1,)]
    log = await state_rows(project, f"SELECT source_key, action FROM record_log WHERE run_id = {run.id} ORDER BY id")
    assert ("2", "skipped") in log


async def test_a_bad_record_fails_alone_and_is_written_once_fixed(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1), contact(2, email="   "), contact(3, credit="lots")])

    run = await project.run("contacts")

    assert run.status == "partial"
    assert run.counts == Counts(read=3, created=1, failed=2)
    letters = dict(await state_rows(project, "SELECT source_key, error FROM dead_letters ORDER BY source_key"))
    assert letters == {
        "2": "sync contacts, record 2, field email: required, but 'email' is missing or empty",
        "3": "sync contacts, record 3, field credit: cannot convert 'lots' to decimal",
    }

    project.crm.execute("UPDATE contacts SET email = 'bo@example.com', updated_at = ? WHERE id = 2", T1)
    project.crm.execute("UPDATE contacts SET credit = '12,50', updated_at = ? WHERE id = 3", T1)
    fixed = await project.run("contacts")

    assert fixed.status == "succeeded"
    assert fixed.counts.created == 2
    assert await state_rows(project, "SELECT count(*) FROM dead_letters") == [(0,)]
    assert project.erp.rows("SELECT customer_no, email, credit FROM customers ORDER BY 1") == [
        (1, "person1@example.com", None),
        (2, "bo@example.com", None),
        (3, "person3@example.com", 12.5),
    ]


async def test_dead_letters_are_retried_fresh_from_the_source_then_given_up(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1, email="")])
    await project.run("contacts")  # attempt 1

    for _ in range(3):  # three later runs try again (the default later_runs)
        retried = await project.run("contacts")
        # one record, counted once: the cursor's re-read of the record the retry just dealt with is not a
        # second record (it was "read 2, unchanged 1, failed 1")
        assert retried.counts == Counts(read=1, failed=1)
    given_up = await project.run("contacts")

    # read again (the cursor re-reads its last value) but, unchanged, neither retried nor failed
    assert given_up.counts == Counts(read=1, unchanged=1)
    assert await state_rows(project, "SELECT attempts FROM dead_letters") == [(4,)]

    # fixed in the source without touching its cursor: a retry reads it fresh, by key
    project.crm.execute("UPDATE contacts SET email = 'late@example.com' WHERE id = 1")
    project.write_sync("contacts", (project.file.parent / "mappings" / "contacts.yaml").read_text().replace(
        "retry: {attempts: 2,", "retry: {later_runs: 10, attempts: 2,"))  # fmt: skip
    fixed = await project.run("contacts")
    assert fixed.counts == Counts(read=1, created=1)
    assert project.erp.rows("SELECT email FROM customers") == [("late@example.com",)]


async def test_mirror_deletes_target_records_whose_source_is_gone(make_project: ProjectFactory) -> None:
    project = make_project(mode="mirror")
    project.crm.insert("contacts", [contact(n) for n in range(1, 5)])
    await project.run("contacts")

    project.crm.execute("DELETE FROM contacts WHERE id IN (2, 4)")
    run = await project.run("contacts")

    assert run.counts.deleted == 2
    assert project.erp.rows("SELECT customer_no FROM customers ORDER BY 1") == [(1,), (3,)]
    assert await state_rows(project, "SELECT source_key FROM id_map ORDER BY 1") == [("1",), ("3",)]


async def test_upsert_never_deletes(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1), contact(2)])
    await project.run("contacts")

    project.crm.execute("DELETE FROM contacts WHERE id = 2")
    run = await project.run("contacts", full=True)

    assert run.counts.deleted == 0
    assert project.erp.rows("SELECT count(*) FROM customers") == [(2,)]


async def test_insert_never_updates(make_project: ProjectFactory) -> None:
    project = make_project(mode="insert")
    project.erp.execute("INSERT INTO customers (customer_no, name, email) VALUES (2, 'ERP own', 'erp@example.com')")
    project.crm.insert("contacts", [contact(1), contact(2, at="2024-03-01 11:00:00")])
    await project.run("contacts")

    project.crm.execute("UPDATE contacts SET first_name = 'Changed', updated_at = ? WHERE id = 1", T1)
    run = await project.run("contacts")

    assert run.counts.skipped == 1 and run.counts.updated == 0
    assert project.erp.rows("SELECT customer_no, name FROM customers ORDER BY 1") == [(1, "Ann"), (2, "ERP own")]


async def test_update_never_creates(make_project: ProjectFactory) -> None:
    project = make_project(mode="update")
    project.erp.execute("INSERT INTO customers (customer_no, name, email) VALUES (2, 'old', 'old@example.com')")
    project.crm.insert("contacts", [contact(1), contact(2, "New")])

    run = await project.run("contacts")

    assert run.counts == Counts(read=2, updated=1, skipped=1)
    assert project.erp.rows("SELECT customer_no, name FROM customers") == [(2, "New")]


async def test_a_lookup_resolves_and_a_child_waits_for_its_parent(make_project: ProjectFactory) -> None:
    project = make_project()
    project.write_sync("companies", COMPANIES_SYNC)
    project.write_sync("contacts", CHILD_SYNC)
    project.crm.insert("companies", [{"id": 10, "name": "Berg AB", "updated_at": T0}])
    project.crm.insert("contacts", [contact(1, company=10), contact(2, company=20), contact(3, company=None)])
    await project.run("companies")

    child = await project.run("contacts")

    assert child.counts == Counts(read=3, created=2, failed=1)
    assert await state_rows(project, "SELECT source_key, reason FROM dead_letters") == [("2", "lookup")]
    assert project.erp.rows("SELECT customer_no, account_no FROM customers ORDER BY 1") == [(1, "A10"), (3, None)]

    project.crm.insert("companies", [{"id": 20, "name": "Ek AB", "updated_at": T1}])
    await project.run("companies")
    later = await project.run("contacts")

    assert later.counts.created == 1
    assert project.erp.rows("SELECT account_no FROM customers WHERE customer_no = 2") == [("A20",)]
    assert await state_rows(project, "SELECT count(*) FROM dead_letters") == [(0,)]


async def test_full_reads_everything_and_creates_nothing_twice(make_project: ProjectFactory) -> None:
    project = make_project(batch_size=2)
    project.crm.insert("contacts", [contact(n) for n in range(1, 6)])
    await project.run("contacts")

    run = await project.run("contacts", full=True)

    assert run.counts == Counts(read=5, unchanged=5)
    assert project.erp.rows("SELECT count(*) FROM customers") == [(5,)]


async def test_values_reach_the_target_with_their_types(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1, "Åsa Öberg", credit="12 500,50")])

    await project.run("contacts")

    name, credit = project.erp.rows("SELECT name, credit FROM customers")[0]
    assert name == "Åsa Öberg"
    assert Decimal(str(credit)) == Decimal("12500.5")


async def test_a_discarded_dead_letter_is_left_alone_until_its_record_changes(make_project: ProjectFactory) -> None:
    project = make_project()
    project.crm.insert("contacts", [contact(1, email="")])
    await project.run("contacts")
    workspace = open_workspace(project.file, environ={})
    async with open_engine(workspace) as engine:
        (letter,) = await engine.store.dead_letters("contacts")
        await engine.store.history.discard(letter.id, "dead letter discarded by ops")

    again = await project.run("contacts")  # the cursor re-reads the same, unchanged record

    assert again.counts == Counts(read=1, unchanged=1)
    assert await state_rows(project, "SELECT count(*) FROM dead_letters WHERE discarded_at IS NULL") == [(0,)]

    project.crm.execute("UPDATE contacts SET first_name = 'Changed', updated_at = ? WHERE id = 1", T1)
    changed = await project.run("contacts")  # a new version fails anew: a dead letter again

    assert changed.counts.failed == 1
    assert await state_rows(project, "SELECT attempts, discarded_at IS NULL FROM dead_letters") == [(2, 1)]


async def test_a_discard_after_a_run_logs_into_no_run_so_that_each_runs_counts_and_log_agree(
    make_project: ProjectFactory,
) -> None:
    """The run that failed the record is over: its record log keeps to what it counted. The discard is in the
    record's story all the same, under run 0 (no run)."""
    project = make_project()
    project.crm.insert("contacts", [contact(1, email="")])
    failed = await project.run("contacts")
    workspace = open_workspace(project.file, environ={})
    async with open_engine(workspace) as engine:
        (letter,) = await engine.store.dead_letters("contacts")
        await engine.store.history.discard(letter.id, "dead letter discarded by ops")
        story = await engine.store.history.story("contacts", "1")

    logged = await state_rows(
        project, f"SELECT action, count(*) FROM record_log WHERE run_id = {failed.id} GROUP BY action"
    )
    assert dict(logged) == {"failed": failed.counts.failed}
    assert failed.counts == Counts(read=1, failed=1)
    assert [(entry.run_id, entry.action, entry.error) for entry in story.entries if entry.action == "skipped"] == [
        (0, "skipped", "dead letter discarded by ops")
    ]
