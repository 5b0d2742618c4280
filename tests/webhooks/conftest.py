"""A project whose systems push webhooks into SQLite files, served in-process or by a real ``brygga serve``.

Systems, one per way a delivery proves where it came from, each with a sync
(``webhook: true``) of the same name into ``erp.customers``:

- ``signed``: Standard Webhooks (``verify: standard``), records at ``data``;
- ``hub``: GitHub style (``verify: github``), the record at ``contact``;
- ``tokened``: a bearer token (``verify: token``), the body is the record or a list of them;
- ``local``: ``verify: none`` (loopback only), records at ``items``, ``delete_when`` an ``action`` of ``deleted``;
- ``small``: ``verify: none`` with ``max_body: 1KiB``;
- ``crm``: a SQL system without a ``webhook`` block;
- ``shop``: the same SQL table as ``crm``, with thin events (``fetch: true``, keys at ``changed``).

The in-process service is :func:`app.api.app.create_app` under httpx's ASGITransport; ``brygga serve`` is
:class:`tests.api.serve_process.ServeProcess`. Secrets come from ``${VAR}``, as in production.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from app.api.app import create_app
from app.engine.service import Service
from app.engine.settings import ServiceSettings
from tests.api.serve_process import Api, ServeProcess, wait_until
from tests.engine.conftest import Database
from tests.service.conftest import eventually
from tests.services import FreshPostgresDatabase, require_service

PROJECT = """\
version: 1
state: {state}
api:
  tokens:
    - {{name: ops, token: "${{OPS_TOKEN}}", role: operator}}
systems:
  signed:
    connector: webhook
    streams: {{contacts: {{key: id}}}}
    webhook: {{verify: standard, secret: "${{STANDARD_SECRET}}", stream: contacts, records: data}}
  hub:
    connector: webhook
    streams: {{contacts: {{key: id}}}}
    webhook: {{verify: github, secret: "${{GITHUB_SECRET}}", stream: contacts, records: contact}}
  tokened:
    connector: webhook
    streams: {{contacts: {{key: id}}}}
    webhook: {{verify: token, secret: "${{SENDER_TOKEN}}", stream: contacts}}
  local:
    connector: webhook
    streams: {{contacts: {{key: id}}}}
    webhook:
      verify: none
      stream: contacts
      records: items
      delete_when: "{delete_when}"
  small:
    connector: webhook
    streams: {{contacts: {{key: id}}}}
    webhook: {{verify: none, stream: contacts, max_body: 1KiB}}
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams: {{contacts: {{table: contacts, key: id}}}}
  shop:
    connector: sql
    url: sqlite:///crm.db
    streams: {{contacts: {{table: contacts, key: id}}}}
    webhook: {{verify: none, stream: contacts, records: changed, fetch: true}}
  erp:
    connector: sql
    url: {erp_url}
    streams: {{customers: {{table: customers, key: customer_no, delete: hard}}}}
"""

SYNC = """\
source: {system}.contacts
target: erp.customers
webhook: true
retry: {{attempts: 1, backoff: 0s, max_backoff: 0s}}
fields:
  customer_no: id
  name: {name}
  email: {{from: email, required: true}}
"""

WEBHOOK_SYSTEMS = ("signed", "hub", "tokened", "local", "small", "shop")
ERP_SCHEMA = "CREATE TABLE customers (customer_no INTEGER PRIMARY KEY, name TEXT, email TEXT)"
CRM_SCHEMA = "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, email TEXT)"
DELETE_WHEN = "{{ event.action == 'deleted' }}"


@dataclass(frozen=True)
class Secrets:
    """What the project reads from the environment."""

    standard: str = field(default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    github: str = field(default_factory=lambda: secrets.token_hex(16))
    sender_token: str = field(default_factory=lambda: secrets.token_hex(16))
    operator: str = field(default_factory=lambda: secrets.token_hex(16))

    def env(self) -> dict[str, str]:
        return {
            "STANDARD_SECRET": self.standard,
            "GITHUB_SECRET": self.github,
            "SENDER_TOKEN": self.sender_token,
            "OPS_TOKEN": self.operator,
        }


@dataclass(frozen=True)
class StateDatabase:
    """Read the state database directly, whether SQLite (a file) or PostgreSQL (a URL)."""

    url: str | None
    path: Path

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url is None:
            return Database(self.path).rows(sql)
        return asyncio.run(self._postgres_rows(sql))

    async def _postgres_rows(self, sql: str) -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()


@dataclass
class WebhookProject:
    """The project on disk: its target database, its state database and its secrets."""

    root: Path
    secrets: Secrets = field(default_factory=Secrets)

    @property
    def file(self) -> Path:
        return self.root / "brygga.yaml"

    @property
    def crm(self) -> Database:
        return Database(self.root / "crm.db")

    @property
    def erp(self) -> Database:
        return Database(self.root / "erp.db")

    @property
    def state(self) -> StateDatabase:
        """The state database, SQLite or PostgreSQL, as the project file says."""
        url = self.file.read_text(encoding="utf-8").split("state: ", 1)[1].split("\n", 1)[0]
        return StateDatabase(url if url.startswith("postgresql") else None, self.root / "state.db")

    def write(self, *, state: str = "sqlite:///state.db", delete_when: str = DELETE_WHEN) -> None:
        erp_url = "sqlite:///erp.db"
        self.file.write_text(PROJECT.format(state=state, erp_url=erp_url, delete_when=delete_when), encoding="utf-8")

    def write_sync(self, system: str, *, name: str = "name") -> None:
        """The sync named after ``system``: its contacts → erp.customers, ``name`` mapped by ``name``."""
        text = SYNC.format(system=system, name=name)
        (self.root / "mappings" / f"{system}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")

    def customers(self) -> list[tuple[Any, ...]]:
        """The target's rows, by key."""
        return self.erp.rows("SELECT customer_no, name, email FROM customers ORDER BY customer_no")

    def stored(self) -> dict[str, int]:
        """How many rows the inbox, the run history and the target hold."""
        counts = {
            table: len(self.state.rows(f"SELECT 1 FROM {table}"))
            for table in ("webhook_events", "webhook_progress", "runs", "record_log", "dead_letters")
        }
        return counts | {"customers": len(self.customers())}


