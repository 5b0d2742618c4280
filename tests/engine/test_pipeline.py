"""The commit queue: batches' state committed one at a time, in order, with a bounded backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app.engine.pipeline import CommitQueue


def _commit(name: str, log: list[str], gate: asyncio.Event | None = None) -> Callable[[], Awaitable[None]]:
    async def commit() -> None:
        log.append(f"{name} begins")
        if gate is not None:
            await gate.wait()
        log.append(f"{name} ends")

    return commit


async def test_commits_run_one_at_a_time_in_the_order_submitted() -> None:
    log: list[str] = []
    slow = asyncio.Event()
    queue = CommitQueue(depth=3)

    await queue.submit(_commit("a", log, slow))
    await queue.submit(_commit("b", log))
    await asyncio.sleep(0)
    assert log == ["a begins"], "b waits for a"
    slow.set()
    await queue.wait()

    assert log == ["a begins", "a ends", "b begins", "b ends"]


async def test_a_full_queue_makes_the_next_submit_wait_for_the_oldest_commit() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    queue = CommitQueue(depth=2)
    await queue.submit(_commit("a", log, gate))
    await queue.submit(_commit("b", log))

    third = asyncio.ensure_future(queue.submit(_commit("c", log)))
    await asyncio.sleep(0.01)
    assert not third.done(), "two commits wait already: the third submit waits for room"
    gate.set()
    await third
    await queue.wait()

    assert log == ["a begins", "a ends", "b begins", "b ends", "c begins", "c ends"]


async def test_a_failed_commit_stops_the_ones_after_it_and_is_raised() -> None:
    log: list[str] = []
    queue = CommitQueue(depth=3)

    async def broken() -> None:
        raise RuntimeError("state database gone")

    await queue.submit(broken)
    await queue.submit(_commit("after", log))

    with pytest.raises(RuntimeError, match="state database gone"):
        await queue.wait()
    assert log == [], "nothing after a failed commit is committed"
    await queue.wait()  # the queue is empty afterwards: nothing raised twice
