"""The service in this process, for tests that go through its routing and its whole app, not a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import httpx

from app.api.app import create_app
from app.engine.settings import ServiceSettings
from tests.webhooks.conftest import aftermath


class _Secrets(Protocol):
    @property
    def operator(self) -> str: ...

    def env(self) -> dict[str, str]: ...


class ServedProject(Protocol):
    """A project on disk with its secrets (:class:`tests.api.conftest.ApiProject`, a webhook test's)."""

    @property
    def file(self) -> Path: ...

    @property
    def secrets(self) -> _Secrets: ...


@asynccontextmanager
async def served(project: ServedProject) -> AsyncIterator[httpx.AsyncClient]:
    """The project's service in-process, and a client holding the operator's token."""
    settings = ServiceSettings(config=project.file, lease_ttl=timedelta(seconds=5), shutdown_grace=timedelta(seconds=3))
    app = create_app(settings, environ=project.secrets.env())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    headers = {"Authorization": f"Bearer {project.secrets.operator}"}
    client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", headers=headers, timeout=10)
    try:
        yield client
    finally:
        await aftermath()
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