NOTHING_STORED = {
    "webhook_events": 0,
    "webhook_progress": 0,
    "runs": 0,
    "record_log": 0,
    "dead_letters": 0,
    "customers": 0,
}


def make_project(root: Path) -> WebhookProject:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mappings").mkdir(exist_ok=True)
    for name, schema in (("erp.db", ERP_SCHEMA), ("crm.db", CRM_SCHEMA)):
        connection = sqlite3.connect(root / name)
        try:
            connection.execute(schema)
            connection.commit()
        finally:
            connection.close()
    project = WebhookProject(root)
    project.write()
    for system in WEBHOOK_SYSTEMS:
        project.write_sync(system)
    return project


@pytest.fixture
def project(tmp_path: Path) -> WebhookProject:
    return make_project(tmp_path / "project")


@pytest.fixture
def postgres_state() -> Iterator[str]:
    """The URL of a PostgreSQL database of this test's own, for the state (skipped where there is none)."""
    require_service("postgresql")
    database = FreshPostgresDatabase()
    url = asyncio.run(database.__aenter__())
    try:
        yield url
    finally:
        asyncio.run(database.__aexit__(None, None, None))


@pytest.fixture(params=["sqlite", "postgresql"])
def state_project(request: pytest.FixtureRequest, project: WebhookProject) -> WebhookProject:
    """The project, with its state in SQLite (the default) or in PostgreSQL."""
    if request.param == "postgresql":
        project.write(state=request.getfixturevalue("postgres_state"))
    return project


# --- signing, as the senders do ----------------------------------------------------------


