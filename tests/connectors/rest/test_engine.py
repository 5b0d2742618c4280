"""The connector under the real engine, against the local API: SQLite → REST with assigned keys, and back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import Counts
from tests.connectors.rest.server import ApiState, contacts
from tests.connectors.rest.test_limits import most_in_any_window

WRITE = {
    "create": {"method": "POST", "path": "/w/contacts"},
    "update": {"method": "PATCH", "path": "/w/contacts/{key}"},
    "delete": {"method": "DELETE", "path": "/w/contacts/{key}"},
}


def project(root: Path, api_url: str) -> Path:
    systems = {
        "db": {
            "connector": "sql",
            "url": "sqlite:///db.sqlite",
            "streams": {"people": {"table": "people", "key": "id"}, "copies": {"table": "copies", "key": "id"}},
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
                    "write": WRITE,
                    "match": {"param": "email", "field": "email"},
                },
                "contacts": {
                    "key": "id",
                    "path": "/cursors/contacts",
                    "records": "data",
                    "pagination": {"type": "cursor", "path": "meta.next_cursor"},
                    "incremental": {"cursor": "updated_at", "param": "updated_since"},
                },
            },
        },
    }
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    retry = "retry: {attempts: 1, backoff: 0s, max_backoff: 0s}\n"
    (root / "mappings" / "out.yaml").write_text(
        "source: db.people\ntarget: api.people\nmode: mirror\n" + retry + "fields: {email: email, name: name}\n"
    )
    (root / "mappings" / "in.yaml").write_text(
        "source: api.contacts\ntarget: db.copies\n" + retry + "fields: {id: id, name: name, updated_at: updated_at}\n"
    )
    with sqlite3.connect(root / "db.sqlite") as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        db.executemany("INSERT INTO people VALUES (?, ?, ?)", [(n, f"p{n}@x.se", f"Person {n}") for n in range(1, 6)])
        db.execute("CREATE TABLE copies (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
    db.close()
    return root / "brygga.yaml"


def execute(root: Path, sql: str) -> None:
    with sqlite3.connect(root / "db.sqlite") as db:
        db.execute(sql)
    db.close()


async def run(path: Path, sync: str) -> Any:
    async with open_engine(open_workspace(path, environ={})) as engine:
        return await engine.run(sync, RunOptions())


async def test_sqlite_to_rest_adopts_creates_updates_and_deletes_the_right_records(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    path = project(tmp_path, api_url)
    api.store[77] = {"id": 77, "email": "p2@x.se", "name": "Already there"}

    first = await run(path, "out")
    again = await run(path, "out")
    execute(tmp_path, "UPDATE people SET name = 'Person Three' WHERE id = 3")
    execute(tmp_path, "DELETE FROM people WHERE id = 4")
    changed = await run(path, "out")

    assert (first.status, first.counts) == ("succeeded", Counts(read=5, created=4, updated=1))
    assert (again.status, again.counts) == ("succeeded", Counts(read=5, unchanged=5))
    assert (changed.status, changed.counts) == ("succeeded", Counts(read=4, updated=1, unchanged=3, deleted=1))
    by_email = {row["email"]: row for row in api.store.values()}
    assert sorted(by_email) == ["p1@x.se", "p2@x.se", "p3@x.se", "p5@x.se"]
    assert by_email["p2@x.se"]["id"] == 77 and by_email["p2@x.se"]["name"] == "Person 2"
    assert by_email["p3@x.se"]["name"] == "Person Three"
    assert len(api.requests("/api/w/contacts", "POST")) == 4
    patched = [seen.path for seen in api.seen if seen.method == "PATCH"]
    assert patched[-1] == f"/api/w/contacts/{by_email['p3@x.se']['id']}"


async def test_rest_to_sqlite_reads_incrementally_from_the_cursor_it_stored(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    path = project(tmp_path, api_url)
    api.contacts = contacts(25)
    greatest = max(row["updated_at"] for row in api.contacts)

    first = await run(path, "in")
    second = await run(path, "in")

    assert (first.status, first.counts) == ("succeeded", Counts(read=25, created=25))
    assert second.status == "succeeded" and second.counts.created == 0
    sent = [seen.param("updated_since") for seen in api.requests("/api/cursors/contacts")]
    assert sent[:3] == [None, None, None] and set(sent[3:]) == {greatest}


async def test_a_record_the_api_refuses_with_400_is_dead_lettered_at_once_and_the_others_go_through(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    path = project(tmp_path, api_url)
    execute(tmp_path, "UPDATE people SET email = 'not-an-address' WHERE id = 2")

    async with open_engine(open_workspace(path, environ={})) as engine:
        result = await engine.run("out", RunOptions())
        [letter] = await engine.store.dead_letters("out")

    assert (result.status, result.counts) == ("partial", Counts(read=5, created=4, failed=1))
    assert letter.source_key == "2" and letter.attempts == 1
    assert "400" in letter.error and "email is not valid" in letter.error
    refused = [seen for seen in api.requests("/api/w/contacts", "POST") if b"not-an-address" in seen.body]
    assert len(refused) == 1, "a 400 is not retried"
    assert sorted(row["email"] for row in api.store.values()) == ["p1@x.se", "p3@x.se", "p4@x.se", "p5@x.se"]


async def test_two_syncs_on_one_system_run_together_within_its_rate_limit(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    """Both syncs read the same system at once, through the engine: one budget, counted at the server."""
    path = project(tmp_path, api_url)
    config = json.loads(path.read_text())
    api_system = config["systems"]["api"]
    api_system["rate_limit"] = {"requests": 5, "per": "200ms"}
    api_system["streams"]["paged"] = {
        "key": "id",
        "path": "/pages/contacts",
        "pagination": {"type": "page", "size_param": "size", "size": 10},
    }
    config["systems"]["db"]["streams"]["others"] = {"table": "others", "key": "id"}
    path.write_text(json.dumps(config))
    (tmp_path / "mappings" / "paged.yaml").write_text(
        "source: api.paged\ntarget: db.others\nfields: {id: id, name: name}\n"
    )
    execute(tmp_path, "CREATE TABLE others (id INTEGER PRIMARY KEY, name TEXT)")
    api.contacts = contacts(120)

    async with open_engine(open_workspace(path, environ={})) as engine:
        first, second = await asyncio.gather(engine.run("in", RunOptions()), engine.run("paged", RunOptions()))

    assert (first.counts.created, second.counts.created) == (120, 120)
    paths = {seen.path for seen in api.seen}
    assert paths == {"/api/cursors/contacts", "/api/pages/contacts"}, "both syncs ran"
    arrivals = [seen.at for seen in api.seen]
    assert len(arrivals) >= 25
    assert most_in_any_window(arrivals, 0.2) <= 5


async def test_an_api_ignoring_the_match_filter_never_has_one_customer_written_over_another(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    """Such an API lists every record; one without the match field was adopted, and updated with another
    person's data. Now only the record with the very value is adopted; the others fail alone, saying why."""
    path = project(tmp_path, api_url)
    api.ignore_filter = True
    api.store[70] = {"id": 70, "name": "Stranger without email"}
    api.store[77] = {"id": 77, "email": "p2@x.se", "name": "Already there"}

    async with open_engine(open_workspace(path, environ={})) as engine:
        result = await engine.run("out", RunOptions())
        letters = await engine.store.dead_letters("out")

    assert (result.status, result.counts) == ("partial", Counts(read=5, updated=1, failed=4))
    assert api.store[70] == {"id": 70, "name": "Stranger without email"}
    assert api.store[77]["name"] == "Person 2"
    assert all("without `email`" in letter.error for letter in letters)
    assert api.requests("/api/w/contacts", "POST") == []


