"""A third-party connector's mistakes fail what met them, naming the connector: never the ID map, the
service, or the other records of a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import record_checks
from app.config import RetryPolicy
from app.engine.by_key import records_by_key
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from tests.engine.buggy_kind import BuggyConnector, buggy_kind

__all__ = ["buggy_kind"]  # the fixture, used by name

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  src:
    connector: buggy
    streams: {{people: {{key: id, bug: "{read}"}}}}
  tgt:
    connector: buggy
    streams: {{people: {{key: id, bug: "{write}"}}}}
"""


def _project(tmp_path: Path, read: str = "none", write: str = "none", mode: str = "upsert") -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT.format(read=read, write=write))
    mapping = f"source: src.people\ntarget: tgt.people\nmode: {mode}\nfields: {{id: id, name: name}}\n"
    (tmp_path / "mappings" / "people.yaml").write_text(mapping)
    return tmp_path / "brygga.yaml"


async def test_results_out_of_order_fail_their_records_and_leave_the_id_map_right(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    async with open_engine(open_workspace(_project(tmp_path), environ={})) as engine:
        first = await engine.run("people", RunOptions())
        buggy_kind.bugs["people"] = "reversed"
        buggy_kind.records = [{"id": number, "name": f"new{number}"} for number in range(1, 6)]
        second = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])
        letters = await engine.store.dead_letters("people")

    assert (first.status, first.counts.created) == ("succeeded", 5)
    assert (second.status, second.counts.updated, second.counts.failed) == ("partial", 1, 4)
    assert {key: row.target_key for key, row in id_map.items()} == {str(n): str(n) for n in range(1, 6)}
    assert sorted(letter.source_key for letter in letters) == ["1", "2", "4", "5"]
    assert "the buggy connector of system 'tgt' answered with the result of record 5" in letters[0].error


async def test_new_records_answered_out_of_order_are_not_mapped(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, write="reversed"), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])

    assert (run.status, run.counts.created, run.counts.failed) == ("partial", 1, 4)
    assert {key: row.target_key for key, row in id_map.items() if row.target_key} == {"3": "3"}


async def test_new_records_answered_with_their_keys_in_the_systems_own_form_are_mapped(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    """Not results out of order (no other write of the batch asked for such a key): an API that keeps ``042``
    as ``42``, or an address in lower case, answers a create with the key as it keeps it."""
    async with open_engine(open_workspace(_project(tmp_path, write="own form"), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])

    assert (run.status, run.counts.created) == ("succeeded", 5)
    assert {key: row.target_key for key, row in id_map.items()} == {str(n): f"P-{n}" for n in range(1, 6)}


@pytest.mark.parametrize(("bug", "answer"), [("fewer", "with 4 results"), ("more", "with 6 results")])
async def test_a_write_answered_with_too_few_or_many_results_fails_the_run_recording_nothing(
    tmp_path: Path, buggy_kind: type[BuggyConnector], bug: str, answer: str
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, write=bug), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])
        checkpoint = await engine.store.checkpoint("people")

    assert run.status == "failed"
    assert run.error is not None
    assert f"the buggy connector of system 'tgt' answered 5 writes to stream 'people' {answer}" in run.error
    assert (id_map, checkpoint, run.counts.created) == ({}, None, 0)


@pytest.mark.parametrize("bug", ["KeyboardInterrupt", "SystemExit", "exit 0"])
async def test_a_read_raising_what_ends_a_process_fails_its_run_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector], bug: str
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, read=bug), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        buggy_kind.bugs["people"] = "none"
        after = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert "the buggy connector of system 'src' raised" in run.error
    assert "while reading stream 'people'" in run.error
    assert (after.status, after.counts.created) == ("succeeded", 5)


async def test_a_write_raising_keyboard_interrupt_fails_its_run_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, write="KeyboardInterrupt"), environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert "the buggy connector of system 'tgt' raised KeyboardInterrupt('pressed by a connector')" in run.error


