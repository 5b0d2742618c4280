"""Shared fixtures: small projects written to a temporary folder."""

from __future__ import annotations

import gc
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.services import FreshPostgresDatabase, prepare_worker_databases, require_service

if TYPE_CHECKING:
    from tests.connectors.rest.server import ApiServer, ApiState

ProjectWriter = Callable[[dict[str, str]], Path]

MINIMAL_PROJECT = """\
version: 1
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams:
      contacts: {table: contacts, key: id, cursor: updated_at}
      users: {table: users, key: id}
  erp:
    connector: csv
    path: erp
    streams:
      customers: {file: customers.csv, key: customer_no}
      users: {file: users.csv, key: user_no}
"""


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker gets its own ``test_gwN`` databases before its first test."""
    prepare_worker_databases()


@pytest.fixture
def write_project(tmp_path: Path) -> ProjectWriter:
    """Write files (relative path → YAML text, dedented) and return the project file's path.

    ``brygga.yaml`` defaults to :data:`MINIMAL_PROJECT` when not given.
    """

    def write(files: dict[str, str]) -> Path:
        files = {"brygga.yaml": MINIMAL_PROJECT, **files}
        for relative, text in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return tmp_path / "brygga.yaml"

    return write


@pytest.fixture
def collector_off() -> Iterator[None]:
    """No automatic garbage collection, in a process tuned as ``brygga run`` and ``serve`` tune theirs:
    only Brygga's own collections (and reference counting) free anything."""
    threshold = gc.get_threshold()
    gc.collect()
    gc.disable()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.enable()


@pytest.fixture(params=["sqlite", "postgresql"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A state database of each kind: a SQLite file in the project's folder (``sqlite:///state.db``), or a
    fresh PostgreSQL database of this test's own (skipped where there is none)."""
    if request.param == "sqlite":
        yield "sqlite:///state.db"
        return
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        yield url


@pytest.fixture(scope="session")
def api_server() -> Iterator[ApiServer]:
    """The local test REST API (tests/connectors/rest/server.py), under uvicorn in a thread."""
    from tests.connectors.rest.server import running_api  # only for the tests that talk to it

    with running_api() as server:
        yield server


@pytest.fixture
def api(api_server: ApiServer) -> ApiState:
    """The test API's state, fresh for this test."""
    return api_server.fresh()
