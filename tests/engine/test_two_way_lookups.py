"""`lookup` fields in a two-way sync (SPEC 3, 3.1), over SQLite ↔ SQLite: contacts in the CRM and customers
in the ERP, whose company goes through a companies sync both ways. ``to_b`` asks the companies sync for the
account its company became (forward); ``to_a`` carries an account back to the company linked with it
(reverse). Children wait for their parents, as dead letters of their direction, never failing the run.

The companies sync is one-way CRM → ERP, two-way with the CRM as a, or two-way with the ERP as a (then
``to_b`` reads its ID map backwards and ``to_a`` forwards): the contacts sync is the same file each time.
Company keys differ between the systems (account_no is the company's id + 100), so a lookup that went the
wrong way would give a wrong key, not a right one by chance.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from app.engine.preview import preview_sync
from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo

PROJECT = """\
version: 1
state: sqlite:///state.db
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
      accounts: {table: accounts, key: account_no, cursor: modified_at}
      customers: {table: customers, key: customer_no, cursor: modified_at}
"""

CONTACTS = """\
name: contacts
two_way: {a: crm.contacts, b: erp.customers}
retry: {attempts: 1, backoff: 0s, max_backoff: 0s}
to_b:
  customer_no: id
  name: name
  account_no: {lookup: {sync: companies, from: company_id}}
to_a:
  id: customer_no
  name: name
  company_id: {lookup: {sync: companies, from: account_no}}
"""

COMPANIES = {
    "one-way": """\
name: companies
source: crm.companies
target: erp.accounts
fields:
  account_no: "{{ record.id + 100 }}"
  name: name
""",
    "two-way, crm as a": """\
name: companies
two_way: {a: crm.companies, b: erp.accounts}
to_b:
  account_no: "{{ record.id + 100 }}"
  name: name
to_a:
  id: "{{ record.account_no - 100 }}"
  name: name
""",
    "two-way, erp as a": """\
name: companies
two_way: {a: erp.accounts, b: crm.companies}
to_b:
  id: "{{ record.account_no - 100 }}"
  name: name
to_a:
  account_no: "{{ record.id + 100 }}"
  name: name
""",
}

FORWARD_WAITS = (
    "sync contacts, record 1, field account_no: lookup: company_id 1 has no target key in sync companies yet"
)
REVERSE_WAITS = (
    "sync contacts, record 50, field company_id: lookup: account_no 102 is not linked with a record in sync"
    " companies yet"
)
WAITING = {  # with the ERP as the companies sync's a, to_b reads its ID map backwards and to_a forwards
    "one-way": [FORWARD_WAITS, REVERSE_WAITS],
    "two-way, crm as a": [FORWARD_WAITS, REVERSE_WAITS],
    "two-way, erp as a": [
        "sync contacts, record 1, field account_no: lookup: company_id 1 is not linked with a record in sync"
        " companies yet",
        "sync contacts, record 50, field company_id: lookup: account_no 102 has no target key in sync companies yet",
    ],
}

STAMP = "modified_at TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))"


def _stamped(table: str, key: str, stamp: str) -> str:
    return (
        f"CREATE TRIGGER {table}_stamp AFTER UPDATE ON {table} WHEN OLD.{stamp} IS NEW.{stamp} BEGIN"
        f" UPDATE {table} SET {stamp} = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE {key} = NEW.{key}; END;"
    )


SCHEMAS = {
    "crm.db": f"""
CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT, {STAMP.replace("modified_at", "updated_at")});
CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, company_id INTEGER,
    {STAMP.replace("modified_at", "updated_at")});
{_stamped("companies", "id", "updated_at")}
{_stamped("contacts", "id", "updated_at")}
""",
    "erp.db": f"""