async def test_a_value_read_that_is_not_a_record_fails_alone(tmp_path: Path, buggy_kind: type[BuggyConnector]) -> None:
    buggy_kind.records = [{"id": 1, "name": "a"}, 7, None, {"id": 2, "name": "b"}]
    async with open_engine(open_workspace(_project(tmp_path), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        letters = await engine.store.dead_letters("people")

    assert (run.status, run.counts.created, run.counts.failed) == ("partial", 2, 2)
    assert sorted(buggy_kind.held["people"]) == ["1", "2"]
    errors = sorted(letter.error for letter in letters)
    assert "the buggy connector of system 'src' read 7 from stream 'people', a int, not a record" in errors[0]


async def test_a_read_yielding_a_list_not_a_batch_fails_naming_the_connector(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, read="a list"), environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert "the buggy connector of system 'src' read stream 'people' as list, not as Batch(records, checkpoint)" in (
        run.error
    )


async def test_an_upsert_into_a_target_that_cannot_look_records_up_writes_them(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, write="no get"), environ={})) as engine:
        first = await engine.run("people", RunOptions())
        buggy_kind.records = [{"id": number, "name": f"new{number}"} for number in range(1, 6)]
        second = await engine.run("people", RunOptions())

    assert (first.status, first.counts.created) == ("succeeded", 5)
    assert (second.status, second.counts.updated) == ("succeeded", 5)
    assert buggy_kind.held["people"]["1"] == {"id": 1, "name": "new1"}


@pytest.mark.parametrize(("mode", "never"), [("insert", "updates"), ("update", "creates")])
async def test_insert_or_update_into_a_target_that_cannot_look_records_up_says_what_it_lacks(
    tmp_path: Path, buggy_kind: type[BuggyConnector], mode: str, never: str
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, write="no get", mode=mode), environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error == (
        "sync people: the buggy connector of system 'tgt' cannot look records up by key (it has no `get`), so a "
        f"sync in {mode} mode, which never {never}, cannot tell which records tgt.people holds: use mode upsert, "
        "or a connector that can look records up"
    )
    assert "people" not in buggy_kind.held


async def test_a_look_up_raising_keyboard_interrupt_fails_its_run_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, write="get KeyboardInterrupt"), environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert "the buggy connector of system 'tgt' raised KeyboardInterrupt('pressed by a connector') while looking" in (
        run.error
    )


async def test_new_records_given_one_key_by_a_system_that_assigns_keys_are_not_mapped(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    project = _project(tmp_path, write="one key")
    project.write_text(project.read_text().replace("tgt:\n    connector: buggy", "tgt:\n    connector: buggy-api"))
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])

    assert (run.status, run.counts.created, run.counts.failed) == ("partial", 0, 5)
    assert [row.target_key for row in id_map.values()] == [None] * 5


async def test_a_value_read_that_cannot_be_shown_still_fails_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    buggy_kind.records = [10**5000, {"id": 1, "name": "a"}]
    async with open_engine(open_workspace(_project(tmp_path), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        letters = await engine.store.dead_letters("people")

    assert (run.status, run.counts.created, run.counts.failed) == ("partial", 1, 1)
    assert "read a int that cannot be shown from stream 'people'" in letters[0].error


async def test_new_records_answered_with_keys_no_id_map_can_keep_fail_alone_saying_they_were_likely_written(
    tmp_path: Path, buggy_kind: type[BuggyConnector], state: str
) -> None:
    """Only "is it text" was checked: a key that is empty, holds a NUL byte or a lone surrogate, or is
    thousands of characters long was stored as the record's target key (on PostgreSQL a key that long
    failed the whole batch's store write: no index row holds it)."""
    project = _project(tmp_path, write="unfit keys")
    text = project.read_text().replace("state: sqlite:///state.db", f"state: {state}")
    project.write_text(text.replace("tgt:\n    connector: buggy", "tgt:\n    connector: buggy-api"))
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])
        letters = {letter.source_key: letter.error for letter in await engine.store.dead_letters("people")}

    assert (run.status, run.counts.created, run.counts.failed) == ("partial", 1, 4)
    assert id_map["5"].target_key == "ok"
    assert [id_map[key].target_key for key in "1234"] == [None] * 4
    assert sorted(letters) == ["1", "2", "3", "4"]
    for error in letters.values():
        assert error.startswith("the buggy-api connector of system 'tgt' answered the create of a new record")
        assert "though it was likely written; look for it in the target before retrying" in error
    assert "which is empty" in letters["1"]
    assert "which holds a NUL byte" in letters["2"]
    assert "which holds text that is not valid Unicode" in letters["3"]
    assert "which is 5,120 bytes long" in letters["4"]


async def test_keys_match_found_that_no_id_map_can_keep_are_not_adopted(
    tmp_path: Path, buggy_kind: type[BuggyConnector], caplog: pytest.LogCaptureFixture
) -> None:
    """They were adopted as they were: an empty key, a NUL byte or an int became the record's target key, and
    the record was updated by it."""
    project = _project(tmp_path, write="match unfit")
    project.write_text(project.read_text().replace("tgt:\n    connector: buggy", "tgt:\n    connector: buggy-api"))
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("people", RunOptions())
        id_map = await engine.store.id_map("people", ["1", "2", "3", "4", "5"])

    assert (run.status, run.counts.created, run.counts.updated) == ("succeeded", 4, 1)
    assert {key: row.target_key for key, row in id_map.items()} == {
        "1": "1",
        "2": "2",
        "3": "3",
        "4": "4",
        "5": "held-5",
    }
    assert "found a record of stream 'people' by match whose key '' is empty: it is not adopted" in caplog.text
    assert "whose key is 7, not text" in caplog.text


