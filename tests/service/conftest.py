"""A small project for the service on SQLite files, the service in-process, ``brygga serve`` in a subprocess,
and a local HTTP server that receives alerts.

The project: ``crm.contacts`` (SQLite) is the source; ``erp.customers`` and ``erp.people`` (SQLite,
unless a test points ``erp`` elsewhere) are the targets; the state database is ``state.db`` unless a
test gives another. Syncs are written by each test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.engine.service import Service
from app.engine.settings import ServiceSettings
from tests.cli.helpers import BRYGGA

T0 = "2024-03-01 12:00:00"

CRM_SCHEMA = "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, email TEXT, updated_at TIMESTAMP NOT NULL);"
ERP_SCHEMA = """
CREATE TABLE customers (customer_no INTEGER PRIMARY KEY, name TEXT, email TEXT);
CREATE TABLE people (person_no INTEGER PRIMARY KEY, name TEXT);
"""

PROJECT = """\
version: 1
state: {state}
systems:
  crm:
    connector: sql
    url: {crm_url}
    batch_size: {batch_size}
    streams:
      contacts: {{table: contacts, key: id, cursor: updated_at}}
      everyone: {{table: contacts, key: id}}
  erp:
    connector: sql
    url: {erp_url}
    streams:
      customers: {{table: customers, key: customer_no}}
      people: {{table: people, key: person_no}}
retention: {{runs: {retention}, records: {retention}}}
"""

CUSTOMERS_SYNC = """\
source: crm.{source}
target: erp.customers
retry: {{attempts: 1, backoff: 0s, max_backoff: 0s}}
{extra}
fields:
  customer_no: id
  name: {name}
  email: email
"""

PEOPLE_SYNC = """\
source: crm.contacts
target: erp.people
retry: {{attempts: 1, backoff: 0s, max_backoff: 0s}}
{extra}
fields:
  person_no: id
  name: name
"""


class Database:
    """A SQLite file the test reads and changes directly."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def execute(self, sql: str, *params: Any) -> None:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:
                connection.execute(sql, params)
        finally:
            connection.close()

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            return list(connection.execute(sql, params))
        finally:
            connection.close()

    def count(self, table: str) -> int:
        """Rows in ``table``; -1 while a writer keeps the file locked."""
        try:
            return int(self.rows(f"SELECT count(*) FROM {table}")[0][0])
        except sqlite3.OperationalError:
            return -1


@dataclass
class Project:
    """The project on disk and its databases."""

    root: Path
    crm: Database
    erp: Database
    state: Database
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> Path:
        return self.root / "brygga.yaml"

    def write(self, **options: Any) -> None:
        """(Re)write ``brygga.yaml``: ``state``, ``crm_url``, ``erp_url``, ``batch_size``, ``retention``, ``alerts``."""
        self.options.update(options)
        values = {
            "state": "sqlite:///state.db",
            "crm_url": "sqlite:///crm.db?timeout=30",
            "erp_url": "sqlite:///erp.db",
            "batch_size": 1000,
            "retention": "30d",
            **self.options,
        }
        alerts = values.pop("alerts", None)
        text = PROJECT.format(**values)
        if alerts is not None:
            text += f"alerts:\n  - {{url: {alerts}}}\n"
        self.file.write_text(text, encoding="utf-8")

    def write_sync(self, name: str, text: str) -> Path:
        path = self.root / "mappings" / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def customers_sync(
        self, schedule: str | None = None, *, name: str = "name", after: str | None = None, source: str = "contacts"
    ) -> None:
        """The sync ``customers``: crm.contacts (or ``source``: ``everyone`` is read whole at every run)
        → erp.customers, with ``name`` mapped from ``name`` (or the given field form)."""
        extra = _extra(schedule, after)
        self.write_sync("customers", CUSTOMERS_SYNC.format(extra=extra, name=name, source=source))

    def people_sync(self, schedule: str | None = None, *, after: str | None = None) -> None:
        """The sync ``people``: crm.contacts → erp.people."""
        self.write_sync("people", PEOPLE_SYNC.format(extra=_extra(schedule, after)))

    def add_contacts(self, count: int, start: int = 1) -> None:
        rows = [(n, f"Name {n}", f"person{n}@example.com", T0) for n in range(start, start + count)]
        connection = sqlite3.connect(self.crm.path, timeout=30)
        try:
            with connection:
                connection.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?)", rows)
        finally:
            connection.close()

    def settings(self, **given: Any) -> ServiceSettings:
        """Settings for an in-process service: short timings, overridable by ``given``."""
        defaults: dict[str, Any] = {
            "config": self.file,
            "failing_after": 2,
            "backoff": timedelta(seconds=1),
            "max_backoff": timedelta(seconds=2),
            "lease_ttl": timedelta(seconds=3),
            "shutdown_grace": timedelta(seconds=3),
        }
        return ServiceSettings(**{**defaults, **given})


