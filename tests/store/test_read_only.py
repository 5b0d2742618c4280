"""The state database opened only to read (``brygga preview``): nothing created, migrated or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.errors import StoreError
from app.store import BatchChanges, IdMapping, Store
from app.store.database import state_url as async_url

SYNC = "contacts"


async def _tables(url: str, root: Path) -> list[str]:
    engine = create_async_engine(async_url(url, root))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()


async def test_a_state_database_not_there_reads_as_empty_and_is_not_created(state_url: str, tmp_path: Path) -> None:
    store = await Store.open_to_read(state_url, tmp_path)
    try:
        assert await store.checkpoint(SYNC) is None
        assert await store.id_map(SYNC, ["1", "2"]) == {}
        assert await store.target_keys([(SYNC, "1")]) == {}
    finally:
        await store.close()

    if state_url.startswith("sqlite"):
        assert list(tmp_path.iterdir()) == []
    else:
        assert await _tables(state_url, tmp_path) == []


async def test_it_reads_what_runs_stored_and_refuses_to_write(state_url: str, tmp_path: Path) -> None:
    writer = await Store.open(state_url, tmp_path)
    run_id = await writer.start_run(SYNC, "manual")
    changes = BatchChanges(new_mappings=[("1", "C-1", "hash-1")], checkpoint={"updated_at": "2024-05-01"})
    await writer.commit_batch(SYNC, run_id, changes)
    await writer.finish_run(run_id, "succeeded")
    await writer.close()

    reader = await Store.open_to_read(state_url, tmp_path)
    try:
        assert await reader.checkpoint(SYNC) == {"updated_at": "2024-05-01"}
        assert await reader.id_map(SYNC, ["1", "2"]) == {"1": IdMapping("C-1", "hash-1")}
        with pytest.raises(StoreError):
            await reader.start_run(SYNC, "manual")
        with pytest.raises(StoreError):
            await reader.forget_checkpoint(SYNC)
        assert await reader.checkpoint(SYNC) == {"updated_at": "2024-05-01"}
        assert [run.id for run in (await reader.last_runs()).values()] == [run_id]
    finally:
        await reader.close()


async def test_an_older_schema_is_not_upgraded_and_says_what_to_do(state_url: str, tmp_path: Path) -> None:
    writer = await Store.open(state_url, tmp_path)
    async with writer.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    await writer.close()

    with pytest.raises(StoreError) as caught:
        await Store.open_to_read(state_url, tmp_path)

    assert "older schema (revision 0004)" in str(caught.value)
    assert "`brygga run SYNC` or `brygga serve`" in str(caught.value)
    engine = create_async_engine(async_url(state_url, tmp_path))
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == "0004"
    await engine.dispose()
