"""A seeded property test of two-way syncs between SQLite and the local REST API, whose keys the API assigns
itself (issue 19, must show 1, second half): creates on either side are linked through the ID map (and
``match``), edits and conflicts settle as the rules say, only changed fields are sent, and a second run
sends no write. 500 linked records, 20 rounds of 60 edits, as over SQLite ↔ SQLite."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo
from tests.cli.helpers import BRYGGA
from tests.connectors.rest.server import ApiServer, ApiState
from tests.engine.two_way_project import CRM_COLUMNS, Database, _table_sql

FIELDS = ("email", "phone", "name")
WINNER = {"email": "a", "name": "a", "phone": "b"}
RECORDS = 500
ROUNDS = 20
EDITS = 60
"""Records edited in each round, as in the SQLite ↔ SQLite test."""

SYNC = """\
two_way:
  a: crm.contacts
  b: api.people
  delete_in: [a, b]
retry: {attempts: 2, backoff: 0s, max_backoff: 0s}
to_b:
  email: email
  phone: phone
  name: name
to_a:
  id: id
  email: email
  phone: {from: phone, wins: b}
  name: name
"""


REVERSED = """\
two_way:
  a: api.people
  b: crm.contacts
retry: {attempts: 2, backoff: 0s, max_backoff: 0s}
to_b:
  id: id
  email: email
  phone: phone
  name: name
to_a:
  email: email
  phone: phone
  name: name
"""
"""The API as side a: records new in the CRM are created in a, which assigns their keys."""


def project_file(root: Path, api_url: str, sync: str = SYNC) -> Path:
    systems = {
        "crm": {
            "connector": "sql",
            "url": "sqlite:///crm.db",
            "streams": {"contacts": {"table": "contacts", "key": "id", "cursor": "updated_at", "delete": "hard"}},
        },
        "api": {
            "connector": "rest",
            "base_url": api_url,
            "streams": {
                "people": {
                    "key": "id",
                    "path": "/w/contacts",
                    "records": "data",
                    "get": {"path": "/w/contacts/{key}"},
                    "write": {
                        "create": {"method": "POST", "path": "/w/contacts"},
                        "update": {"method": "PATCH", "path": "/w/contacts/{key}"},
                        "delete": {"method": "DELETE", "path": "/w/contacts/{key}"},
                    },
                    "match": {"param": "email", "field": "email"},
                }
            },
        },
    }
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    (root / "mappings" / "crm-api.yaml").write_text(sync)
    connection = sqlite3.connect(root / "crm.db")
    connection.executescript(_table_sql("contacts", "id", CRM_COLUMNS, "updated_at"))
    connection.close()
    return root / "brygga.yaml"


async def run(path: Path) -> RunInfo:
    async with open_engine(open_workspace(path, environ={})) as engine:
        return await engine.run("crm-api", RunOptions())


def links(root: Path) -> dict[int, int]:
    """a's key → b's key, from the ID map."""
    rows = Database(root / "state.db", "", "").rows("SELECT source_key, target_key FROM id_map")
    return {int(a): int(b) for a, b in rows if b is not None}


def agree(root: Path, crm: Database, api: ApiState) -> dict[int, int]:
    """Every record on each side is linked to one on the other, holding the same mapped values."""
    linked = links(root)
    crm_records = crm.records(list(FIELDS))
    assert set(linked) == set(crm_records)
    assert set(linked.values()) == set(api.store)
    for a_key, b_key in linked.items():
        assert crm_records[a_key] == {name: api.store[b_key].get(name) for name in FIELDS}, (a_key, b_key)
    return linked


def writes(api: ApiState, since: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of every write the API took since request ``since``."""
    return [
        (seen.method, seen.path, json.loads(seen.body) if seen.body else {})
        for seen in api.seen[since:]
        if seen.method in ("POST", "PATCH", "DELETE")
    ]