def contact(key: int, name: str | None = None, email: str | None = None) -> dict[str, Any]:
    return {"id": key, "name": name or f"Name {key}", "email": email if email is not None else f"p{key}@example.com"}


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def standard_headers(
    secret: str, body: bytes, delivery: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers, signed by the ``standardwebhooks`` package's own signer."""
    delivery = delivery or f"msg_{secrets.token_hex(8)}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=delivery, timestamp=at, data=body.decode())
    return {
        "webhook-id": delivery,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def github_headers(secret: str, body: bytes, delivery: str | None = None) -> dict[str, str]:
    """GitHub's headers: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "x-hub-signature-256": f"sha256={digest}",
        "x-github-event": "contact",
        "content-type": "application/json",
    }
    if delivery is not None:
        headers["x-github-delivery"] = delivery
    return headers


TEN_MINUTES_AGO = timedelta(minutes=-10)


# --- the service in-process ------------------------------------------------------------------


@dataclass
class InProcess:
    """``create_app`` with its service started, and clients: ``hooks`` for senders, ``api`` for an operator."""

    app: FastAPI
    project: WebhookProject
    hooks: httpx.AsyncClient
    api: httpx.AsyncClient

    @property
    def service(self) -> Service:
        service: Service = self.app.state.service
        return service

    async def send(self, system: str, payload: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """POST a delivery, signed the way ``system`` verifies (``headers`` added, or overriding)."""
        body = payload if isinstance(payload, bytes) else body_of(payload)
        return await self.hooks.post(f"/webhooks/{system}", content=body, headers=self.sign(system, body, headers))

    def sign(self, system: str, body: bytes, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        given = {name.lower(): value for name, value in (headers or {}).items()}
        if system == "signed":
            return standard_headers(self.project.secrets.standard, body, given.get("webhook-id")) | given
        if system == "hub":
            return github_headers(self.project.secrets.github, body, given.get("x-github-delivery")) | given
        if system == "tokened":
            return {"authorization": f"Bearer {self.project.secrets.sender_token}"} | given
        return given

    async def events(self) -> list[dict[str, Any]]:
        """Every stored event, newest first."""
        answer = await self.api.get("/api/v1/webhook-events", params={"limit": 500})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def event(self, event_id: str | int) -> dict[str, Any]:
        found = [event for event in await self.events() if event["id"] == int(event_id)]
        assert len(found) == 1, f"no event {event_id}"
        return found[0]

    async def settled(self, *event_ids: str | int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until none of these events is pending; the events."""
        wanted = {int(event_id) for event_id in event_ids}
        found: list[dict[str, Any]] = []

        async def done() -> bool:
            found[:] = [event for event in await self.events() if event["id"] in wanted]
            return len(found) == len(wanted) and all(event["status"] != "pending" for event in found)

        await eventually(done, timeout, f"events {sorted(wanted)} to be processed")
        return sorted(found, key=lambda event: int(event["id"]))

    async def runs(self, sync: str) -> list[dict[str, Any]]:
        answer = await self.api.get("/api/v1/runs", params={"sync": sync, "limit": 500})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def idle(self, sync: str, timeout: float = 10) -> None:
        """Wait until no run of ``sync`` is going on here, and no wake-up is under way."""

        async def quiet() -> bool:
            await self.service.webhooks.close()  # the wake-ups under way: each starts a run or gives up
            answer = await self.api.get(f"/api/v1/syncs/{sync}")
            return bool(answer.json()["status"] != "running")

        await eventually(quiet, timeout, f"sync {sync} to be idle")

    async def metric(self, name: str, **labels: str) -> float:
        return metric_value((await self.hooks.get("/metrics")).text, name, **labels)


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample's value in Prometheus text (0 when it is not there)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


InProcessFactory = Callable[..., Awaitable[InProcess]]


async def aftermath(timeout: float = 10) -> None:
    """Let the service's background work end (a run's aftermath goes on after the run is marked finished;
    ``Service.stop`` does not wait for it, and would close the state database under it)."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if others:
        _, late = await asyncio.wait(others, timeout=timeout)
        assert not late, f"background tasks still running after {timeout}s: {late}"


@pytest.fixture
async def in_process(tmp_path: Path) -> AsyncIterator[InProcessFactory]:
    """Start the app on a project (by default a fresh one); stopped after the test."""
    stacks: list[tuple[Any, InProcess]] = []

    async def start(
        project: WebhookProject | None = None, *, client: tuple[str, int] = ("127.0.0.1", 40000)
    ) -> InProcess:
        project = project or make_project(tmp_path / f"project-{len(stacks)}")
        settings = ServiceSettings(
            config=project.file, lease_ttl=timedelta(seconds=5), shutdown_grace=timedelta(seconds=3)
        )
        app = create_app(settings, environ=project.secrets.env())
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, client=client)
        hooks = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", timeout=10)
        token = {"Authorization": f"Bearer {project.secrets.operator}"}
        api = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", headers=token, timeout=10)
        running = InProcess(app, project, hooks, api)
        stacks.append((lifespan, running))
        return running

    yield start
    await aftermath()
    for lifespan, running in reversed(stacks):
        await running.hooks.aclose()
        await running.api.aclose()
        await lifespan.__aexit__(None, None, None)


# --- brygga serve ------------------------------------------------------------------------------


SERVE_ENV = {"BRYGGA_SHUTDOWN_GRACE": "2s", "BRYGGA_LEASE_TTL": "10s", "BRYGGA_BACKOFF": "1s"}


@dataclass
class Served:
    """A ``brygga serve`` of a project, and clients: ``hooks`` for senders, ``api`` for an operator."""

    project: WebhookProject
    process: ServeProcess
    hooks: httpx.Client
    api: Api

    def send(self, system: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        return self.hooks.post(f"/webhooks/{system}", content=body, headers=dict(headers))

    def events(self) -> list[dict[str, Any]]:
        return [event for page in self.api.pages("/api/v1/webhook-events", limit=500) for event in page["items"]]

    def settled(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        """Wait until ``count`` events are stored and none is pending; the events."""
        found: list[dict[str, Any]] = []

        def done() -> bool:
            found[:] = self.events()
            return len(found) == count and all(event["status"] != "pending" for event in found)

        wait_until(done, timeout, f"{count} events processed")
        return found

    def kill(self) -> None:
        """SIGKILL, at once: no shutdown, no grace."""
        popen = self.process.process
        assert popen is not None
        popen.kill()
        popen.wait(10)
        self.process.stop()  # reaps it and checks nothing of its process group is left


@pytest.fixture
def serve() -> Iterator[Callable[[WebhookProject], Served]]:
    """Start ``brygga serve`` on a project; every one is stopped (and checked to be gone) after the test."""
    started: list[Served] = []

    def start(project: WebhookProject) -> Served:
        logs = project.root / "logs" / str(len(started))
        process = ServeProcess(project.file, {**SERVE_ENV, **project.secrets.env()}, logs).start()
        served = Served(
            project,
            process,
            httpx.Client(base_url=process.url, timeout=15),
            Api(process.url, [], project.secrets.operator),
        )
        started.append(served)
        return served

    yield start
    for served in started:
        served.hooks.close()
        served.api.close()
        served.process.stop()
