"""SQLite state: this process's transactions take turns on one connection the store keeps open, rather
than taking one from the pool each (which rolls it back again as it goes back: a trip per transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from app.store import Store


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'state.db'}", tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


async def test_transactions_in_turn_take_no_connection_from_the_pool(sqlite_store: Store) -> None:
    store = sqlite_store
    await store.checkpoint("warm")
    taken: list[Any] = []
    event.listen(store.engine.sync_engine, "checkout", lambda *args: taken.append(args))

    slot = datetime(2024, 3, 1, tzinfo=UTC)
    await asyncio.gather(*(store.states.claim_due(f"s{n}", slot, slot) for n in range(5)))
    run_id = await store.start_run("s0", "schedule")
    await store.finish_run(run_id, "succeeded")

    assert taken == []
    assert [run.status for run in (await store.history.runs("s0", None, None, 10))] == ["succeeded"]


async def test_a_failed_transaction_is_rolled_back_and_the_next_one_goes_on(sqlite_store: Store) -> None:
    store = sqlite_store
    with pytest.raises(ZeroDivisionError):
        async with store._begin() as connection:
            await store.states.set_paused("kept", True)  # its own transaction, inside this one's turn
            await connection.exec_driver_sql("INSERT INTO leases (name, holder, expires_at) VALUES ('x', 'p', 0)")
            raise ZeroDivisionError

    assert await store.leases.held() == {}, "rolled back"
    assert (await store.states.get("kept")).paused, "the transaction begun inside the turn committed on its own"
    assert await store.leases.acquire("x", "p", timedelta(seconds=60))