async def test_a_match_answered_with_too_few_keys_fails_the_run_naming_the_connector(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    project = _project(tmp_path, write="match fewer")
    project.write_text(project.read_text().replace("tgt:\n    connector: buggy", "tgt:\n    connector: buggy-api"))
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed" and run.error is not None
    assert "the buggy-api connector of system 'tgt' answered a look-up (match) of 5 records" in run.error
    assert "with 4 keys" in run.error


def _held_many_times_over(levels: int, width: int) -> list[Any]:
    """A list ``width`` items wide, each the same list, ``levels`` deep: ``width ** levels`` numbers written out."""
    shared: list[Any] = [1] * width
    for _ in range(levels - 1):
        shared = [shared] * width
    return shared


@pytest.mark.parametrize("field", ["id", "tags"], ids=["in-its-key", "in-a-field"])
async def test_a_record_holding_one_list_many_times_over_fails_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector], monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    """A record a few lists in memory, yet billions of values written out (a list held in it many times over,
    as a YAML or pickle parser of a connector's makes from aliases) was hashed, its key written and its dead
    letter kept in full, in C, for hours: now it fails alone at once, and the other records go on."""
    monkeypatch.setattr(record_checks, "MAX_WRITTEN", 10_000)  # 1,000,000 numbers below: a moment without the check
    shared = _held_many_times_over(levels=3, width=100)
    hostile = {"id": shared, "name": "x"} if field == "id" else {"id": 3, "name": "x", "tags": shared}
    buggy_kind.records = [{"id": 1, "name": "a"}, hostile, {"id": 2, "name": "b"}]
    async with open_engine(open_workspace(_project(tmp_path), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        letters = await engine.store.dead_letters("people")

    assert (run.status, run.counts.created, run.counts.failed) == ("partial", 2, 1)
    assert sorted(buggy_kind.held["people"]) == ["1", "2"]
    assert "comes to 1,01" in letters[0].error
    assert "the most is 10,000" in letters[0].error


async def test_a_record_looked_up_by_key_is_checked_as_a_read_one_is(
    tmp_path: Path, buggy_kind: type[BuggyConnector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead letter retried reads its record again by key (``get``): a record there holding one list many times
    over went unchecked (only read records were), and was hashed and written in full. Now the look-up's answer
    is checked as a read's is: that key counts as refused by the source (its kept copy is retried, and fails as
    before), and a webhook's fetch of it fails that record alone, saying why."""
    monkeypatch.setattr(record_checks, "MAX_WRITTEN", 10_000)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(
        "version: 1\nstate: sqlite:///state.db\nsystems:\n"
        "  src: {connector: buggy, streams: {people: {key: id}}}\n"
        "  tgt: {connector: buggy, streams: {copies: {key: id}}}\n"
    )
    (tmp_path / "mappings" / "people.yaml").write_text(
        "source: src.people\ntarget: tgt.copies\nretry: {attempts: 1, backoff: 0s, max_backoff: 0s}\n"
        "fields: {id: id, name: {from: name, required: true}, tags: tags}\n"
    )
    buggy_kind.records = [{"id": 1, "name": "a"}, {"id": 2}]  # 2 has no name: a dead letter
    async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
        first = await engine.run("people", RunOptions())
        buggy_kind.records = []
        buggy_kind.held["people"] = {"2": {"id": 2, "name": "b", "tags": _held_many_times_over(levels=3, width=100)}}
        again = await engine.run("people", RunOptions())
        letters = await engine.store.dead_letters("people")
        looked_up = await records_by_key(
            await engine.connections.get("src"), "people", ["2"], RetryPolicy(attempts=1), engine.sleep
        )

    assert (first.counts.created, first.counts.failed) == (1, 1)
    assert (again.counts.created, again.counts.failed) == (0, 1)
    assert sorted(buggy_kind.held["copies"]) == ["1"]  # the record was not written
    assert [letter.source_key for letter in letters] == ["2"] and "name" in letters[0].error
    assert looked_up.found == {}
    assert str(looked_up.refused["2"]).startswith(
        "the buggy connector of system 'src' looked up a record from stream 'people' that comes to 1,01"
    )
