"""A small CRM → ERP project on real SQLite files, and the engine to run its syncs."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.engine.runner import Engine, RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo

T0 = "2024-03-01 12:00:00"

CRM_SCHEMA = """
CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT, updated_at TIMESTAMP NOT NULL);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY, first_name TEXT, email TEXT, status TEXT, company_id INTEGER, credit TEXT,
    updated_at TIMESTAMP NOT NULL
);
"""
ERP_SCHEMA = """
CREATE TABLE accounts (account_no TEXT PRIMARY KEY, name TEXT);
CREATE TABLE customers (
    customer_no INTEGER PRIMARY KEY, name TEXT, email TEXT, account_no TEXT, credit NUMERIC, deleted_at TIMESTAMP
);
"""

PROJECT = """\
version: 1
state: sqlite:///state.db
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    batch_size: {batch_size}
    streams:
      companies: {{table: companies, key: id, cursor: updated_at}}
      contacts: {{table: contacts, key: id, cursor: updated_at{lookback}}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    streams:
      accounts: {{table: accounts, key: account_no}}
      customers: {{table: customers, key: customer_no, delete: hard}}
"""

CONTACTS_SYNC = """\
source: crm.contacts
target: erp.customers
mode: {mode}
where: "{{{{ record.status != 'archived' }}}}"
retry: {{attempts: 2, backoff: 0s, max_backoff: 0s}}
fields:
  customer_no: id
  name: {{from: first_name, transform: strip}}
  email: {{from: email, transform: [strip, lower], required: true}}
  credit: {{from: credit, type: decimal, decimal_mark: ","}}
"""

COMPANIES_SYNC = """\
source: crm.companies
target: erp.accounts
fields:
  account_no: "{{ 'A' ~ record.id }}"
  name: name
"""

CHILD_SYNC = """\
source: crm.contacts
target: erp.customers
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
fields:
  customer_no: id
  name: first_name
  email: email
  account_no: {lookup: {sync: companies, from: company_id}}
"""


class Database:
    """A SQLite file the test reads and changes directly, as the business system's users would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def execute(self, sql: str, *params: Any) -> None:
        with sqlite3.connect(self.path) as connection:
            connection.execute(sql, params)
        connection.close()

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        marks = ", ".join("?" for _ in columns)
        with sqlite3.connect(self.path) as connection:
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", [tuple(row.values()) for row in rows]
            )
        connection.close()

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.path)
        try:
            return list(connection.execute(sql, params))
        finally:
            connection.close()


@dataclass
class Project:
    """The project on disk, its two databases, and a way to run its syncs."""

    file: Path
    crm: Database
    erp: Database

    async def run(
        self, sync: str, *, full: bool = False, engine_hook: Callable[[Engine], None] | None = None
    ) -> RunInfo:
        workspace = open_workspace(self.file, environ={})
        async with open_engine(workspace, sleep=_no_sleep) as engine:
            if engine_hook is not None:
                engine_hook(engine)
            return await engine.run(sync, RunOptions(full=full))

    def write_sync(self, name: str, text: str) -> None:
        (self.file.parent / "mappings" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


async def _no_sleep(_seconds: float) -> None:
    return None


ProjectFactory = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Build the project; ``mode`` goes into the contacts sync, ``batch_size`` to the CRM."""

    def make(mode: str = "upsert", batch_size: int = 1000, lookback: str | None = None) -> Project:
        crm, erp = Database(tmp_path / "crm.db"), Database(tmp_path / "erp.db")
        for database, schema in ((crm, CRM_SCHEMA), (erp, ERP_SCHEMA)):
            with sqlite3.connect(database.path) as connection:
                connection.executescript(schema)
            connection.close()
        extra = f", lookback: {lookback}" if lookback else ""
        (tmp_path / "brygga.yaml").write_text(PROJECT.format(batch_size=batch_size, lookback=extra))
        (tmp_path / "mappings").mkdir(exist_ok=True)
        project = Project(tmp_path / "brygga.yaml", crm, erp)
        project.write_sync("contacts", CONTACTS_SYNC.format(mode=mode))
        return project

    return make


def contact(id: int, name: str = "Ann", email: str | None = None, *, status: str = "active", at: str = T0,
            company: int | None = None, credit: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "id": id, "first_name": name, "email": email if email is not None else f"person{id}@example.com",
        "status": status, "company_id": company, "credit": credit, "updated_at": at,
    }  # fmt: skip


async def state_rows(project: Project, sql: str) -> list[tuple[Any, ...]]:
    return Database(project.file.parent / "state.db").rows(sql)
