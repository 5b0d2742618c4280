"""A CRM ↔ ERP two-way project on real SQLite files whose tables behave like business systems': every change
stamps its row's change time (a trigger), and an audit trigger logs every row written and which of its
columns changed, so a test sees exactly what a run wrote."""

from __future__ import annotations

import sqlite3
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo

NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _table_sql(
    table: str, key: str, columns: list[str], stamp: str, *, lower: list[str] | None = None, extra: str = ""
) -> str:
    """A table, its change-time trigger, its audit triggers, and (``lower``) columns it lower-cases on save."""
    changed = " || ".join(f"CASE WHEN OLD.{c} IS NOT NEW.{c} THEN '{c},' ELSE '' END" for c in columns)
    lowering = ""
    for column in lower or []:
        lowering += f"""
CREATE TRIGGER {table}_lower_{column}_insert AFTER INSERT ON {table} WHEN NEW.{column} IS NOT lower(NEW.{column})
BEGIN UPDATE {table} SET {column} = lower(NEW.{column}) WHERE {key} = NEW.{key}; END;
CREATE TRIGGER {table}_lower_{column}_update AFTER UPDATE OF {column} ON {table}
WHEN NEW.{column} IS NOT lower(NEW.{column})
BEGIN UPDATE {table} SET {column} = lower(NEW.{column}) WHERE {key} = NEW.{key}; END;
"""
    return f"""
CREATE TABLE {table} (
    {key} INTEGER PRIMARY KEY, {", ".join(f"{c} TEXT" for c in columns)},{extra}
    {stamp} TIMESTAMP NOT NULL DEFAULT ({NOW})
);
CREATE TABLE audit (id INTEGER PRIMARY KEY, action TEXT, key INTEGER, changed TEXT);
CREATE TRIGGER {table}_stamp AFTER UPDATE ON {table} WHEN OLD.{stamp} IS NEW.{stamp}
BEGIN UPDATE {table} SET {stamp} = {NOW} WHERE {key} = NEW.{key}; END;
CREATE TRIGGER {table}_audit_update AFTER UPDATE ON {table} WHEN OLD.{stamp} IS NEW.{stamp}
BEGIN INSERT INTO audit (action, key, changed) VALUES ('update', NEW.{key}, {changed}); END;
CREATE TRIGGER {table}_audit_insert AFTER INSERT ON {table}
BEGIN INSERT INTO audit (action, key, changed) VALUES ('insert', NEW.{key}, ''); END;
CREATE TRIGGER {table}_audit_delete AFTER DELETE ON {table}
BEGIN INSERT INTO audit (action, key, changed) VALUES ('delete', OLD.{key}, ''); END;
{lowering}"""


CRM_COLUMNS = ["email", "phone", "name", "notes"]
"""``notes`` is the CRM's own: the sync never maps it."""
ERP_COLUMNS = ["email", "phone", "name", "internal"]
"""``internal`` is the ERP's own: the sync never maps it."""

PROJECT = """\
version: 1
state: {state}
systems:
  crm:
    connector: sql
    url: sqlite:///crm.db
    batch_size: {batch_size}
    streams:
      contacts: {{table: contacts, key: id, cursor: updated_at, delete: hard}}
  erp:
    connector: sql
    url: sqlite:///erp.db
    batch_size: {batch_size}
    streams:
      customers: {{table: customers, key: customer_no, cursor: modified_at, delete: hard}}
"""

SYNC = """\
two_way:
  a: crm.contacts
  b: erp.customers
  wins: {wins}
  newest: {{a: updated_at, b: modified_at}}
  delete_in: {delete_in}
retry: {{attempts: 2, backoff: 0s, max_backoff: 0s}}
to_b:
  customer_no: id
  email: email
  phone: phone
  name: name
to_a:
  id: customer_no
  email: email
  phone: {{from: phone, wins: b}}
  name: name
"""


class Database:
    """A SQLite file the test reads and changes directly, as the business system's users would."""

    def __init__(self, path: Path, table: str, key: str) -> None:
        self.path = path
        self.table = table
        self.key = key

    def execute(self, sql: str, *params: Any) -> None:
        connection = sqlite3.connect(self.path)
        try:
            with connection:
                connection.execute(sql, params)
        finally:
            connection.close()

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.path)
        try:
            return list(connection.execute(sql, params))
        finally:
            connection.close()

    def insert(self, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        marks = ", ".join("?" for _ in columns)
        connection = sqlite3.connect(self.path)
        try:
            with connection:
                connection.executemany(
                    f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({marks})",
                    [tuple(row[c] for c in columns) for row in rows],
                )
        finally:
            connection.close()

    def records(self, columns: list[str]) -> dict[int, dict[str, Any]]:
        """Every row, by key: these columns."""
        found = self.rows(f"SELECT {self.key}, {', '.join(columns)} FROM {self.table}")
        return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in found}

    def audit_mark(self) -> int:
        return int(self.rows("SELECT COALESCE(MAX(id), 0) FROM audit")[0][0])

    def audit_since(self, mark: int) -> list[tuple[str, int, str]]:
        """(action, key, changed columns) of every row written since ``mark``."""
        return [
            (row[0], row[1], row[2]) for row in self.rows("SELECT action, key, changed FROM audit WHERE id > ?", mark)
        ]


@dataclass
class TwoWayProject:
    file: Path
    crm: Database
    erp: Database

    async def run(self, *, full: bool = False) -> RunInfo:
        workspace = open_workspace(self.file, environ={})
        async with open_engine(workspace, sleep=_no_sleep) as engine:
            return await engine.run("crm-erp", RunOptions(full=full))

    def state_rows(self, sql: str) -> list[tuple[Any, ...]]:
        return Database(self.file.parent / "state.db", "", "").rows(sql)

    def write_sync(self, text: str) -> None:
        (self.file.parent / "mappings" / "crm-erp.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


async def _no_sleep(_seconds: float) -> None:
    return None


def make_two_way_project(
    folder: Path,
    *,
    wins: str = "a",
    delete_in: str = "[]",
    batch_size: int = 1000,
    erp_lowers: list[str] | None = None,
    state: str = "sqlite:///state.db",
    erp_extra: str = "",
    crm_extra: str = "",
) -> TwoWayProject:
    """The project; ``erp_extra`` and ``crm_extra`` add column definitions to the ERP's and the CRM's table
    (``"code TEXT NOT NULL,"``)."""
    crm = Database(folder / "crm.db", "contacts", "id")
    erp = Database(folder / "erp.db", "customers", "customer_no")
    for database, sql in (
        (crm, _table_sql("contacts", "id", CRM_COLUMNS, "updated_at", extra=crm_extra)),
        (erp, _table_sql("customers", "customer_no", ERP_COLUMNS, "modified_at", lower=erp_lowers, extra=erp_extra)),
    ):
        connection = sqlite3.connect(database.path)
        connection.executescript(sql)
        connection.close()
    (folder / "brygga.yaml").write_text(PROJECT.format(batch_size=batch_size, state=state))
    (folder / "mappings").mkdir(exist_ok=True)
    project = TwoWayProject(folder / "brygga.yaml", crm, erp)
    project.write_sync(SYNC.format(wins=wins, delete_in=delete_in))
    return project
