"""Two-way: an edit of the field that fills the other side's key (``to_b: {customer_no: erp_no}``).

A linked record's key never changes through the sync: the record on the other side is the one its pair
links. Such an edit was dropped without a word (the rest of the record carried, the key field not). Now the
record fails alone, into the record log and the dead letters, saying which field and what to do, and is
carried again once the field gives the linked key again. Real SQLite databases on both sides, the real engine.
"""

from __future__ import annotations

from pathlib import Path

from tests.engine.two_way_project import TwoWayProject, make_two_way_project

TO_B_KEY = """\
two_way:
  a: crm.contacts
  b: erp.customers
  create_in: [b]
retry: {attempts: 2, backoff: 0s, max_backoff: 0s}
to_b:
  customer_no: erp_no
  email: email
  name: name
to_a:
  erp_no: customer_no
  email: email
  name: name
"""
"""The CRM's contacts hold the ERP's customer number in ``erp_no``."""

TO_A_KEY = """\
two_way:
  a: crm.contacts
  b: erp.customers
  create_in: [a]
retry: {attempts: 2, backoff: 0s, max_backoff: 0s}
to_b:
  crm_id: id
  email: email
  name: name
to_a:
  id: crm_id
  email: email
  name: name
"""
"""The ERP's customers hold the CRM's contact id in ``crm_id``."""


def to_b_keyed(folder: Path) -> TwoWayProject:
    project = make_two_way_project(folder, crm_extra=" erp_no INTEGER,")
    project.write_sync(TO_B_KEY)
    project.crm.insert(
        [{"id": n, "erp_no": 700 + n, "email": f"c{n}@crm.se", "name": f"Crm {n}", "notes": None} for n in (1, 2)]
    )
    return project


def dead_letters(project: TwoWayProject) -> list[tuple[str, str, str, str]]:
    return [
        (key, direction, reason, error)
        for key, direction, reason, error in project.state_rows(
            "SELECT source_key, direction, reason, error FROM dead_letters ORDER BY source_key"
        )
    ]


async def test_an_edit_of_the_field_that_fills_bs_key_fails_alone_saying_why_until_it_is_changed_back(
    tmp_path: Path,
) -> None:
    project = to_b_keyed(tmp_path)
    first = await project.run()
    project.crm.execute("UPDATE contacts SET erp_no = 799, name = 'Renamed' WHERE id = 1")
    project.crm.execute("UPDATE contacts SET name = 'Two' WHERE id = 2")
    project.erp.execute("UPDATE customers SET email = 'erp@erp.se' WHERE customer_no = 701")
    mark = project.erp.audit_mark()

    failed = await project.run()
    still = await project.run()

    assert first.status == "succeeded" and sorted(project.erp.records(["name"])) == [701, 702]
    assert failed.status == still.status == "partial"
    assert failed.counts_by_direction is not None
    assert (failed.counts_by_direction["to_b"].failed, failed.counts_by_direction["to_b"].updated) == (1, 1)
    assert project.erp.audit_since(mark) == [("update", 702, "name,")], "nothing of record 1 is written, no 799"
    assert project.crm.rows("SELECT erp_no, name, email FROM contacts WHERE id = 1") == [
        (799, "Renamed", "c1@crm.se")  # nor is the CRM's record written back over
    ]
    why = (
        "sync crm-erp, crm.contacts record 1: to_b.customer_no (from erp_no) gives 799 now, 701 before, but the "
        "record stays linked with erp.customers record 701: a two-way sync never gives a linked record another "
        "key, so nothing of this record is carried either way until to_b.customer_no gives 701 again. Change it "
        "back in crm.contacts (to link the record with another record of erp.customers, see 'A field that fills "
        "the other side's key' in docs/two-way.md)"
    )
    assert dead_letters(project) == [("1", "to_b", "mapping", why)]
    logged = project.state_rows(
        f"SELECT direction, source_key, target_key, error FROM record_log WHERE run_id = {failed.id} "
        "AND action = 'failed'"
    )
    assert logged == [("to_b", "1", "701", why)]

    project.crm.execute("UPDATE contacts SET erp_no = 701 WHERE id = 1")
    fixed = await project.run()

    assert fixed.status == "succeeded", fixed.error
    assert project.erp.records(["name", "email"])[701] == {"name": "Renamed", "email": "erp@erp.se"}
    assert project.crm.rows("SELECT erp_no, name, email FROM contacts WHERE id = 1") == [(701, "Renamed", "erp@erp.se")]
    assert dead_letters(project) == []