CREATE TABLE accounts (account_no INTEGER PRIMARY KEY, name TEXT, {STAMP});
CREATE TABLE customers (customer_no INTEGER PRIMARY KEY, name TEXT, account_no INTEGER, {STAMP});
{_stamped("accounts", "account_no", "modified_at")}
{_stamped("customers", "customer_no", "modified_at")}
""",
}


class Systems:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def sql(self, database: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.folder / database)
        try:
            with connection:
                return list(connection.execute(statement, params))
        finally:
            connection.close()

    async def run(self, sync: str) -> RunInfo:
        workspace = open_workspace(self.folder / "brygga.yaml", environ={})
        async with open_engine(workspace, sleep=_no_sleep) as engine:
            return await engine.run(sync, RunOptions())

    def state(self, statement: str) -> list[tuple[Any, ...]]:
        return self.sql("state.db", statement)

    def contacts(self) -> dict[int, tuple[str, int | None]]:
        rows = self.sql("crm.db", "SELECT id, name, company_id FROM contacts")
        return {key: (name, company) for key, name, company in rows}

    def customers(self) -> dict[int, tuple[str, int | None]]:
        return {
            key: (name, account)
            for key, name, account in self.sql("erp.db", "SELECT customer_no, name, account_no FROM customers")
        }


async def _no_sleep(_seconds: float) -> None:
    return None


def _systems(folder: Path, companies: str) -> Systems:
    for database, schema in SCHEMAS.items():
        connection = sqlite3.connect(folder / database)
        connection.executescript(schema)
        connection.close()
    (folder / "brygga.yaml").write_text(PROJECT, encoding="utf-8")
    (folder / "mappings").mkdir()
    (folder / "mappings" / "contacts.yaml").write_text(CONTACTS, encoding="utf-8")
    (folder / "mappings" / "companies.yaml").write_text(COMPANIES[companies], encoding="utf-8")
    return Systems(folder)


@pytest.mark.parametrize("companies", list(COMPANIES))
async def test_children_wait_for_their_parents_then_their_company_goes_through_the_companies_sync_both_ways(
    tmp_path: Path, companies: str
) -> None:
    systems = _systems(tmp_path, companies)
    systems.sql("crm.db", "INSERT INTO companies (id, name) VALUES (1, 'Acme'), (2, 'Bolt')")
    systems.sql("crm.db", "INSERT INTO contacts (id, name, company_id) VALUES (1, 'Ann', 1), (2, 'Bo', NULL)")
    systems.sql("erp.db", "INSERT INTO customers (customer_no, name, account_no) VALUES (50, 'Cy', 102)")

    waiting = await systems.run("contacts")  # the companies are not linked yet

    assert waiting.status == "partial", waiting.error
    assert waiting.counts_by_direction is not None
    assert (waiting.counts_by_direction["to_b"].failed, waiting.counts_by_direction["to_a"].failed) == (1, 1)
    assert systems.customers() == {50: ("Cy", 102), 2: ("Bo", None)}  # Bo has no company: a null looks up null
    letters = systems.state("SELECT direction, source_key, reason FROM dead_letters ORDER BY direction")
    assert letters == [("to_a", "50", "lookup"), ("to_b", "1", "lookup")]
    errors = systems.state(f"SELECT error FROM record_log WHERE run_id = {waiting.id} AND action = 'failed'")
    assert sorted(error for (error,) in errors) == WAITING[companies]

    parents = await systems.run("companies")
    assert parents.status == "succeeded", parents.error
    assert sorted(systems.sql("erp.db", "SELECT account_no, name FROM accounts")) == [(101, "Acme"), (102, "Bolt")]

    children = await systems.run("contacts")  # the dead letters are settled again

    assert children.status == "succeeded", children.error
    assert systems.customers() == {50: ("Cy", 102), 1: ("Ann", 101), 2: ("Bo", None)}
    assert systems.contacts() == {1: ("Ann", 1), 2: ("Bo", None), 50: ("Cy", 2)}
    assert systems.state("SELECT count(*) FROM dead_letters") == [(0,)]

    systems.sql("erp.db", "UPDATE customers SET account_no = 101 WHERE customer_no = 50")  # Cy moves to Acme
    systems.sql("crm.db", "UPDATE contacts SET company_id = 2 WHERE id = 2")  # Bo joins Bolt
    moved = await systems.run("contacts")
    again = await systems.run("contacts")

    assert moved.status == "succeeded", moved.error
    assert moved.counts_by_direction is not None
    assert (moved.counts_by_direction["to_b"].updated, moved.counts_by_direction["to_a"].updated) == (1, 1)
    assert systems.customers() == {50: ("Cy", 101), 1: ("Ann", 101), 2: ("Bo", 102)}
    assert systems.contacts() == {1: ("Ann", 1), 2: ("Bo", 2), 50: ("Cy", 1)}
    assert again.counts.changed == 0 and again.conflicts == 0, again  # a looked-up value read back is no change


async def test_a_company_created_in_the_erp_reaches_the_crm_and_its_customers_follow_it(tmp_path: Path) -> None:
    """With a two-way companies sync, a parent new on b's side is linked by that sync, and the child's
    reverse lookup finds it."""
    systems = _systems(tmp_path, "two-way, crm as a")
    systems.sql("erp.db", "INSERT INTO accounts (account_no, name) VALUES (207, 'Dyn')")
    systems.sql("erp.db", "INSERT INTO customers (customer_no, name, account_no) VALUES (60, 'Di', 207)")

    assert (await systems.run("companies")).status == "succeeded"
    children = await systems.run("contacts")

    assert children.status == "succeeded", children.error
    assert systems.sql("crm.db", "SELECT id, name FROM companies") == [(107, "Dyn")]
    assert systems.contacts() == {60: ("Di", 107)}


async def test_a_looked_up_field_changed_on_both_sides_is_a_conflict_settled_by_wins(tmp_path: Path) -> None:
    systems = _systems(tmp_path, "one-way")
    systems.sql("crm.db", "INSERT INTO companies (id, name) VALUES (1, 'Acme'), (2, 'Bolt'), (3, 'Cog')")
    systems.sql("crm.db", "INSERT INTO contacts (id, name, company_id) VALUES (1, 'Ann', 1)")
    await systems.run("companies")
    await systems.run("contacts")
    systems.sql("crm.db", "UPDATE contacts SET company_id = 2 WHERE id = 1")
    systems.sql("erp.db", "UPDATE customers SET account_no = 103 WHERE customer_no = 1")

    run = await systems.run("contacts")  # wins: a (the default)

    assert run.status == "succeeded" and run.conflicts == 1, run
    assert systems.contacts() == {1: ("Ann", 2)} and systems.customers() == {1: ("Ann", 102)}


async def test_preview_shows_looked_up_keys_both_ways_and_writes_nothing(tmp_path: Path) -> None:
    systems = _systems(tmp_path, "one-way")
    systems.sql("crm.db", "INSERT INTO companies (id, name) VALUES (1, 'Acme'), (2, 'Bolt')")
    systems.sql("crm.db", "INSERT INTO contacts (id, name, company_id) VALUES (1, 'Ann', 1), (3, 'Ed', 9)")
    systems.sql("erp.db", "INSERT INTO customers (customer_no, name, account_no) VALUES (50, 'Cy', 102)")
    await systems.run("companies")

    workspace = open_workspace(tmp_path / "brygga.yaml", environ={})
    async with open_engine(workspace, sleep=_no_sleep) as engine:
        rows = await preview_sync(engine, "contacts", 10)

    shown = {(row.direction, row.source_key): (row.action, row.mapped, row.error) for row in rows}
    assert shown[("to_b", "1")] == ("create", {"customer_no": 1, "name": "Ann", "account_no": "101"}, None)
    assert shown[("to_a", "50")] == ("create", {"id": 50, "name": "Cy", "company_id": "2"}, None)
    action, _, error = shown[("to_b", "3")]
    assert action == "fail" and "company_id 9 has no target key in sync companies yet" in (error or "")
    assert systems.contacts() == {1: ("Ann", 1), 3: ("Ed", 9)} and systems.customers() == {50: ("Cy", 102)}
