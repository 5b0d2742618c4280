"""Pooled connections are checked before use only after sitting idle, and replaced when the check fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.pooling import check_when_idle
from tests.services import POSTGRES_URL, require_service


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    require_service("postgresql")
    engine = create_async_engine(POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://", 1))
    yield engine
    await engine.dispose()


def count_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    pings: list[object] = []
    real = engine.sync_engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.sync_engine.dialect, "do_ping", ping)
    return pings


async def backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return found


@pytest.mark.parametrize(
    ("unused_for", "checks"),
    [(4, 0), (6, 1)],
    ids=["in steady use: taken without a check", "idle past the limit: checked, and kept when alive"],
)
async def test_a_connection_is_checked_only_after_sitting_idle_past_the_limit(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, unused_for: float, checks: int
) -> None:
    clock = Clock()
    check_when_idle(engine, idle_seconds=5, clock=clock)
    pings = count_pings(engine, monkeypatch)

    first = await backend(engine)
    clock.now += unused_for
    second = await backend(engine)

    assert second == first
    assert len(pings) == checks


async def test_a_connection_that_died_while_idle_is_replaced_before_use(engine: AsyncEngine) -> None:
    clock = Clock()
    check_when_idle(engine, idle_seconds=5, clock=clock)
    first = await backend(engine)
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", first)  # a restart, a dropped connection
    finally:
        await admin.close()

    clock.now += 6
    second = await backend(engine)  # no error: the check found it dead, and the pool made a new one

    assert second != first
