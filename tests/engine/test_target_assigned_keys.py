"""Targets that assign keys (REST APIs): records already there are adopted, and a create cut off by a crash
is found rather than sent twice (SPEC 4 `match`, SPEC 8)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from app.config import SystemConfig
from app.engine.connections import Connections
from app.engine.runner import Engine, RunOptions
from app.engine.workspace import open_workspace
from app.records import Record
from app.store import Counts, Store
from connectors.base import Batch, Checkpoint, Connector, StreamInfo, Write, WriteAction, WriteResult

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams: {contacts: {table: contacts, key: id}}
  api:  # the REST config a real one would have; the tests put FakeApi in its place
    connector: rest
    base_url: http://127.0.0.1:9
    streams:
      people:
        path: /people
        key: id
        write: {create: {method: POST, path: /people}, update: {method: PATCH, path: "/people/{key}"}}
"""
SYNC = """\
source: crm.contacts
target: api.people
mode: {mode}
retry: {{attempts: 1, backoff: 0s, max_backoff: 0s}}
fields:
  email: email
  name: name
"""


class Crash(BaseException):
    """The process dying in the middle of a batch (not an error any code handles)."""


class FakeApi(Connector):
    """An API that assigns ids on create and can look people up by email."""

    assigns_keys = True

    def __init__(self, system: SystemConfig, *, matching: bool = True) -> None:
        super().__init__(system)
        self.people: dict[str, Record] = {}
        self.matching = matching
        self.crash_after: int | None = None
        self.creates = 0

    async def check(self) -> None:
        return None

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        return StreamInfo()

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        yield Batch(list(self.people.values()), {})

    def can_match(self, stream: str) -> bool:
        return self.matching

    async def match(self, stream: str, records: Sequence[Record]) -> list[str | None]:
        by_email = {person["email"]: key for key, person in self.people.items()}
        return [by_email.get(record["email"]) for record in records]

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        results = []
        for write in writes:
            if write.action is WriteAction.CREATE:
                if self.crash_after is not None and self.creates >= self.crash_after:
                    raise Crash
                self.creates += 1
                key = f"P{len(self.people) + 1}"
                self.people[key] = {"id": key, **(write.record or {})}
                results.append(WriteResult(key))
            else:
                assert write.target_key in self.people, write
                self.people[write.target_key].update(write.record or {})
                results.append(WriteResult(write.target_key))
        return results


class FakeConnections(Connections):
    def __init__(self, engine_project: Any, api: FakeApi) -> None:
        super().__init__(engine_project)
        self.api = api

    async def get(self, system: str) -> Connector:
        return self.api if system == "api" else await super().get(system)


def _project(tmp_path: Path, mode: str = "upsert", rows: int = 5) -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings" / "people.yaml").write_text(SYNC.format(mode=mode))
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        connection.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        connection.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?)",
            [(n, f"p{n}@example.com", f"Person {n}") for n in range(1, rows + 1)],
        )
    connection.close()
    return tmp_path / "brygga.yaml"


async def _run(project: Path, api: FakeApi) -> Any:
    workspace = open_workspace(project, environ={})
    store = await Store.open(workspace.project.settings.state, workspace.project.root)
    api.system = workspace.project.systems["api"]
    engine = Engine(workspace, store, FakeConnections(workspace.project, api))
    try:
        return await engine.run("people", RunOptions())
    finally:
        await engine.connections.close()
        await store.close()


def _api(project: Path, **options: Any) -> FakeApi:
    workspace = open_workspace(project, environ={})
    return FakeApi(workspace.project.systems["api"], **options)


async def test_records_already_in_the_target_are_adopted_not_created_twice(tmp_path: Path) -> None:
    project = _project(tmp_path)
    api = _api(project)
    api.people = {"X1": {"id": "X1", "email": "p2@example.com", "name": "Old"}}

    first = await _run(project, api)
    second = await _run(project, api)

    assert first.counts == Counts(read=5, created=4, updated=1)
    assert sorted(person["email"] for person in api.people.values()) == [f"p{n}@example.com" for n in range(1, 6)]
    assert api.people["X1"]["name"] == "Person 2"
    assert second.counts == Counts(read=5, unchanged=5)


async def test_a_create_cut_off_by_a_crash_is_found_not_sent_again(tmp_path: Path) -> None:
    project = _project(tmp_path)
    api = _api(project)
    api.crash_after = 3

    with pytest.raises(Crash):
        await _run(project, api)
    assert len(api.people) == 3  # three sent; none recorded as written
    state = sqlite3.connect(tmp_path / "state.db")
    try:  # the intent to create each, recorded before anything was sent
        intents = state.execute("SELECT count(*) FROM id_map WHERE target_key IS NULL").fetchone()
    finally:
        state.close()
    assert intents == (5,)

    api.crash_after = None
    again = await _run(project, api)

    assert len(api.people) == 5
    assert sorted(person["email"] for person in api.people.values()) == [f"p{n}@example.com" for n in range(1, 6)]
    assert again.counts.created == 2 and again.counts.updated == 3


async def test_update_mode_updates_only_what_match_finds(tmp_path: Path) -> None:
    project = _project(tmp_path, mode="update")
    api = _api(project)
    api.people = {"X1": {"id": "X1", "email": "p1@example.com", "name": "Old"}}

    run = await _run(project, api)

    assert run.counts == Counts(read=5, updated=1, skipped=4)
    assert list(api.people) == ["X1"]


async def test_insert_mode_leaves_what_match_finds(tmp_path: Path) -> None:
    project = _project(tmp_path, mode="insert")
    api = _api(project)
    api.people = {"X1": {"id": "X1", "email": "p1@example.com", "name": "Old"}}

    run = await _run(project, api)

    assert run.counts == Counts(read=5, created=4, skipped=1)
    assert api.people["X1"]["name"] == "Old"


async def test_without_match_a_new_sync_creates_everything(tmp_path: Path) -> None:
    project = _project(tmp_path)
    api = _api(project, matching=False)

    run = await _run(project, api)

    assert run.counts == Counts(read=5, created=5)
