"""A connector's module is imported in a thread, so the event loop goes on meanwhile; one that will not
import there is imported in the loop's thread instead."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.dialects import sqlite

import app.engine.connections as connections_module
from app.config import Needs
from app.config.kinds import BrokenKindError
from app.engine.connections import Connections
from app.engine.workspace import open_workspace
from connectors.base import Connector, connector_class
from connectors.rest.connector import RestConnector
from tests.conftest import ProjectWriter

PROJECT = """\
version: 1
systems:
  shop:
    connector: rest
    base_url: http://127.0.0.1:9
    streams:
      orders: {path: /orders, key: id}
"""


def held_until_the_loop_goes_on(work: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``work``, made to wait in its thread until the event loop has run something else meanwhile (in a
    thread, that is; in the loop's own thread it waits in vain and fails)."""
    begun, loop_went_on = threading.Event(), threading.Event()

    async def meanwhile() -> None:
        await asyncio.to_thread(begun.wait, 5)
        loop_went_on.set()

    other = asyncio.ensure_future(meanwhile())

    def held(*args: Any, _meanwhile: asyncio.Future[None] = other) -> Any:  # the task kept while it may run
        begun.set()
        assert loop_went_on.wait(5), f"the event loop stood still while {what}"
        return work(*args)

    return held


async def test_the_loop_goes_on_while_a_connector_module_is_imported(
    write_project: ProjectWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = open_workspace(write_project({"brygga.yaml": PROJECT}), {}, Needs.testing(None))
    held = held_until_the_loop_goes_on(connector_class, "the connector's module was imported")
    monkeypatch.setattr(connections_module, "connector_class", held)
    connections = Connections(workspace.project)

    assert isinstance(await connections.get("shop"), RestConnector)
    await connections.close()


async def test_a_connector_module_that_will_not_import_in_a_thread_is_imported_in_the_loops(
    write_project: ProjectWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = open_workspace(write_project({"brygga.yaml": PROJECT}), {}, Needs.testing(None))
    threads: list[bool] = []

    def main_thread_only(kind: str) -> type[Connector]:
        threads.append(threading.current_thread() is threading.main_thread())
        if not threads[-1]:
            raise BrokenKindError("signal only works in main thread of the main interpreter")
        return connector_class(kind)

    monkeypatch.setattr(connections_module, "connector_class", main_thread_only)
    connections = Connections(workspace.project)

    assert isinstance(await connections.get("shop"), RestConnector)
    assert threads == [False, True]
    await connections.close()


async def test_the_loop_goes_on_while_a_sql_connector_loads_its_driver(
    write_project: ProjectWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.sql.connector as sql_module

    project = PROJECT.replace("connector: rest", "connector: sql").replace(
        "base_url: http://127.0.0.1:9", "url: sqlite:///shop.db"
    )
    root = write_project({"brygga.yaml": project.replace("{path: /orders, key: id}", "{table: orders, key: id}")})
    (root.parent / "shop.db").touch()
    workspace = open_workspace(root, {}, Needs.testing(None))
    create_engine = sql_module.create_engine  # type: ignore[attr-defined]
    monkeypatch.setattr(
        sql_module, "create_engine", held_until_the_loop_goes_on(create_engine, "the driver was loaded")
    )
    connections = Connections(workspace.project)

    await connections.get("shop")
    await connections.close()


def test_a_driver_another_thread_is_still_importing_counts_as_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service answered 500 (``partially initialized module 'asyncpg' has no attribute 'PostgresError'``)
    when a request's database error handling looked at asyncpg while a connector's thread was importing it."""
    from app.store.database import database_errors
    from connectors.sql.coercion import column_type
    from connectors.sql.errors import transient_types, translated_types

    for name in ("asyncpg", "asyncmy.errors", "sqlalchemy.dialects.mysql"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))  # as a module is while it is imported

    assert asyncpg_classes(database_errors()) == asyncpg_classes(translated_types()) == []
    assert asyncpg_classes(transient_types()) == []
    assert column_type(sqlalchemy.Integer(), sqlite.dialect()).kind.name == "INTEGER"


def asyncpg_classes(types_: tuple[type[BaseException], ...]) -> list[str]:
    return [kind.__name__ for kind in types_ if kind.__module__.startswith("asyncpg")]


async def test_connector_modules_are_imported_one_kind_at_a_time(
    write_project: ProjectWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads importing packages that import each other's modules could each find the other's half done."""
    two = PROJECT + PROJECT.split("systems:\n")[1].replace("  shop:", "  store:")
    workspace = open_workspace(write_project({"brygga.yaml": two}), {}, Needs.testing(None))
    inside, together = threading.Event(), threading.Event()

    def importing(kind: str) -> type[Connector]:
        if inside.is_set():
            together.set()
        inside.set()
        together.wait(0.5)  # long enough for the other to come in, were it let in
        inside.clear()
        return connector_class(kind)

    monkeypatch.setattr(connections_module, "connector_class", importing)
    connections = Connections(workspace.project)

    await asyncio.gather(connections.get("shop"), connections.get("store"))

    assert not together.is_set()
    await connections.close()