async def test_random_edits_between_sql_and_a_rest_api_that_assigns_keys(
    tmp_path: Path, api_server: ApiServer, api: ApiState
) -> None:
    rng = random.Random(1919)
    path = project_file(tmp_path, api_server.url)
    crm = Database(tmp_path / "crm.db", "contacts", "id")
    crm.insert([{"id": n, "email": f"p{n}@crm.se", "phone": f"07{n}", "name": f"P {n}"} for n in range(RECORDS)])
    first = await run(path)
    assert first.status == "succeeded", first.error
    assert first.counts.created == RECORDS
    linked = agree(tmp_path, crm, api)

    for number in range(ROUNDS):
        now = crm.records(list(FIELDS))
        expected = {a: now[a] for a in linked}
        conflicts = 0
        for index, a_key in enumerate(rng.sample(sorted(linked), EDITS)):
            b_key, value, kind = linked[a_key], f"r{number}-{index}", index % 4
            name = rng.choice(FIELDS)
            if kind == 0:  # one side only
                if rng.random() < 0.5:
                    crm.execute(f"UPDATE contacts SET {name} = ? WHERE id = ?", value, a_key)
                else:
                    api.store[b_key][name] = value
                expected[a_key][name] = value
            elif kind == 1:  # the same field to different values
                crm.execute(f"UPDATE contacts SET {name} = ? WHERE id = ?", value + "a", a_key)
                api.store[b_key][name] = value + "b"
                expected[a_key][name] = value + WINNER[name]
                conflicts += 1
            elif kind == 2:  # different fields
                other = rng.choice([field for field in FIELDS if field != name])
                crm.execute(f"UPDATE contacts SET {name} = ? WHERE id = ?", value + "a", a_key)
                api.store[b_key][other] = value + "b"
                expected[a_key][name], expected[a_key][other] = value + "a", value + "b"
            elif rng.random() < 0.5:  # deleted on one side: deleted on the other
                crm.execute("DELETE FROM contacts WHERE id = ?", a_key)
                del expected[a_key]
            else:
                del api.store[b_key]
                del expected[a_key]
        new_in_crm = 10_000 + number
        crm.insert([{"id": new_in_crm, "email": f"n{new_in_crm}@crm.se", "phone": "1", "name": "New"}])
        new_in_api = next(api.ids)
        api.store[new_in_api] = {"id": new_in_api, "email": f"n{new_in_api}@api.se", "phone": "2", "name": "Api"}
        since = len(api.seen)

        result = await run(path)

        assert result.status == "succeeded", result.error
        linked = agree(tmp_path, crm, api)
        crm_records = crm.records(list(FIELDS))
        for a_key, values in expected.items():
            assert crm_records[a_key] == values, f"round {number}: record {a_key}"
        assert set(crm_records) - set(expected) == {new_in_crm, new_in_api}
        assert result.conflicts == conflicts
        sent = writes(api, since)
        assert [method for method, _, _ in sent].count("POST") == 1, "one create into the API, once"
        for method, _, body in sent:
            assert set(body) <= set(FIELDS), f"round {number}: {method} sent an unmapped field"
            assert method != "PATCH" or body, "an update that changed nothing"

        since = len(api.seen)
        again = await run(path)
        assert writes(api, since) == [], f"round {number}: a second run wrote"
        by_key = [seen for seen in api.seen[since:] if seen.method == "GET" and seen.path != "/api/w/contacts"]
        assert by_key == [], "records read whole in this run are not asked for again one by one"
        assert again.counts.changed == 0


def _kill_while_creating_then_rerun(
    tmp_path: Path, api: ApiState, path: Path, rows: int
) -> tuple[Database, subprocess.CompletedProcess[str]]:
    """A CRM of ``rows`` contacts, a ``brygga run`` killed (SIGKILL) once the API holds 300 of them, then a
    rerun to its end: the CRM and the rerun's outcome."""
    crm = Database(tmp_path / "crm.db", "contacts", "id")
    crm.insert([{"id": n, "email": f"p{n}@crm.se", "phone": "0", "name": f"P {n}"} for n in range(rows)])
    command = [str(BRYGGA), "run", "crm-api", "-c", str(path)]

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(api.store) < 300 and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    assert 300 <= len(api.store) < rows, "the run must be killed in the middle of its creates"
    return crm, subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_killed_run_creating_in_the_api_then_a_rerun_creates_each_record_once(
    tmp_path: Path, api_server: ApiServer, api: ApiState
) -> None:
    """SIGKILL while a two-way run creates records in an API that assigns keys, then a rerun: each
    create cut off is found (``match``) rather than sent again (issue 19, must show 3)."""
    rows = 1_500
    crm, again = _kill_while_creating_then_rerun(tmp_path, api, project_file(tmp_path, api_server.url), rows)

    assert again.returncode == 0, again.stdout + again.stderr
    emails = [person["email"] for person in api.store.values()]
    assert len(emails) == len(set(emails)) == rows, "a record created twice, or not at all"
    linked = agree(tmp_path, crm, api)
    assert len(linked) == rows


