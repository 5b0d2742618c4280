"""Two-way between a PostgreSQL table of typed columns and a MariaDB table that keeps the same values as
DATETIME and text, through the real ``brygga`` CLI: values that read back in another form than written
(a date as midnight, a boolean, a UUID or a time of day as text, and back) cost at most one settling
write, never a write at every run (SPEC 3.1: "a run after a run writes nothing")."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncmy
import asyncpg
import pytest

from tests.cli.helpers import run_brygga
from tests.services import MARIADB_URL, POSTGRES_URL, require_service

COUNTS = re.compile(r"(to_[ab]): read \d+, created (\d+), updated (\d+), deleted (\d+)")


def _postgres(*statements: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _mariadb(*statements: str) -> None:
    database = MARIADB_URL.rsplit("/", 1)[1]

    async def run() -> None:
        connection = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", db=database, autocommit=True)
        try:
            async with connection.cursor() as cursor:
                for statement in statements:
                    await cursor.execute(statement)
        finally:
            connection.close()

    asyncio.run(run())


@pytest.fixture
def tables() -> Iterator[tuple[str, str]]:
    require_service("postgresql")
    require_service("mariadb")
    suffix = uuid.uuid4().hex[:10]
    crm, erp = f"contacts_{suffix}", f"customers_{suffix}"
    _postgres(
        f"CREATE TABLE {crm} (id int PRIMARY KEY, born date, active boolean, ref uuid, opens time)",
        f"INSERT INTO {crm} VALUES (1, '2024-02-29', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10:00:00.5')",
    )
    _mariadb(
        f"CREATE TABLE {erp} (id int PRIMARY KEY, born datetime, active text, ref text, opens text)",
        f"INSERT INTO {erp} VALUES (2, '2024-03-01 00:00:00', 'TRUE', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', '09:30')",
    )
    yield crm, erp
    _postgres(f"DROP TABLE {crm}")
    _mariadb(f"DROP TABLE {erp}")


def _project(folder: Path, crm: str, erp: str) -> Path:
    (folder / "mappings").mkdir()
    (folder / "brygga.yaml").write_text(
        f"""\
version: 1
state: sqlite:///state.db
systems:
  crm: {{connector: sql, url: "{POSTGRES_URL}", streams: {{contacts: {{table: {crm}, key: id}}}}}}
  erp: {{connector: sql, url: "{MARIADB_URL}", streams: {{customers: {{table: {erp}, key: id}}}}}}
"""
    )
    (folder / "mappings" / "crm-erp.yaml").write_text(
        "two_way: {a: crm.contacts, b: erp.customers}\n"
        "to_b: {id: id, born: born, active: active, ref: ref, opens: opens}\n"
        "to_a: {id: id, born: born, active: active, ref: ref, opens: opens}\n"
    )
    return folder / "brygga.yaml"


def test_values_that_read_back_in_another_form_settle_once_and_then_nothing_is_written(
    tmp_path: Path, tables: tuple[str, str]
) -> None:
    config = _project(tmp_path, *tables)
    writes: list[dict[str, int]] = []

    for _ in range(5):
        ran = run_brygga("run", "crm-erp", "-c", str(config))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        writes.append({m[1]: int(m[2]) + int(m[3]) + int(m[4]) for m in COUNTS.finditer(ran.stdout)})

    assert writes[0] == {"to_a": 1, "to_b": 1}, "each record created on the other side"
    assert writes[2:] == [{"to_a": 0, "to_b": 0}] * 3, f"a write at every run (ping-pong): {writes}"
