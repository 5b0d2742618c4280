"""A connector that cannot look records up by key: ``brygga validate`` says which sync needs it (an ``insert``
or ``update`` sync, a two-way one) at its place, and a two-way run into one fails saying why."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from connectors.base import Batch, Checkpoint, Connector, StreamInfo, SystemOptions, Write, WriteResult
from tests.cli.helpers import run_brygga
from tests.engine.buggy_kind import REPO, BuggyConnector, buggy_kind

__all__ = ["buggy_kind"]  # the fixture, used by name


class NoLookUps(Connector):
    """Reads and writes (as upserts by key), and looks nothing up: no ``get``."""

    options_model = SystemOptions

    async def check(self) -> None:
        pass

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        return StreamInfo()

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        yield Batch([{"id": 1, "name": "a"}], {})

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        return [WriteResult(write.target_key) for write in writes]


class PlainOptions(SystemOptions):
    """The options of kind ``plain-options``, registered on their own (``brygga.connector_options``): they say
    nothing of what the kind cannot do."""


class NoLookUpsAssigningKeys(NoLookUps):
    """The same, as a system that assigns keys: an insert into it never asks which keys it holds."""

    assigns_keys = True


PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  src:
    connector: plain
    streams: {people: {key: id}}
  tgt:
    connector: plain
    streams: {people: {key: id}}
  api:
    connector: plain-api
    streams: {people: {key: id}}
  own:
    connector: plain-options
    streams: {people: {key: id}}
"""


def _project(tmp_path: Path, syncs: dict[str, str]) -> dict[str, str]:
    """The project, with kinds ``plain`` and ``plain-api`` installed: the environment for the CLI."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    for name, text in syncs.items():
        (tmp_path / "mappings" / f"{name}.yaml").write_text(text)
    dist = tmp_path / "site" / "plain_kind-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plain-kind\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[brygga.connectors]\nplain = tests.engine.test_connector_look_ups:NoLookUps\n"
        "plain-api = tests.engine.test_connector_look_ups:NoLookUpsAssigningKeys\n"
        "plain-options = tests.engine.test_connector_look_ups:NoLookUps\n"
        "[brygga.connector_options]\nplain-options = tests.engine.test_connector_look_ups:PlainOptions\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(REPO), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize(("mode", "never"), [("insert", "updates"), ("update", "creates")])
def test_validate_says_an_insert_or_update_sync_needs_a_target_that_looks_records_up(
    tmp_path: Path, mode: str, never: str
) -> None:
    sync = f"source: src.people\ntarget: tgt.people\nmode: {mode}\nfields: {{id: id, name: name}}\n"
    env = _project(tmp_path, {"people": sync, "fine": sync.replace(f"mode: {mode}", "mode: upsert")})

    result = run_brygga("validate", cwd=tmp_path, env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"mappings/people.yaml:3:7: mode: {mode}: sync people: the plain connector of system 'tgt' cannot look "
        f"records up by key (it has no `get`), so a sync in {mode} mode, which never {never}, cannot tell which "
        "records tgt.people holds: use mode upsert, or a connector that can look records up"
    ) in result.stderr
    assert "fine.yaml" not in result.stderr


def test_validate_asks_the_class_of_a_kind_whose_own_options_model_says_nothing_of_look_ups(tmp_path: Path) -> None:
    """A kind registering its options model on its own (``brygga.connector_options``) is validated without its
    class; where those options cannot tell what the kind cannot do, its class is asked, for the syncs that
    need a look-up."""
    insert = "source: src.people\ntarget: own.people\nmode: insert\nfields: {id: id, name: name}\n"
    pair = "two_way:\n  a: own.people\n  b: src.people\nto_b: {name: name}\nto_a: {name: name}\n"
    upsert = insert.replace("mode: insert", "mode: upsert")
    env = _project(tmp_path, {"people": insert, "pair": pair, "fine": upsert})

    result = run_brygga("validate", cwd=tmp_path, env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "mappings/people.yaml:3:7: mode: insert: sync people: the plain-options connector of system 'own' cannot "
        "look records up by key (it has no `get`)"
    ) in result.stderr
    assert (
        "mappings/pair.yaml:2:6: two_way.a: sync pair: the plain-options connector of system 'own' cannot look "
        "records up by key (it has no `get`)"
    ) in result.stderr
    assert "fine.yaml" not in result.stderr


def test_validate_takes_an_insert_into_a_system_that_assigns_keys(tmp_path: Path) -> None:
    sync = "source: src.people\ntarget: api.people\nmode: insert\nfields: {name: name}\n"

    result = run_brygga("validate", cwd=tmp_path, env=_project(tmp_path, {"people": sync}))

    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_says_a_two_way_sync_needs_both_sides_to_look_records_up(tmp_path: Path) -> None:
    sync = "two_way:\n  a: src.people\n  b: tgt.people\nto_b: {name: name}\nto_a: {name: name}\n"

    result = run_brygga("validate", cwd=tmp_path, env=_project(tmp_path, {"pair": sync}))

    assert result.returncode == 2, result.stdout + result.stderr
    for line, side, system in ((2, "a", "src"), (3, "b", "tgt")):
        assert (
            f"mappings/pair.yaml:{line}:6: two_way.{side}: sync pair: the plain connector of system '{system}' cannot "
            "look records up by key (it has no `get`), which a two-way sync needs of both sides"
        ) in result.stderr


TWO_WAY = """\
version: 1
state: sqlite:///state.db
systems:
  src:
    connector: buggy
    streams: {people: {key: id}}
  tgt:
    connector: buggy
    streams: {others: {key: id, bug: no get}}
"""


async def test_a_two_way_run_with_a_side_that_cannot_look_records_up_fails_saying_why(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    """A kind that says only at run time that it cannot look records up (validate cannot tell)."""
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(TWO_WAY)
    fields = "{id: id, name: name}"
    sync = f"two_way:\n  a: src.people\n  b: tgt.others\n  delete_in: [b]\nto_b: {fields}\nto_a: {fields}\n"
    (tmp_path / "mappings" / "pair.yaml").write_text(sync)
    async with open_engine(open_workspace(tmp_path / "brygga.yaml", environ={})) as engine:
        first = await engine.run("pair", RunOptions())  # reads both sides whole: nothing to look up
        buggy_kind.records = buggy_kind.records[1:]  # gone from both sides: is its pair's record still there?
        run = await engine.run("pair", RunOptions())

    assert first.status == "succeeded"
    assert run.status == "failed"
    assert run.error == (
        "sync pair: the buggy connector of system 'tgt' cannot look records up by key (it has no `get`), which a "
        "two-way sync needs of both sides (each pair's records are fetched fresh, and gone ones looked for): use "
        "a connector that can look records up, or one-way syncs"
    )
