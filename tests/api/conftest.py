"""A CRM → ERP project on real SQLite files, served by a real ``brygga serve``, with secrets given by ``${VAR}``."""

from __future__ import annotations

import sqlite3
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from tests.api.serve_process import Api, Exchange, ServeProcess
from tests.engine.conftest import CRM_SCHEMA, ERP_SCHEMA, Database

PROJECT = """\
version: 1
state: sqlite:///state.db
api:
  tokens:
    - {name: watcher, token: "${TEST_VIEWER_TOKEN}", role: viewer}
    - {name: admin, token: "${TEST_OPERATOR_TOKEN}", role: operator}
alerts:
  - {url: "http://127.0.0.1:9/alerts?key=${TEST_ALERT_KEY}", on: [failing, recovered, stalled]}
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    streams:
      companies: {table: companies, key: id, cursor: updated_at}
      contacts: {table: contacts, key: id, cursor: updated_at}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams:
      accounts: {table: accounts, key: account_no}
      customers: {table: customers, key: customer_no}
"""

CONTACTS_SYNC = """\
description: "Every CRM contact is a customer of ${TEST_TENANT} in the ERP."
source: crm.contacts
target: erp.customers
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields:
  customer_no: id
  name: {from: first_name, transform: strip}
  email: {from: email, transform: [strip, lower], required: true}
"""

COMPANIES_SYNC = """\
source: crm.companies
target: erp.accounts
fields:
  account_no: "{{ 'A' ~ record.id }}"
  name: name
"""


@dataclass(frozen=True)
class Secrets:
    """Every value the project takes from the environment: none may leave the service."""

    viewer: str = field(default_factory=lambda: f"view-{uuid.uuid4().hex}")
    operator: str = field(default_factory=lambda: f"oper-{uuid.uuid4().hex}")
    alert_key: str = field(default_factory=lambda: f"alert-{uuid.uuid4().hex}")
    tenant: str = field(default_factory=lambda: f"tenant-{uuid.uuid4().hex[:12]}")
    db_password: str = field(default_factory=lambda: f"pw-{uuid.uuid4().hex}")

    def env(self) -> dict[str, str]:
        return {
            "TEST_VIEWER_TOKEN": self.viewer,
            "TEST_OPERATOR_TOKEN": self.operator,
            "TEST_ALERT_KEY": self.alert_key,
            "TEST_TENANT": self.tenant,
            "TEST_DB_PASSWORD": self.db_password,
        }


@dataclass
class ApiProject:
    """The project on disk and its two business databases."""

    file: Path
    crm: Database
    erp: Database
    secrets: Secrets

    def write_sync(self, name: str, text: str) -> None:
        (self.file.parent / "mappings" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


def make_project(folder: Path) -> ApiProject:
    folder.mkdir(parents=True, exist_ok=True)
    crm, erp = Database(folder / "crm.db"), Database(folder / "erp.db")
    for database, schema in ((crm, CRM_SCHEMA), (erp, ERP_SCHEMA)):
        with sqlite3.connect(database.path) as connection:
            connection.executescript(schema)
        connection.close()
    (folder / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (folder / "mappings").mkdir(exist_ok=True)
    project = ApiProject(folder / "brygga.yaml", crm, erp, Secrets())
    project.write_sync("contacts", CONTACTS_SYNC)
    project.write_sync("companies", COMPANIES_SYNC)
    return project


SERVICE_ENV = {"BRYGGA_SHUTDOWN_GRACE": "2s", "BRYGGA_LEASE_TTL": "30s"}


@dataclass
class Served:
    """A project under a running ``brygga serve``, and clients for each role."""

    project: ApiProject
    process: ServeProcess
    anonymous: Api

    @property
    def viewer(self) -> Api:
        return self.anonymous.as_(self.project.secrets.viewer)

    @property
    def operator(self) -> Api:
        return self.anonymous.as_(self.project.secrets.operator)


@dataclass
class Evidence:
    """Every answer the API tests got and every served process's log: what the secrets scan reads."""

    exchanges: list[Exchange] = field(default_factory=list)
    processes: list[ServeProcess] = field(default_factory=list)
    secrets: list[Secrets] = field(default_factory=list)


@pytest.fixture(scope="session")
def evidence() -> Evidence:
    return Evidence()


class ServeFactory(Protocol):
    def __call__(self, project: ApiProject, env: Mapping[str, str] | None = None) -> Served:
        """Serve ``project``, with ``env`` (``BRYGGA_*`` settings) added to :data:`SERVICE_ENV`."""


@pytest.fixture
def serve(evidence: Evidence) -> Iterator[ServeFactory]:
    """Start ``brygga serve`` on a project; stopped (and checked to be gone) after the test."""
    started: list[Served] = []

    def serve(project: ApiProject, env: Mapping[str, str] | None = None) -> Served:
        environment = {**SERVICE_ENV, **(env or {}), **project.secrets.env()}
        process = ServeProcess(project.file, environment, project.file.parent / "logs")
        evidence.processes.append(process)
        evidence.secrets.append(project.secrets)
        served = Served(project, process.start(), Api(process.url, evidence.exchanges))
        started.append(served)
        return served

    yield serve
    left: list[AssertionError] = []
    for served in started:
        served.anonymous.client.close()
        try:
            served.process.stop()
        except AssertionError as exc:  # stop every one of them before saying so
            left.append(exc)
    assert not left, left


@pytest.fixture
def project(tmp_path: Path) -> ApiProject:
    return make_project(tmp_path / "project")