async def test_an_edit_of_the_field_that_fills_as_key_fails_alone_in_its_direction(tmp_path: Path) -> None:
    project = make_two_way_project(tmp_path, erp_extra=" crm_id INTEGER,")
    project.write_sync(TO_A_KEY)
    project.erp.insert([{"customer_no": 100, "crm_id": 5, "email": "e@erp.se", "name": "Erp", "internal": None}])
    created = await project.run()
    project.erp.execute("UPDATE customers SET crm_id = 6, name = 'Moved' WHERE customer_no = 100")

    failed = await project.run()

    assert created.status == "succeeded" and list(project.crm.records(["name"])) == [5]
    assert failed.status == "partial"
    assert project.crm.records(["name"]) == {5: {"name": "Erp"}}
    [(key, direction, reason, error)] = dead_letters(project)
    assert (key, direction, reason) == ("100", "to_a", "mapping")
    assert error.startswith(
        "sync crm-erp, erp.customers record 100: to_a.id (from crm_id) gives 6 now, 5 before, but the record stays "
        "linked with crm.contacts record 5"
    )


async def test_keys_that_differ_from_what_the_mapping_gives_from_the_start_are_no_edit(tmp_path: Path) -> None:
    """A contact born in the CRM as 5 is created in the ERP as 1005, while ``to_a`` (for customers born in
    the ERP) gives a contact the customer's number as its id: 1005, not 5. Only a change of what a block
    gives is an edit: nothing fails, and edits go on being carried."""
    project = make_two_way_project(tmp_path)
    project.write_sync(
        TO_A_KEY.replace("create_in: [a]", "create_in: [a, b]")
        .replace("  crm_id: id\n", '  customer_no: "{{ record.id + 1000 }}"\n')
        .replace("  id: crm_id\n", "  id: customer_no\n")
    )
    project.crm.insert([{"id": 5, "email": "c@crm.se", "name": "Crm", "notes": None}])

    created = await project.run()
    project.crm.execute("UPDATE contacts SET name = 'Renamed' WHERE id = 5")
    edited = await project.run()
    again = await project.run()

    assert [run.status for run in (created, edited, again)] == ["succeeded"] * 3, edited.error
    assert project.erp.records(["name"]) == {1005: {"name": "Renamed"}}
    assert project.crm.records(["name"]) == {5: {"name": "Renamed"}}
    assert edited.counts.updated == 1 and again.counts.changed == 0
    assert dead_letters(project) == []


async def test_a_record_entered_anew_with_the_new_value_moves_and_the_old_ones_dead_letter_goes(
    tmp_path: Path,
) -> None:
    """What the docs tell to do instead: the new record is created in the ERP under its key, the old pair is
    settled as a delete (``delete_in``), and the refused record's dead letter goes with its pair."""
    project = to_b_keyed(tmp_path)
    project.write_sync(TO_B_KEY.replace("create_in: [b]", "create_in: [b]\n  delete_in: [b]"))
    await project.run()
    project.crm.execute("UPDATE contacts SET erp_no = 799 WHERE id = 1")
    refused = await project.run()
    project.crm.execute("DELETE FROM contacts WHERE id = 1")
    project.crm.insert([{"id": 3, "erp_no": 799, "email": "c1@crm.se", "name": "Crm 1", "notes": None}])

    moved = await project.run()

    assert refused.status == "partial" and moved.status == "succeeded", moved.error
    assert sorted(project.erp.records(["name"])) == [702, 799]
    assert dead_letters(project) == []
    assert sorted(project.state_rows("SELECT source_key, target_key FROM id_map")) == [("2", "702"), ("3", "799")]
