"""A process that runs many syncs stays as fast as a new one: what a run or a closed engine leaves in
reference cycles is freed at once, not at a full garbage collection long after (Brygga makes those rare).

Each test turns the collector off, so only Brygga's own collections (or plain reference counting) free
anything: without them, what the test watches would stay.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.engine import garbage_collection as process
from app.engine.pipeline import ReadAhead, all_of
from app.engine.runner import open_engine
from app.engine.workspace import open_workspace
from tests.engine.conftest import ProjectFactory, contact


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    """The engine tests' CRM → ERP project, with three contacts to sync."""
    made = make_project()
    made.crm.insert("contacts", [contact(1), contact(2), contact(3)])
    return made.file


class _Item:
    """Something a weak reference can watch."""


@pytest.mark.usefixtures("collector_off")
async def test_read_ahead_keeps_no_item_once_it_has_ended() -> None:
    async def items() -> AsyncIterator[_Item]:
        for _ in range(3):
            yield _Item()

    watched: list[weakref.ref[_Item]] = []
    async for item in ReadAhead(items()):
        watched.append(weakref.ref(item))
    del item
    assert [ref() for ref in watched] == [None, None, None]


@pytest.mark.usefixtures("collector_off")
async def test_closing_an_engine_frees_its_connectors_database_engines(project: Path) -> None:
    async with open_engine(open_workspace(project, environ={})) as engine:
        run = await engine.run("contacts")
        connector: Any = await engine.connections.get("crm")
        database = weakref.ref((await connector._connected()).sync_engine)
        del connector
    assert run.status == "succeeded"
    assert database() is None


@pytest.mark.usefixtures("collector_off")
@pytest.mark.parametrize(("threshold", "collected"), [(3, True), (4, False)])
async def test_the_run_after_a_large_run_begins_with_a_collection_of_the_younger_generations(
    project: Path, monkeypatch: pytest.MonkeyPatch, threshold: int, collected: bool
) -> None:
    monkeypatch.setattr(process, "COLLECT_AFTER_RECORDS", threshold)
    collections: list[str] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] >= 1:
            collections.append("collected")

    async with open_engine(open_workspace(project, environ={})) as engine:
        gc.callbacks.append(watch)
        try:
            first = await engine.run("contacts")
            collections.append("first run ended")
            await engine.run("contacts")
        finally:
            gc.callbacks.remove(watch)
    assert first.counts.read == 3
    assert collections == (["first run ended", "collected"] if collected else ["first run ended"])


@pytest.mark.usefixtures("collector_off")
@pytest.mark.parametrize(("last", "collected"), [(False, [2]), (True, [])])
async def test_an_engine_closed_as_the_process_ends_is_closed_without_a_collection(
    project: Path, last: bool, collected: list[int]
) -> None:
    """``brygga run``: a full collection as the process ends would free nothing a later run could use."""
    collections: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collections.append(info["generation"])

    try:
        async with open_engine(open_workspace(project, environ={}), last=last) as engine:
            await engine.run("contacts")
            gc.callbacks.append(watch)
    finally:
        gc.callbacks.remove(watch)
    assert collections == collected


async def test_a_process_collecting_at_the_usual_pace_is_left_to_it(project: Path) -> None:
    """``brygga preview`` and the like: a full collection at the end would only cost time."""
    collections: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collections.append(info["generation"])

    gc.disable()
    try:
        async with open_engine(open_workspace(project, environ={})) as engine:
            await engine.run("contacts")
            gc.callbacks.append(watch)
    finally:
        gc.callbacks.remove(watch)
        gc.enable()
    assert gc.get_threshold()[0] < 50_000
    assert collections == []


async def test_all_of_lets_every_one_end_and_raises_the_first_failure() -> None:
    closed: list[str] = []

    async def close(name: str, error: Exception | None = None) -> None:
        await asyncio.sleep(0)
        closed.append(name)
        if error is not None:
            raise error

    with pytest.raises(RuntimeError, match="source"):
        await all_of(close("source", RuntimeError("source")), close("target"), close("state", OSError("x")))
    assert sorted(closed) == ["source", "state", "target"]
