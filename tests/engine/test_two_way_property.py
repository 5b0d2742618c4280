"""A seeded property test of two-way syncs (issue 19, must show 1), SQLite ↔ SQLite.

500 linked records, then 20 rounds; in each, random edits on both sides (one side only, different
fields on each, the same field to different values and to the same value, creates on either side,
deletes on either side), then one run. After every round both sides agree with a model of what the
rules say; every conflict was settled by its rule and logged once; what the run wrote is exactly what
changed (an audit trigger on each side sees every row written, and which columns changed); and a
second run writes nothing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from tests.engine.two_way_project import Database, TwoWayProject, make_two_way_project

FIELDS = ("email", "phone", "name")
WINNER = {"email": "a", "name": "a", "phone": "b"}
"""The sync's ``wins: a``, and ``phone``'s own ``wins: b``."""
RECORDS = 500
ROUNDS = 20


class Model:
    """What both sides must hold, by key, after each run."""

    def __init__(self) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.conflicts = 0


def edit(database: Database, key: int, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{name} = ?" for name in values)
    database.execute(f"UPDATE {database.table} SET {sets} WHERE {database.key} = ?", *values.values(), key)


def random_round(rng: random.Random, project: TwoWayProject, model: Model, number: int) -> None:
    """Edit both sides at random, and tell the model what the next run must make of it."""
    model.conflicts = 0
    keys = rng.sample(sorted(model.records), 60)
    for index, key in enumerate(keys):
        kind = index % 6
        value = f"r{number}-{index}"
        if kind == 0:  # one side only
            name = rng.choice(FIELDS)
            database = rng.choice((project.crm, project.erp))
            edit(database, key, {name: value})
            model.records[key][name] = value
        elif kind == 1:  # different fields on each side
            first, second = rng.sample(FIELDS, 2)
            edit(project.crm, key, {first: value + "a"})
            edit(project.erp, key, {second: value + "b"})
            model.records[key][first], model.records[key][second] = value + "a", value + "b"
        elif kind == 2:  # the same field to different values: a conflict, settled by the field's rule
            name = rng.choice(FIELDS)
            edit(project.crm, key, {name: value + "a"})
            edit(project.erp, key, {name: value + "b"})
            model.records[key][name] = value + WINNER[name]
            model.conflicts += 1
        elif kind == 3:  # the same field to the same value: nothing to settle
            name = rng.choice(FIELDS)
            edit(project.crm, key, {name: value})
            edit(project.erp, key, {name: value})
            model.records[key][name] = value
        elif kind == 4:  # deleted on one side: deleted on the other (delete_in: [a, b])
            database = rng.choice((project.crm, project.erp))
            database.execute(f"DELETE FROM {database.table} WHERE {database.key} = ?", key)
            del model.records[key]
        else:  # an unmapped field: no business of the sync
            edit(project.crm, key, {"notes": value})
            edit(project.erp, key, {"internal": value})
    for side, database in enumerate((project.crm, project.erp)):
        key = 10_000 + number * 10 + side
        values = {"email": f"new{key}@x.se", "phone": str(key), "name": f"New {key}"}
        database.insert([{database.key: key, **values}])
        model.records[key] = values


def rows_changed(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]) -> set[int]:
    """Keys whose mapped values differ, or that came or went."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def written_keys(audit: list[tuple[str, int, str]]) -> set[int]:
    return {key for _, key, _ in audit}


async def test_random_edits_on_both_sides_settle_to_what_the_rules_say(tmp_path: Path) -> None:
    rng = random.Random(19)
    project = make_two_way_project(tmp_path, delete_in="[a, b]", batch_size=200)
    model = Model()
    rows: list[dict[str, Any]] = [
        {"id": n, "email": f"p{n}@crm.se", "phone": f"07{n}", "name": f"Person {n}"} for n in range(RECORDS)
    ]
    project.crm.insert(rows)
    model.records = {row["id"]: {name: row[name] for name in FIELDS} for row in rows}
    assert (await project.run()).counts.created == RECORDS

    for number in range(ROUNDS):
        random_round(rng, project, model, number)
        before = {"crm": project.crm.records(list(FIELDS)), "erp": project.erp.records(list(FIELDS))}
        marks = {"crm": project.crm.audit_mark(), "erp": project.erp.audit_mark()}

        run = await project.run()

        assert run.status == "succeeded", run.error
        crm, erp = project.crm.records(list(FIELDS)), project.erp.records(list(FIELDS))
        assert crm == model.records, f"round {number}: the CRM is not what the rules say"
        assert erp == model.records, f"round {number}: the ERP is not what the rules say"
        assert run.conflicts == model.conflicts
        logged = project.state_rows(f"SELECT detail FROM record_log WHERE run_id = {run.id} AND action = 'conflict'")
        assert len(logged) == model.conflicts
        assert all(json.loads(detail)["winner"] == WINNER[json.loads(detail)["field"]] for (detail,) in logged)
        for name, database, now in (("crm", project.crm, crm), ("erp", project.erp, erp)):
            audit = database.audit_since(marks[name])
            assert written_keys(audit) == rows_changed(before[name], now), f"round {number}: {name} wrote too much"
            assert len(audit) == len(written_keys(audit)), f"round {number}: {name}: a record written twice"
            changed = {column for action, _, columns in audit if action == "update" for column in columns.split(",")}
            assert changed <= {"", *FIELDS}, f"round {number}: {name}: an unmapped column was written"
            assert all(columns for action, _, columns in audit if action == "update"), "a write that changed nothing"
        assert run.counts_by_direction is not None
        writes = sum(c.created + c.updated + c.deleted for c in run.counts_by_direction.values())
        assert writes == len(rows_changed(before["crm"], crm)) + len(rows_changed(before["erp"], erp))

        marks = {"crm": project.crm.audit_mark(), "erp": project.erp.audit_mark()}
        again = await project.run()
        assert project.crm.audit_since(marks["crm"]) == project.erp.audit_since(marks["erp"]) == []
        assert again.counts.changed == 0 and again.conflicts == 0