def test_a_killed_run_creating_in_side_a_that_assigns_keys_then_a_rerun_creates_each_record_once(
    tmp_path: Path, api_server: ApiServer, api: ApiState
) -> None:
    """The same, the API being side a: a create into a cut off by the kill comes back as a record new in a,
    and is linked to the CRM record it was made from (``match``) rather than copied back into the CRM."""
    rows = 1_500
    path = project_file(tmp_path, api_server.url, REVERSED)
    crm, again = _kill_while_creating_then_rerun(tmp_path, api, path, rows)

    assert again.returncode == 0, again.stdout + again.stderr
    emails = [person["email"] for person in api.store.values()]
    assert len(emails) == len(set(emails)) == rows, "a record created twice in the API, or not at all"
    assert len(crm.records(list(FIELDS))) == rows, "a record copied back into the CRM"
    pairs = Database(tmp_path / "state.db", "", "").rows("SELECT source_key, target_key FROM id_map")
    assert len(pairs) == len({b for _, b in pairs}) == rows


async def test_the_same_person_new_on_both_sides_is_linked_by_match_not_created_twice(
    tmp_path: Path, api_server: ApiServer, api: ApiState
) -> None:
    path = project_file(tmp_path, api_server.url)
    crm = Database(tmp_path / "crm.db", "contacts", "id")
    crm.insert([{"id": 1, "email": "ann@x.se", "phone": "1", "name": "Ann"}])
    key = next(api.ids)
    api.store[key] = {"id": key, "email": "ann@x.se", "phone": "2", "name": "Ann B"}

    result = await run(path)

    assert result.status == "succeeded", result.error
    assert len(api.store) == 1 and len(crm.records(list(FIELDS))) == 1
    assert links(tmp_path) == {1: key}
    assert api.store[key]["phone"] == "2" and crm.records(list(FIELDS))[1]["phone"] == "2"  # phone: b wins
    assert crm.records(list(FIELDS))[1]["name"] == api.store[key]["name"] == "Ann"  # the sync's wins: a


async def test_a_record_entered_anew_after_a_delete_not_carried_takes_the_place_of_its_old_self_by_match(
    tmp_path: Path, api_server: ApiServer, api: ApiState
) -> None:
    """Deleted in the CRM (``delete_in: []``: the API's record stays, its pair remembered as gone from a), then
    entered in the CRM again under a new key: ``match`` finds the API's record, and the new contact is linked
    with it rather than created in the API a second time (a pair remembered so held the API's record)."""
    path = project_file(tmp_path, api_server.url, SYNC.replace("delete_in: [a, b]", "delete_in: []"))
    crm = Database(tmp_path / "crm.db", "contacts", "id")
    crm.insert([{"id": 1, "email": "ann@x.se", "phone": "1", "name": "Ann"}])
    await run(path)
    [key] = api.store
    crm.execute("DELETE FROM contacts WHERE id = 1")
    async with open_engine(open_workspace(path, environ={})) as engine:
        noticed = await engine.run("crm-api", RunOptions(full=True))
    crm.insert([{"id": 5, "email": "ann@x.se", "phone": "1", "name": "Ann again"}])

    result = await run(path)

    assert (noticed.status, result.status) == ("succeeded", "succeeded"), result.error
    assert list(api.store) == [key], "created in the API a second time"
    assert links(tmp_path) == {5: key}
    assert api.store[key]["name"] == "Ann again"
