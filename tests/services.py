"""Real database servers for tests: skip where one is unreachable, fail when CI requires them.

CI (``.ci/run``) sets ``BRYGGA_REQUIRE_SERVICES=1``: there a missing server is
a failure, not a skip, so a broken machine cannot pass silently.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import asyncpg
import pytest

# Under pytest-xdist each worker has databases of its own (``test_gw0``, ``test_gw1``, …), so two workers'
# tests never meet in one table; a plain run uses ``test``. xdist sets the variable before conftest imports.
WORKER_DATABASE = "test" + (f"_{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else "")
POSTGRES_URL = os.environ.get("BRYGGA_TEST_POSTGRES", f"postgresql://postgres@127.0.0.1:5432/{WORKER_DATABASE}")
MARIADB_URL = os.environ.get("BRYGGA_TEST_MARIADB", f"mysql://root@127.0.0.1:3306/{WORKER_DATABASE}")

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


def _postgres_admin_url() -> str:
    """The same server, its ``postgres`` database: where databases are created and dropped."""
    return POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"


async def _create_worker_databases() -> None:
    if "BRYGGA_TEST_POSTGRES" not in os.environ and _reachable(*_PORTS["postgresql"]):
        admin = await asyncpg.connect(_postgres_admin_url())
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", WORKER_DATABASE):
                await admin.execute(f'CREATE DATABASE "{WORKER_DATABASE}"')
        finally:
            await admin.close()
    if "BRYGGA_TEST_MARIADB" not in os.environ and _reachable(*_PORTS["mariadb"]):
        import asyncmy  # type: ignore[import-untyped,unused-ignore]

        connection = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="")
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{WORKER_DATABASE}`")
        finally:
            connection.close()


def prepare_worker_databases() -> None:
    """Create this xdist worker's own ``test_gwN`` databases on the servers that are up (once per run).

    A plain run uses the ``test`` databases the machine has; a server that is down is left to
    :func:`require_service` to skip or fail the tests that need it.
    """
    if WORKER_DATABASE == "test":
        return
    asyncio.run(_create_worker_databases())


class FreshPostgresDatabase:
    """CREATE DATABASE for one test; DROP it afterwards."""

    async def __aenter__(self) -> str:
        self.name = f"brygga_test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(_postgres_admin_url())
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()
        return POSTGRES_URL.rsplit("/", 1)[0] + f"/{self.name}"

    async def __aexit__(self, *exc: object) -> None:
        admin = await asyncpg.connect(_postgres_admin_url())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()