async def test_a_record_keyed_by_a_boolean_a_list_or_an_object_fails_alone(
    api: ApiState, api_url: str, tmp_path: Path
) -> None:
    """``{"id": true}`` was the key ``"true"``: one record with the text key ``true`` and one with the boolean were
    one record, and a list's or an object's JSON text became a key no one could correct. Each such record now
    fails alone, saying what its key is; text, integers and whole floats (``7.0`` is ``7``) are keys."""
    path = project(tmp_path, api_url)
    api.contacts = contacts(6)
    for row, key in zip(api.contacts, [1, True, False, [3], {"n": 4}, 7.0], strict=True):
        row["id"] = key

    result = await run(path, "in")

    assert result.status == "partial" and result.counts == Counts(read=6, created=2, failed=4)
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        assert [row[0] for row in db.execute("SELECT id FROM copies ORDER BY id")] == [1, 7]
    db.close()
    async with open_engine(open_workspace(path, environ={})) as engine:
        letters = {letter.source_key: letter.error for letter in await engine.store.dead_letters("in")}
    assert sorted(letters) == ["[3]", "false", "true", '{"n":4}']
    assert "sync in, record true: its key is a boolean (true), not text or a number" in letters["true"]
    assert "its key is a list, not text or a number" in letters["[3]"]
    assert "its key is an object, not text or a number" in letters['{"n":4}']
