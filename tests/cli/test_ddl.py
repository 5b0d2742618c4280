"""``brygga ddl SYNC`` prints a CREATE TABLE that each database runs as printed, and a run then fills it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cli.helpers import run_brygga
from tests.services import MARIADB_URL, FreshPostgresDatabase, require_service

PROJECT = """\
version: 1
systems:
  crm:
    connector: csv
    path: crm
    streams:
      customers: {file: customers.csv, key: id}
  erp:
    connector: sql
    url: "${ERP_DATABASE_URL}"
    streams:
      customers: {table: TABLE, key: id, cursor: changed_at, delete: {soft: deleted_at}}
      accounts: {table: accounts, key: code}
      tags: {table: tags, key: [customer, tag]}
  shop:
    connector: csv
    path: shop
    streams:
      customers: {file: customers.csv, key: id}
"""

SYNC = """\
source: crm.customers
target: erp.customers
fields:
  id: {from: id, type: integer}
  name: {from: name, required: true}
  email: email
  balance: {from: balance, type: decimal}
  score: {from: score, type: number}
  active: {from: active, type: boolean}
  born: {from: born, type: date}
  updated_at: {from: updated_at, type: datetime}
  note: {from: note, type: string}
  account: {lookup: {sync: accounts, from: account}}
"""

ACCOUNTS = """\
source: crm.customers
target: erp.accounts
fields:
  code: {from: account, type: integer}
"""

TAGS = """\
source: crm.customers
target: erp.tags
fields:
  customer: {from: id, type: integer}
  tag: {value: vip}
"""

TO_CSV = """\
source: crm.customers
target: shop.customers
fields:
  id: id
"""

CUSTOMERS = """\
id,name,email,balance,score,active,born,updated_at,note,account
1,Ann Berg,ann@example.com,12500.55,3.5,true,1980-04-01,2024-05-01T10:00:00Z,första,
2,Bo Ek,bo@example.com,0.10,1e3,false,1975-12-31,2024-05-02T11:30:00+02:00,,
"""


def _project(root: Path, table: str) -> Path:
    (root / "mappings").mkdir(parents=True)
    (root / "crm").mkdir()
    (root / "shop").mkdir()
    (root / "brygga.yaml").write_text(PROJECT.replace("TABLE", table), encoding="utf-8")
    (root / "mappings" / "customers.yaml").write_text(SYNC, encoding="utf-8")
    (root / "mappings" / "accounts.yaml").write_text(ACCOUNTS, encoding="utf-8")
    (root / "mappings" / "tags.yaml").write_text(TAGS, encoding="utf-8")
    (root / "mappings" / "to-shop.yaml").write_text(TO_CSV, encoding="utf-8")
    (root / "crm" / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    return root


async def _execute(url: str, statement: str) -> None:
    engine = create_async_engine(_async(url))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(_async(url))
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(f"SELECT id, name, balance, active FROM {table} ORDER BY id"))
            return [tuple(row) for row in result]
    finally:
        await engine.dispose()


def _async(url: str) -> str:
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "mysql": "mysql+asyncmy"}
    parsed = make_url(url)
    return parsed.set(drivername=driver[parsed.get_backend_name()]).render_as_string(hide_password=False)


async def _ddl_then_run(root: Path, url: str, table: str) -> str:
    env = {"ERP_DATABASE_URL": url}
    printed = run_brygga("ddl", "customers", cwd=root, env=env)
    assert printed.returncode == 0, printed.stderr
    await _execute(url, printed.stdout)
    ran = run_brygga("run", "customers", cwd=root, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "created 2" in ran.stdout
    rows = await _rows(url, table)
    assert [(row[0], row[1]) for row in rows] == [(1, "Ann Berg"), (2, "Bo Ek")]
    assert str(rows[0][2]).startswith("12500.55")
    assert bool(rows[0][3]) is True
    assert bool(rows[1][3]) is False
    return printed.stdout


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    require_service("postgresql")
    async with FreshPostgresDatabase() as url:
        yield url


@pytest.fixture
def mariadb_table() -> Iterator[str]:
    require_service("mariadb")
    yield f"customers_{uuid.uuid4().hex[:10]}"


async def test_sqlite(tmp_path: Path) -> None:
    root = _project(tmp_path, "customers")
    ddl = await _ddl_then_run(root, f"sqlite:///{tmp_path / 'erp.db'}", "customers")
    assert "CREATE TABLE customers" in ddl
    assert "PRIMARY KEY (id)" in ddl
    assert "balance NUMERIC(30, 10)" in ddl
    assert "updated_at DATETIME" in ddl
    assert "changed_at DATETIME" in ddl
    assert "deleted_at DATETIME" in ddl
    assert "email TEXT," in ddl
    assert "name TEXT NOT NULL," in ddl  # required: true
    assert "account BIGINT" in ddl  # the type of the key that the other sync writes


async def test_postgresql(tmp_path: Path, postgres_url: str) -> None:
    root = _project(tmp_path, "customers")
    ddl = await _ddl_then_run(root, postgres_url, "customers")
    assert "id BIGINT NOT NULL" in ddl
    assert "score DOUBLE PRECISION" in ddl
    assert "active BOOLEAN" in ddl
    assert "born DATE" in ddl
    assert "updated_at TIMESTAMP WITH TIME ZONE" in ddl
    assert "SERIAL" not in ddl


async def test_mariadb(tmp_path: Path, mariadb_table: str) -> None:
    root = _project(tmp_path, mariadb_table)
    try:
        ddl = await _ddl_then_run(root, MARIADB_URL, mariadb_table)
    finally:
        await _execute(MARIADB_URL, f"DROP TABLE IF EXISTS {mariadb_table}")
    assert "updated_at DATETIME" in ddl
    assert "score DOUBLE" in ddl
    assert "AUTO_INCREMENT" not in ddl


def test_a_text_key_is_a_bounded_varchar_and_a_key_may_have_several_fields(tmp_path: Path) -> None:
    """MariaDB cannot index a TEXT key: key columns without a length-free type are VARCHAR(255)."""
    root = _project(tmp_path, "customers")
    result = run_brygga("ddl", "tags", cwd=root, env={"ERP_DATABASE_URL": MARIADB_URL})
    assert result.returncode == 0, result.stderr
    assert "customer BIGINT NOT NULL" in result.stdout
    assert "tag VARCHAR(255) NOT NULL" in result.stdout
    assert "PRIMARY KEY (customer, tag)" in result.stdout


def test_the_output_says_it_is_for_review_and_never_run(tmp_path: Path) -> None:
    root = _project(tmp_path, "customers")
    result = run_brygga("ddl", "customers", cwd=root, env={"ERP_DATABASE_URL": "sqlite:///erp.db"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("--")
    assert "review" in result.stdout.lower()
    assert result.stdout.rstrip().endswith(";")
    assert not (root / "erp.db").exists()


def test_a_target_that_is_not_sql_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path, "customers")
    result = run_brygga("ddl", "to-shop", cwd=root, env={"ERP_DATABASE_URL": "sqlite:///erp.db"})
    assert result.returncode == 2
    assert "shop" in result.stderr
    assert "csv" in result.stderr
    assert "sql" in result.stderr
    assert result.stdout == ""


def test_an_unknown_sync_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path, "customers")
    result = run_brygga("ddl", "customer", cwd=root, env={"ERP_DATABASE_URL": "sqlite:///erp.db"})
    assert result.returncode == 2
    assert "did you mean 'customers'" in result.stderr
