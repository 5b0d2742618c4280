"""The store contract suite runs over every state database Brygga supports: SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from app.store import Store
from tests.services import POSTGRES_URL, require_service


@pytest.fixture(params=["sqlite", "postgresql"])
async def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty state database URL of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        yield url


class FreshPostgresDatabase:
    """CREATE DATABASE for one test; DROP it afterwards."""

    async def __aenter__(self) -> str:
        self.name = f"brygga_test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(POSTGRES_URL.replace("/test", "/postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()
        return POSTGRES_URL.rsplit("/", 1)[0] + f"/{self.name}"

    async def __aexit__(self, *exc: object) -> None:
        admin = await asyncpg.connect(POSTGRES_URL.replace("/test", "/postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def store(state_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(state_url, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
