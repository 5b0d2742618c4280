"""An alert URL that behaves badly holds nothing up (SPEC 2, 8): not the sync's runs, not the syncs that run
after it, not the watch over every sync; and no secret of the URL shows in the log.

The alert server is a raw local TCP server, so it can do what no well-behaved one does: answer a body of
500 MB a drop at a time, never answer, redirect to another host, fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.engine.service import Service
from tests.service.conftest import Project, eventually

SECRET = "alert-key-4b1f0c2e9d"
HEAD = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


class HostileAlertServer:
    """Takes each alert's notice, then answers as ``behaviour`` says:

    - ``drip``: 200 with a body of 500 MB, sent a kilobyte at a time, never ending while the sender listens
    - ``silent``: no answer at all, the connection held open
    - ``redirect``: 302 to another host (:attr:`elsewhere`, which keeps what reaches it)
    - ``error``: 500
    """

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.notices: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.hung_up = asyncio.Event()
        self.elsewhere: list[bytes] = []
        self._servers: list[asyncio.Server] = []
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen; the alert URL (with a secret in its query)."""
        port = await self._listen(self._alert)
        self.elsewhere_port = await self._listen(self._other_host)
        return f"http://127.0.0.1:{port}/hook?key=${{ALERT_KEY}}"

    async def _listen(self, handle: object) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._handlers.add(task)
            try:
                await handle(reader, writer)  # type: ignore[operator]
            except (ConnectionError, asyncio.IncompleteReadError):
                self.hung_up.set()
            finally:
                self._handlers.discard(task)
                writer.transport.abort()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def _alert(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.paths.append(head.split(b" ", 2)[1].decode())
        found = HEAD.search(head)
        self.notices.append(json.loads(await reader.readexactly(int(found.group(1)) if found else 0)))
        if self.behaviour == "drip":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 500000000\r\n\r\n")
            while not reader.at_eof():
                writer.write(b"x" * 1024)
                await writer.drain()
                await asyncio.sleep(0.05)
            self.hung_up.set()
        elif self.behaviour == "silent":
            await reader.read()  # until the sender gives up
            self.hung_up.set()
        elif self.behaviour == "redirect":
            location = f"http://localhost:{self.elsewhere_port}/stolen".encode()
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        else:
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops")
            await writer.drain()

    async def _other_host(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.elsewhere.append(await reader.read(65536))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    def events(self) -> list[str]:
        return [notice["event"] for notice in self.notices]

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)


@pytest.fixture(params=["drip", "silent", "redirect", "error"])
async def alert_server(request: pytest.FixtureRequest) -> AsyncIterator[HostileAlertServer]:
    server = HostileAlertServer(request.param)
    yield server
    await server.close()


async def test_a_hostile_alert_url_holds_up_no_run_no_follower_and_leaks_no_secret(
    project: Project, alert_server: HostileAlertServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    project.write(alerts=f'"{await alert_server.start()}"')
    project.customers_sync()
    project.people_sync(after="customers")
    project.add_contacts(3)
    settings = project.settings(stalled_after=timedelta(seconds=1), watch_every=timedelta(seconds=0.2))
    service = Service(settings, environ={"ALERT_KEY": SECRET})
    await service.start()
    source_lock = sqlite3.connect(project.crm.path, isolation_level=None)
    try:
        source_lock.execute("BEGIN EXCLUSIVE")  # the run cannot read: it stalls, and the watch says so
        await service.trigger("customers")
        await eventually(lambda: "stalled" in alert_server.events(), 10, "the stalled notice to reach the URL")
        source_lock.execute("ROLLBACK")

        await eventually(lambda: _succeeded(service, "people"), 10, "the run after customers, alert or not")
        if alert_server.behaviour != "silent":  # a URL that never answers is given up on after a while
            await eventually(lambda: "recovered" in alert_server.events(), 10, "the recovered notice to be sent")

        assert await _succeeded(service, "customers")
        assert project.erp.count("people") == 3
        if alert_server.behaviour == "drip":
            await asyncio.wait_for(alert_server.hung_up.wait(), 10)  # the body of the answer is not read
        assert alert_server.elsewhere == [], "a redirect is not followed to another host"
        assert all(path == f"/hook?key={SECRET}" for path in alert_server.paths)
        assert (await service.view("customers")).status in ("idle", "running")
    finally:
        source_lock.close()
        with contextlib.suppress(Exception):
            await service.stop()
    ours = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("brygga"))
    assert SECRET not in ours
    if alert_server.behaviour in ("redirect", "error"):
        assert "could not send the stalled alert" in ours, ours


async def _succeeded(service: Service, sync: str) -> bool:
    runs = await service.runs(sync, None, None, 10)
    return any(run.status == "succeeded" for run in runs)
