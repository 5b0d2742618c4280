"""Two-way between two REST APIs that each assign their records' keys (issue 19: REST ↔ REST): a seeded
test of random edits on both sides; after every run both sides agree under the mapping, and a second
run sends no write."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo
from tests.connectors.rest.server import ApiServer, ApiState, running_api
from tests.engine.two_way_project import Database

FIELDS = ("email", "phone", "name")
WINNER = {"email": "a", "name": "a", "phone": "b"}
RECORDS = 100
ROUNDS = 5

SYNC = """\
two_way:
  a: crm.people
  b: helpdesk.people
  delete_in: [a, b]
retry: {attempts: 2, backoff: 0s, max_backoff: 0s}
to_b:
  email: email
  phone: phone
  name: name
to_a:
  email: email
  phone: {from: phone, wins: b}
  name: name
"""


def _stream(url: str) -> dict[str, Any]:
    return {
        "connector": "rest",
        "base_url": url,
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
    }


def project_file(root: Path, crm_url: str, helpdesk_url: str) -> Path:
    systems = {"crm": _stream(crm_url), "helpdesk": _stream(helpdesk_url)}
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    (root / "mappings" / "crm-helpdesk.yaml").write_text(SYNC)
    return root / "brygga.yaml"


async def run(path: Path) -> RunInfo:
    async with open_engine(open_workspace(path, environ={})) as engine:
        return await engine.run("crm-helpdesk", RunOptions())


def agree(root: Path, crm: ApiState, helpdesk: ApiState) -> dict[int, int]:
    """Every record on each side is linked to one on the other, holding the same mapped values."""
    rows = Database(root / "state.db", "", "").rows("SELECT source_key, target_key FROM id_map")
    linked = {int(a): int(b) for a, b in rows if b is not None}
    assert set(linked) == set(crm.store) and set(linked.values()) == set(helpdesk.store)
    for a_key, b_key in linked.items():
        assert {name: crm.store[a_key].get(name) for name in FIELDS} == {
            name: helpdesk.store[b_key].get(name) for name in FIELDS
        }, (a_key, b_key)
    return linked


def writes(api: ApiState, since: int) -> list[str]:
    return [seen.method for seen in api.seen[since:] if seen.method in ("POST", "PATCH", "DELETE")]


def new_record(api: ApiState, values: dict[str, Any]) -> int:
    key = next(api.ids)
    api.store[key] = {**values, "id": key}
    return key


async def test_random_edits_between_two_rest_apis_that_assign_keys(
    tmp_path: Path, api_server: ApiServer, api: ApiState
) -> None:
    rng = random.Random(1920)
    with running_api() as helpdesk_server:
        crm, helpdesk = api, helpdesk_server.fresh()
        path = project_file(tmp_path, api_server.url, helpdesk_server.url)
        for n in range(RECORDS):
            new_record(crm, {"email": f"p{n}@crm.se", "phone": f"07{n}", "name": f"P {n}"})
        first = await run(path)
        assert first.status == "succeeded", first.error
        assert first.counts.created == RECORDS
        linked = agree(tmp_path, crm, helpdesk)

        for number in range(ROUNDS):
            expected = {a: {name: crm.store[a].get(name) for name in FIELDS} for a in linked}
            conflicts = 0
            for index, a_key in enumerate(rng.sample(sorted(linked), 20)):
                b_key, value, name = linked[a_key], f"r{number}-{index}", rng.choice(FIELDS)
                kind = index % 4
                if kind == 0:  # one side only
                    side = crm.store[a_key] if rng.random() < 0.5 else helpdesk.store[b_key]
                    side[name] = value
                    expected[a_key][name] = value
                elif kind == 1:  # the same field to different values
                    crm.store[a_key][name], helpdesk.store[b_key][name] = value + "a", value + "b"
                    expected[a_key][name] = value + WINNER[name]
                    conflicts += 1
                elif kind == 2:  # different fields
                    other = rng.choice([field for field in FIELDS if field != name])
                    crm.store[a_key][name], helpdesk.store[b_key][other] = value + "a", value + "b"
                    expected[a_key][name], expected[a_key][other] = value + "a", value + "b"
                else:  # deleted on one side: deleted on the other
                    if rng.random() < 0.5:
                        del crm.store[a_key]
                    else:
                        del helpdesk.store[b_key]
                    del expected[a_key]
            in_crm = new_record(crm, {"email": f"n{number}@crm.se", "phone": "1", "name": "New"})
            new_record(helpdesk, {"email": f"n{number}@helpdesk.se", "phone": "2", "name": "Helpdesk"})
            marks = (len(crm.seen), len(helpdesk.seen))

            result = await run(path)

            assert result.status == "succeeded", result.error
            linked = agree(tmp_path, crm, helpdesk)
            for a_key, values in expected.items():
                assert {name: crm.store[a_key].get(name) for name in FIELDS} == values, f"round {number}: {a_key}"
            assert len(set(crm.store) - set(expected)) == 2 and in_crm in crm.store
            assert result.conflicts == conflicts
            assert writes(crm, marks[0]).count("POST") == writes(helpdesk, marks[1]).count("POST") == 1

            marks = (len(crm.seen), len(helpdesk.seen))
            again = await run(path)
            assert writes(crm, marks[0]) == writes(helpdesk, marks[1]) == [], f"round {number}: a second run wrote"
            assert again.counts.changed == 0
