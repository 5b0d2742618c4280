"""A PostgreSQL table with values Python cannot hold, synced with the real ``brygga`` CLI (SPEC 8).

One row with a date before year 1, or ``infinity``, stopped every run of the
sync: the whole read failed. Now the other rows arrive, the bad ones are dead
letters that say what to do, an ``infinity`` cursor does not stop later
changes from being read, and a fixed row arrives on the next run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.cli.helpers import run_brygga
from tests.services import POSTGRES_URL, require_service

ROWS = [
    "(1, 'Ada', '2030-01-01', '{\"price\": 12345678901234567890.123}', '2024-01-01')",
    "(2, 'Bo', 'infinity', NULL, '2024-01-02')",
    "(3, 'Cy', '0044-03-15 BC', NULL, '2024-01-03')",
    "(4, 'Di', '9999-12-31', NULL, '2024-01-04')",
    "(5, 'Ed', '2031-01-01', NULL, 'infinity')",  # its cursor is no moment: the record syncs, the cursor stays
    "(6, 'Fa', NULL, NULL, '2024-01-05')",
]


def _sql(*statements: str) -> list[list[tuple[object, ...]]]:
    async def run() -> list[list[tuple[object, ...]]]:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            return [[tuple(row) for row in await connection.fetch(statement)] for statement in statements]
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.fixture
def tables() -> Iterator[tuple[str, str]]:
    require_service("postgresql")
    suffix = uuid.uuid4().hex[:10]
    source, target = f"contracts_{suffix}", f"contracts_copy_{suffix}"
    _sql(
        f"CREATE TABLE {source} (id int PRIMARY KEY, name text, valid_to date, terms jsonb, updated_at timestamp)",
        f"CREATE TABLE {target} (id int PRIMARY KEY, name text, valid_to date, terms jsonb)",
        f"INSERT INTO {source} VALUES {', '.join(ROWS)}",
    )
    yield source, target
    _sql(f"DROP TABLE {source}", f"DROP TABLE {target}")


def _project(tmp_path: Path, source: str, target: str) -> Path:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "brygga.yaml").write_text(
        f"""\
version: 1
state: sqlite:///state.db
systems:
  erp:
    connector: sql
    url: {POSTGRES_URL}
    batch_size: 2
    streams:
      contracts: {{table: {source}, key: id, cursor: updated_at}}
  warehouse:
    connector: sql
    url: {POSTGRES_URL}
    streams:
      contracts: {{table: {target}, key: id}}
"""
    )
    fields = "{id: id, name: name, valid_to: valid_to, terms: terms}"
    (tmp_path / "mappings" / "contracts.yaml").write_text(
        f"source: erp.contracts\ntarget: warehouse.contracts\nfields: {fields}\n"
    )
    return tmp_path / "brygga.yaml"


def test_bad_rows_fail_alone_the_others_sync_and_later_changes_are_read(
    tmp_path: Path, tables: tuple[str, str]
) -> None:
    source, target = tables
    project = _project(tmp_path, source, target)

    first = run_brygga("run", "contracts", "-c", str(project))
    (synced,) = _sql(f"SELECT id, valid_to::text, CASE WHEN id = 1 THEN terms::text END FROM {target} ORDER BY id")
    _sql(
        f"INSERT INTO {source} VALUES (7, 'Gus', '2032-01-01', NULL, '2024-02-01')",
        f"UPDATE {source} SET valid_to = '2035-01-01', updated_at = '2024-02-02' WHERE id = 2",
    )
    second = run_brygga("run", "contracts", "-c", str(project))
    (later,) = _sql(f"SELECT id FROM {target} ORDER BY id")

    assert first.returncode == 1, first.stdout + first.stderr  # partial: some records failed
    assert "read 6, created 4, updated 0, deleted 0, unchanged 0, skipped 0, failed 2" in first.stdout
    assert (
        "failed 2: sync contracts, record 2: the mapped record field 'valid_to' holds infinity "
        "(erp.contracts, column valid_to): infinity is no date Brygga can hold: read the column as text in the "
        "stream's query (valid_to::text), or without it (CASE WHEN isfinite(valid_to) THEN valid_to END)"
    ) in first.stdout
    assert (
        "failed 3: sync contracts, record 3: the mapped record field 'valid_to' holds 0044-03-15 BC "
        "(erp.contracts, column valid_to): a date outside the years 1 to 9999"
    ) in first.stdout
    assert synced == [
        (1, "2030-01-01", '{"price": 12345678901234567890.123}'),
        (4, "9999-12-31", None),  # not infinity
        (5, "2031-01-01", None),
        (6, None, None),
    ]
    # the dead letters tried again (the corrected row 2 created), then the changes since the cursor: 6 and
    # 5 (whose cursor is infinity) unchanged, 7 new
    assert "created 2, updated 0, deleted 0" in second.stdout, second.stdout
    assert "skipped 0, failed 1\n" in second.stdout
    assert "failed 3: sync contracts, record 3:" in second.stdout  # still a dead letter
    assert "failed 2:" not in second.stdout
    assert later == [(1,), (2,), (4,), (5,), (6,), (7,)]
