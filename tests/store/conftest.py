"""The store contract suite runs over every state database Brygga supports: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.store import Store
from tests.services import FreshPostgresDatabase, require_service


@pytest.fixture(params=["sqlite", "postgresql"])
async def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty state database URL of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        yield url


@pytest.fixture
async def store(state_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(state_url, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
