"""A ``rest`` system in a temporary project, pointed at the local test API (or at respx)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from app.config import load_project
from connectors.base import Batch, Connector, create_connector
from connectors.rest.connector import RestConnector
from connectors.rest.limits import Clock
from connectors.rest.retrying import RequestRetryPolicy
from tests.connectors.rest.server import ApiServer

FAST_RETRIES = RequestRetryPolicy(attempts=4, first_wait=0.01, most_wait=0.05, longest_wait=300)


class FakeClock:
    """A clock whose waits return at once, advance its time, and are recorded."""

    def __init__(self) -> None:
        self.time = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds
        await asyncio.sleep(0)

    @property
    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)


@pytest.fixture
def api_url(api_server: ApiServer) -> str:
    return api_server.url


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def rest_system(root: Path, system: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> RestConnector:
    """The connector of a ``crm`` system written to ``root/brygga.yaml``, made as the engine makes it."""
    project = {"version": 1, "systems": {"crm": {"connector": "rest", **system}}}
    (root / "brygga.yaml").write_text(json.dumps(project), encoding="utf-8")
    connector = create_connector(load_project(root / "brygga.yaml", environ=dict(environ or {})).systems["crm"])
    assert isinstance(connector, RestConnector)
    return connector


MakeSystem = Callable[..., RestConnector]


@pytest.fixture
async def make_system(tmp_path: Path, api_url: str, fake_clock: FakeClock) -> AsyncIterator[MakeSystem]:
    """``make_system(streams={...}, **system options)``: a connector on the test API, with the fake clock
    and quick retries, closed after the test."""
    made: list[RestConnector] = []

    def make(streams: Mapping[str, Any], environ: Mapping[str, str] | None = None, **options: Any) -> RestConnector:
        connector = rest_system(tmp_path, {"base_url": api_url, "streams": streams, **options}, environ)
        connector.clock = fake_clock.clock
        connector.retry_policy = FAST_RETRIES
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.close()


async def read_all(connector: Connector, stream: str, checkpoint: Any = None, batch_size: int = 1000) -> list[Batch]:
    return [batch async for batch in connector.read(stream, checkpoint, batch_size)]


def ids(batches: list[Batch]) -> list[Any]:
    return [record["id"] for batch in batches for record in batch.records]
