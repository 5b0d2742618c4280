"""Real database servers for tests: skip where one is unreachable, fail when CI requires them.

CI (``.ci/run``) sets ``BRYGGA_REQUIRE_SERVICES=1``: there a missing server is
a failure, not a skip, so a broken machine cannot pass silently.
"""

from __future__ import annotations

import os
import socket
import uuid

import asyncpg
import pytest

POSTGRES_URL = os.environ.get("BRYGGA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("BRYGGA_TEST_MARIADB", "mysql://root@127.0.0.1:3306/test")

_PORTS = {"postgresql": ("127.0.0.1", 5432), "mariadb": ("127.0.0.1", 3306)}


def services_required() -> bool:
    return os.environ.get("BRYGGA_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str) -> None:
    """Skip the calling test when server ``name`` is unreachable, or fail under ``BRYGGA_REQUIRE_SERVICES=1``."""
    host, port = _PORTS[name]
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{message}, and BRYGGA_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


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
