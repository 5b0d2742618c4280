"""A connector call that never returns fails its run at the system's ``call_timeout``, naming the connector
and the call: the sync's lease is released and the next run goes ahead. And ``open`` and ``prepare`` raising
what would end the process fail their run alone, as reads and writes do."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.preview import preview_sync
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.errors import ConfigError, ConnectorTimeout
from tests.engine.buggy_kind import OPEN, BuggyConnector, buggy_kind, released

__all__ = ["buggy_kind"]  # the fixture, used by name

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  src:
    connector: buggy
    call_timeout: {timeout}
    bug: "{open}"
    streams: {{people: {{key: id, bug: "{read}"}}}}
  tgt:
    connector: buggy
    call_timeout: {timeout}
    streams: {{people: {{key: id, bug: "{write}"}}}}
"""


def _project(
    tmp_path: Path, read: str = "none", write: str = "none", open: str = "none", timeout: str = "200ms"
) -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(PROJECT.format(read=read, write=write, open=open, timeout=timeout))
    mapping = "source: src.people\ntarget: tgt.people\nfields: {id: id, name: name}\n"
    (tmp_path / "mappings" / "people.yaml").write_text(mapping)
    return tmp_path / "brygga.yaml"


STUCK = {
    "read": ({"read": "hang"}, "system 'src' did not finish reading stream 'people'"),
    "write": ({"write": "write hang"}, "system 'tgt' did not finish writing to stream 'people'"),
    "prepare": ({"read": "prepare hang"}, "system 'src' did not finish preparing stream 'people'"),
    "open": ({"open": "open hang"}, "system 'src' did not finish connecting (open)"),
}


@pytest.mark.parametrize("stuck_in", list(STUCK))
async def test_a_call_that_never_returns_fails_its_run_and_the_next_run_goes_ahead(
    tmp_path: Path, buggy_kind: type[BuggyConnector], stuck_in: str
) -> None:
    bugs, call = STUCK[stuck_in]
    async with open_engine(open_workspace(_project(tmp_path, **bugs), environ={})) as engine:
        stuck = await engine.run("people", RunOptions())
        buggy_kind.bugs.update({"people": "none", OPEN: "none"})
        after = await engine.run("people", RunOptions())

    assert stuck.status == "failed"
    assert stuck.error is not None
    assert f"the buggy connector of {call}" in stuck.error
    assert "within 200ms (the system's call_timeout)" in stuck.error
    assert "give it a longer call_timeout; else the connector is stuck" in stuck.error
    assert (after.status, after.counts.created) == ("succeeded", 5)


async def test_a_look_up_that_never_returns_fails_its_run(tmp_path: Path, buggy_kind: type[BuggyConnector]) -> None:
    """An insert asks the target which records it holds: a stuck look-up is not taken for keys refused one by
    one (each of which would wait its own deadline)."""
    project = _project(tmp_path, write="get hang")
    (tmp_path / "mappings" / "people.yaml").write_text(
        "source: src.people\ntarget: tgt.people\nmode: insert\nfields: {id: id, name: name}\n"
    )
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert "the buggy connector of system 'tgt' did not finish looking" in run.error
    assert "people" not in buggy_kind.held


@pytest.mark.parametrize("bug", ["SystemExit", "KeyboardInterrupt"])
async def test_open_raising_what_ends_a_process_fails_its_run_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector], bug: str
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, open=f"open {bug}"), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        buggy_kind.bugs[OPEN] = "none"
        after = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert f"the buggy connector of system 'src' raised {bug}(" in run.error
    assert "while connecting (open)" in run.error
    assert (after.status, after.counts.created) == ("succeeded", 5)


@pytest.mark.parametrize(
    ("read", "write", "system"), [("prepare SystemExit", "none", "src"), ("none", "prepare KeyboardInterrupt", "tgt")]
)
async def test_prepare_raising_what_ends_a_process_fails_its_run_alone(
    tmp_path: Path, buggy_kind: type[BuggyConnector], read: str, write: str, system: str
) -> None:
    async with open_engine(open_workspace(_project(tmp_path, read, write), environ={})) as engine:
        run = await engine.run("people", RunOptions())
        buggy_kind.bugs["people"] = "none"
        after = await engine.run("people", RunOptions())

    assert run.status == "failed"
    assert run.error is not None
    assert f"the buggy connector of system '{system}' raised" in run.error
    assert "while preparing stream 'people'" in run.error
    assert (after.status, after.counts.created) == ("succeeded", 5)


@pytest.mark.parametrize(
    ("timeout", "problem"), [("0s", "must be more than 0 seconds"), ("soon", "'soon' is not a duration")]
)
def test_a_call_timeout_that_is_no_duration_is_a_config_error(
    tmp_path: Path, buggy_kind: type[BuggyConnector], timeout: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        open_workspace(_project(tmp_path, timeout=timeout), environ={})

    assert f"brygga.yaml:6:19: systems.src.call_timeout: {problem}" in str(caught.value)


async def test_a_preview_whose_look_up_never_returns_stops_at_the_deadline(
    tmp_path: Path, buggy_kind: type[BuggyConnector]
) -> None:
    """``brygga preview`` asks the target for the records it would update, to show their differences."""
    async with open_engine(open_workspace(_project(tmp_path), environ={})) as engine:
        await engine.run("people", RunOptions())
        buggy_kind.records = [{"id": number, "name": f"new{number}"} for number in range(1, 6)]
        buggy_kind.bugs["people"] = "get hang"
        with pytest.raises(ConnectorTimeout) as caught:
            await preview_sync(engine, "people", 10)

    assert "the buggy connector of system 'tgt' did not finish looking stream 'people' up within 200ms" in str(
        caught.value
    )


SWALLOWED = {
    "read": ({"read": "swallow"}, "system 'src' did not finish reading stream 'people'"),
    "write": ({"write": "write swallow"}, "system 'tgt' did not finish writing to stream 'people'"),
}


@pytest.mark.timeout(30)  # bounds the wait where the call is not given up on
@pytest.mark.parametrize("stuck_in", list(SWALLOWED))
async def test_a_call_that_swallows_its_cancellation_is_given_up_on_and_the_next_run_goes_ahead(
    tmp_path: Path, buggy_kind: type[BuggyConnector], stuck_in: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A connector that catches ``CancelledError`` and carries on cannot hold its run: after the deadline and
    a short grace the engine gives up on the call (left running, and logged) and the run fails as a timeout."""
    bugs, call = SWALLOWED[stuck_in]
    try:
        async with open_engine(open_workspace(_project(tmp_path, **bugs), environ={})) as engine:
            stuck = await engine.run("people", RunOptions())
            buggy_kind.bugs.update({"people": "none"})
            after = await engine.run("people", RunOptions())
    finally:
        released.set()

    assert stuck.status == "failed"
    assert stuck.error is not None
    assert f"the buggy connector of {call} within 200ms (the system's call_timeout)" in stuck.error
    assert "(it did not stop, and is left running)" in stuck.error
    assert "the call is given up on and left running" in caplog.text
    assert (after.status, after.counts.created) == ("succeeded", 5)
