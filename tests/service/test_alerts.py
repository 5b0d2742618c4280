"""Alerts: exactly one notice when a sync goes down or stalls, and exactly one when it recovers (SPEC 2, 8).

A local HTTP server receives the notices. The target goes down for real: its PostgreSQL database is
reached through a TCP proxy that the test takes down (every connection dropped, nothing listening,
so connecting is refused: a connection-level, transient failure) and brings back on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import asyncpg
import pytest

from app.engine.service import Service
from app.engine.settings import ServiceSettings
from app.store import RunInfo
from tests.service.conftest import AlertReceiver, Project, eventually, free_port
from tests.services import FreshPostgresDatabase, require_service

StartService = Callable[[ServiceSettings], Awaitable[Service]]

TARGET_TABLES = """
CREATE TABLE customers (customer_no integer PRIMARY KEY, name text, email text);
CREATE TABLE people (person_no integer PRIMARY KEY, name text);
"""


class TcpProxy:
    """Forwards a local port to a server; :meth:`down` drops every connection and stops listening."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._connected, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        for pipe in list(self.pipes):
            pipe.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)
        self.writers.clear()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pipe = asyncio.ensure_future(self._pipe(source, sink))
            self.pipes.add(pipe)
            pipe.add_done_callback(self.pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        sink.transport.abort()


@pytest.fixture
async def postgres_target() -> AsyncIterator[str]:
    """A fresh PostgreSQL database with the target tables; its URL."""
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(TARGET_TABLES)
        finally:
            await connection.close()
        yield url


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    forwarder = TcpProxy("127.0.0.1", 5432)
    await forwarder.up()
    yield forwarder
    await forwarder.down()


async def _runs(service: Service) -> list[RunInfo]:
    return (await service.runs("customers", None, None, 500))[::-1]


async def test_a_target_that_goes_down_alerts_once_and_once_again_when_it_recovers_by_itself(
    project: Project,
    alert_receiver: AlertReceiver,
    postgres_target: str,
    proxy: TcpProxy,
    start_service: StartService,  # last: stopped first, before what it uses goes away
) -> None:
    database = postgres_target.rsplit("/", 1)[1]
    project.write(erp_url=f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}", alerts=alert_receiver.url)
    # each failing run tries twice, so the watch (every 0.2s) sees runs of the failing sync going on
    project.write_sync("customers", _retrying_sync())
    project.add_contacts(3)
    settings = project.settings(
        watch_every=timedelta(seconds=0.2), backoff=timedelta(seconds=0.5), max_backoff=timedelta(seconds=1)
    )
    service = await start_service(settings)
    await eventually(lambda: _last_status(service, "succeeded"), 10, "a first scheduled run")

    await proxy.down()
    project.add_contacts(2, start=4)
    await eventually(lambda: alert_receiver.events() == ["failing"], 15, "the failing notice")

    assert (await service.view("customers")).status == "failing"
    assert (await service.store.states.get("customers")).backoff_until is not None, "a failing sync backs off"
    await eventually(lambda: _failures(service, 3), 10, "a retry once the backoff is over, failing again")
    assert alert_receiver.events() == ["failing"], "still failing while it tries again: no news"
    failed = [run for run in await _runs(service) if run.status == "failed"]
    assert failed and all("Connect call failed" in (run.error or "") for run in failed), [r.error for r in failed]

    await proxy.up()
    await eventually(lambda: alert_receiver.events() == ["failing", "recovered"], 15, "the recovered notice")
    recovered = len(await _runs(service))
    await eventually(lambda: _more_runs(service, recovered + 1), 10, "another run after the recovery")

    assert alert_receiver.events() == ["failing", "recovered"], "one notice per change, no more"
    assert [notice["sync"] for notice in alert_receiver.notices] == ["customers", "customers"]
    assert all("customers" in notice["text"] for notice in alert_receiver.notices)
    assert (await service.view("customers")).status in ("idle", "running")
    connection = await asyncpg.connect(postgres_target)
    try:
        assert await connection.fetchval("SELECT count(*) FROM customers") == 5
    finally:
        await connection.close()


def _retrying_sync() -> str:
    return """\
        source: crm.contacts
        target: erp.customers
        schedule: {every: 1s}
        retry: {attempts: 2, backoff: 0.3s, max_backoff: 0.3s}
        fields:
          customer_no: id
          name: name
          email: email
        """


async def _failures(service: Service, count: int) -> bool:
    return (await service.store.states.get("customers")).failures >= count and "customers" not in (
        await service.store.leases.held()
    )


async def _last_status(service: Service, status: str) -> bool:
    runs = await _runs(service)
    return bool(runs) and runs[-1].status == status


async def _more_runs(service: Service, count: int) -> bool:
    runs = await _runs(service)
    return len(runs) >= count and runs[count - 1].status == "succeeded"


async def test_a_run_that_makes_no_progress_is_announced_stalled_once_and_recovered_once(
    project: Project, alert_receiver: AlertReceiver, start_service: StartService
) -> None:
    project.write(alerts=alert_receiver.url)
    project.customers_sync()
    project.add_contacts(4)
    settings = project.settings(stalled_after=timedelta(seconds=1), watch_every=timedelta(seconds=0.2))
    service = await start_service(settings)
    source_lock = sqlite3.connect(project.crm.path, isolation_level=None)
    try:
        source_lock.execute("BEGIN EXCLUSIVE")  # the source blocks the run's reads
        await service.trigger("customers")
        await eventually(lambda: alert_receiver.events() == ["stalled"], 5, "the stalled notice")
        assert (await service.view("customers")).status == "stalled"
        watched = alert_receiver.events()
        for _ in range(3):  # the watch looks again and again: still one notice
            await asyncio.sleep(settings.watch_every.total_seconds())
            watched = alert_receiver.events()
        assert watched == ["stalled"]
    finally:
        source_lock.close()
    await service.wait_for("customers")

    # sent in the background: the run's end does not wait for an alert URL
    await eventually(lambda: alert_receiver.events() != ["stalled"], 5, "the recovered notice")
    assert alert_receiver.events() == ["stalled", "recovered"]
    assert [run.status for run in await _runs(service)] == ["succeeded"]
    assert project.erp.count("customers") == 4
