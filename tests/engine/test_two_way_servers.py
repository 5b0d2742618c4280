"""Two-way between real PostgreSQL and MariaDB business systems (issue 19: SQL ↔ SQL across kinds): a seeded
test of random edits on both sides; after every run both sides agree under the mapping, and a second run
writes nothing. Skipped where a server is unreachable (failed under ``BRYGGA_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.engine.runner import RunOptions, open_engine
from app.engine.workspace import open_workspace
from app.store import RunInfo
from tests.services import MARIADB_URL, POSTGRES_URL, require_service

FIELDS = ("email", "phone", "name")
WINNER = {"email": "a", "name": "a", "phone": "b"}
RECORDS = 100
ROUNDS = 5

SYNC = """\
two_way:
  a: crm.contacts
  b: erp.customers
  delete_in: [a, b]
retry: {attempts: 2, backoff: 0s, max_backoff: 0s}
to_b: {id: id, email: email, phone: phone, name: name}
to_a: {id: id, email: email, phone: {from: phone, wins: b}, name: name}
"""


@dataclass
class Side:
    """A business system's table, which the test reads and edits as its users would."""

    engine: AsyncEngine
    table: Table

    async def records(self) -> dict[int, dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(self.table))
            return {row.id: {name: getattr(row, name) for name in FIELDS} for row in rows}

    async def edit(self, key: int, values: dict[str, Any]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(update(self.table).where(self.table.c.id == key).values(values))

    async def add(self, key: int, values: dict[str, Any]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(insert(self.table), [{"id": key, **values}])

    async def remove(self, key: int) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(delete(self.table).where(self.table.c.id == key))


@pytest.fixture
async def sides() -> AsyncIterator[tuple[Side, Side]]:
    require_service("postgresql")
    require_service("mariadb")
    suffix = uuid.uuid4().hex[:10]
    made: list[Side] = []
    for url, base in ((POSTGRES_URL, "contacts"), (MARIADB_URL, "customers")):
        engine_url = url.replace("postgresql://", "postgresql+asyncpg://", 1).replace("mysql://", "mysql+asyncmy://", 1)
        engine = create_async_engine(engine_url)
        table = Table(
            f"{base}_{suffix}",
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=False),
            *(Column(name, String(100)) for name in FIELDS),
            Column("own", String(100)),  # the system's own field: never mapped
        )
        async with engine.begin() as connection:
            await connection.run_sync(table.create)
        made.append(Side(engine, table))
    try:
        yield made[0], made[1]
    finally:
        for side in made:
            async with side.engine.begin() as connection:
                await connection.run_sync(side.table.drop, checkfirst=True)
            await side.engine.dispose()


def project_file(root: Path, crm: Side, erp: Side) -> Path:
    systems = {
        "crm": {
            "connector": "sql",
            "url": POSTGRES_URL,
            "streams": {"contacts": {"table": crm.table.name, "key": "id", "delete": "hard"}},
        },
        "erp": {
            "connector": "sql",
            "url": MARIADB_URL,
            "streams": {"customers": {"table": erp.table.name, "key": "id", "delete": "hard"}},
        },
    }
    (root / "brygga.yaml").write_text(json.dumps({"version": 1, "state": "sqlite:///state.db", "systems": systems}))
    (root / "mappings").mkdir()
    (root / "mappings" / "crm-erp.yaml").write_text(SYNC)
    return root / "brygga.yaml"


async def run(path: Path) -> RunInfo:
    async with open_engine(open_workspace(path, environ={})) as engine:
        return await engine.run("crm-erp", RunOptions())


async def test_random_edits_between_postgresql_and_mariadb_settle_and_a_second_run_writes_nothing(
    tmp_path: Path, sides: tuple[Side, Side]
) -> None:
    rng = random.Random(1921)
    crm, erp = sides
    path = project_file(tmp_path, crm, erp)
    for n in range(RECORDS):
        await crm.add(n, {"email": f"p{n}@crm.se", "phone": f"07{n}", "name": f"P {n}", "own": "crm"})
    first = await run(path)
    assert first.status == "succeeded", first.error
    assert first.counts.created == RECORDS
    assert await crm.records() == await erp.records()

    for number in range(ROUNDS):
        expected = await crm.records()
        conflicts = 0
        for index, key in enumerate(rng.sample(sorted(expected), 20)):
            value, name, kind = f"r{number}-{index}", rng.choice(FIELDS), index % 4
            if kind == 0:  # one side only
                await rng.choice((crm, erp)).edit(key, {name: value})
                expected[key][name] = value
            elif kind == 1:  # the same field to different values
                await crm.edit(key, {name: value + "a"})
                await erp.edit(key, {name: value + "b"})
                expected[key][name] = value + WINNER[name]
                conflicts += 1
            elif kind == 2:  # different fields, and each system's own field
                other = rng.choice([field for field in FIELDS if field != name])
                await crm.edit(key, {name: value + "a", "own": value})
                await erp.edit(key, {other: value + "b", "own": value})
                expected[key][name], expected[key][other] = value + "a", value + "b"
            else:  # deleted on one side: deleted on the other
                await rng.choice((crm, erp)).remove(key)
                del expected[key]
        for side, key in ((crm, 10_000 + number), (erp, 20_000 + number)):
            values = {"email": f"n{key}@x.se", "phone": str(key), "name": f"New {key}"}
            await side.add(key, values)
            expected[key] = values

        result = await run(path)

        assert result.status == "succeeded", result.error
        assert await crm.records() == expected, f"round {number}: PostgreSQL is not what the rules say"
        assert await erp.records() == expected, f"round {number}: MariaDB is not what the rules say"
        assert result.conflicts == conflicts

        again = await run(path)
        assert again.status == "succeeded", again.error
        assert again.counts.changed == 0 and again.conflicts == 0, f"round {number}: a second run wrote"