def _extra(schedule: str | None, after: str | None) -> str:
    lines = []
    if schedule is not None:
        lines.append(f"schedule: {schedule}")
    if after is not None:
        lines.append(f"after: {after}")
    return "\n".join(lines)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """The project with empty tables and no syncs yet."""
    made = Project(
        tmp_path, Database(tmp_path / "crm.db"), Database(tmp_path / "erp.db"), Database(tmp_path / "state.db")
    )
    for database, schema in ((made.crm, CRM_SCHEMA), (made.erp, ERP_SCHEMA)):
        connection = sqlite3.connect(database.path)
        try:
            connection.executescript(schema)
        finally:
            connection.close()
    (tmp_path / "mappings").mkdir()
    made.write()
    return made


# --- waiting ----------------------------------------------------------------------------


async def eventually(condition: Callable[[], Awaitable[bool] | bool], timeout: float, what: str) -> None:
    """Wait until ``condition`` holds, checking often; fail after ``timeout`` seconds, saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


# --- the service in-process -------------------------------------------------------------


@pytest.fixture
async def start_service() -> AsyncIterator[Callable[[ServiceSettings], Awaitable[Service]]]:
    """Start a :class:`Service` (several may share a state database); each is stopped at the end."""
    started: list[Service] = []

    async def start(settings: ServiceSettings) -> Service:
        service = Service(settings, environ={})
        await service.start()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        await service.stop()


# --- brygga serve in a subprocess -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """One ``brygga serve`` process; its log goes to a file the test can read."""

    def __init__(self, project_file: Path, log: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log
        environment = {key: value for key, value in os.environ.items() if not key.startswith("BRYGGA_")}
        environment.update({"NO_COLOR": "1", "COLUMNS": "200", **env})
        command = [str(BRYGGA), "serve", "--port", str(self.port), "-c", str(project_file)]
        with log.open("ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=environment)
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"brygga serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.client.get("/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"brygga serve did not become ready in {timeout}s:\n{self.log()}")

    def signal(self, number: signal.Signals) -> None:
        self.process.send_signal(number)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end; close the client."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.client.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``brygga serve`` for a project file (``env``: BRYGGA_* settings); every one is stopped at the end."""
    started: list[Served] = []

    def start(project_file: Path, env: dict[str, str] | None = None, *, ready: bool = True) -> Served:
        served = Served(project_file, tmp_path / f"serve-{len(started)}.log", env or {})
        started.append(served)
        if ready:
            served.wait_ready()
        return served

    yield start
    for served in started:
        served.stop()


# --- alerts ----------------------------------------------------------------------------------


class AlertReceiver:
    """A local HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.notices: list[dict[str, Any]] = []
        received = self.notices

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def events(self) -> list[str]:
        return [notice["event"] for notice in list(self.notices)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def alert_receiver() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    yield receiver
    receiver.close()
