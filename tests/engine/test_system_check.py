"""``brygga check``'s engine part: each system answers within its call_timeout, or says why not, alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import check_systems, open_workspace, streams_used
from tests.engine.buggy_kind import OPEN, BuggyConnector, buggy_kind

__all__ = ["buggy_kind"]  # the fixture, used by name

PROJECT = """\
version: 1
systems:
  src:
    connector: buggy
    call_timeout: 200ms
    streams: {people: {key: id}}
  tgt:
    connector: buggy
    call_timeout: 200ms
    streams: {people: {key: id}, pets: {key: id}}
  spare:
    connector: buggy
    streams: {people: {key: id}}
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT)
    (tmp_path / "mappings" / "people.yaml").write_text(
        "source: src.people\ntarget: tgt.people\nfields: {id: id, name: name}\n"
    )
    (tmp_path / "mappings" / "pets.yaml").write_text(
        "source: tgt.people\ntarget: tgt.pets\nfields: {id: id, owner: name}\n"
    )
    return tmp_path / "brygga.yaml"


def test_the_streams_each_system_is_looked_at_for_with_the_fields_written(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    project = open_workspace(_project(tmp_path), environ={}).project

    assert streams_used(project) == {
        "src": {"people": None},
        "tgt": {"people": ["id", "name"], "pets": ["id", "owner"]},
    }


@pytest.mark.parametrize(
    ("bug", "error"),
    [
        ("check RuntimeError", "an unexpected error (RuntimeError: a defect in check): the connector needs fixing"),
        ("check hang", "did not finish checking that it answers (check) within 200ms"),
        ("open SystemExit", "raised SystemExit('exit by a connector') while connecting (open)"),
    ],
)
async def test_a_system_that_fails_its_check_says_why_and_the_others_are_checked(
    tmp_path: Path, buggy_kind: type[BuggyConnector], bug: str, error: str
) -> None:
    project = open_workspace(_project(tmp_path), environ={}).project
    buggy_kind.bugs[OPEN] = bug

    checks = await check_systems(project, ["src"])
    buggy_kind.bugs[OPEN] = "none"
    after = await check_systems(project, ["src", "tgt"])

    assert [check.system for check in checks] == ["src"]
    assert checks[0].error is not None and error in checks[0].error, checks[0].error
    assert [(check.system, check.error) for check in after] == [("src", None), ("tgt", None)]
