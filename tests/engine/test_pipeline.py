"""The commit queue: batches' state committed in order, with a bounded backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from app.engine.pipeline import CommitQueue, WaitForBefore


def _commit(name: str, log: list[str], gate: asyncio.Event | None = None) -> Callable[[WaitForBefore], Awaitable[None]]:
    """A commit that, like the store's, writes first ("begins"), then waits for the one before, then ends."""

    async def commit(wait_for_before: WaitForBefore) -> None:
        log.append(f"{name} begins")
        if gate is not None:
            await gate.wait()
        await wait_for_before()
        log.append(f"{name} ends")

    return commit


async def test_commits_overlap_but_end_in_the_order_submitted() -> None:
    log: list[str] = []
    slow = asyncio.Event()
    queue = CommitQueue(depth=3)

    await queue.submit(_commit("a", log, slow))
    await queue.submit(_commit("b", log))
    await asyncio.sleep(0.01)
    assert log == ["a begins", "b begins"], "b is under way, and waits for a to end"
    slow.set()
    await queue.wait()

    assert log == ["a begins", "b begins", "a ends", "b ends"]


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

    assert log == ["a begins", "b begins", "a ends", "b ends", "c begins", "c ends"]


async def test_a_failed_commit_stops_the_ones_after_it_and_is_raised() -> None:
    log: list[str] = []
    queue = CommitQueue(depth=3)

    async def broken(wait_for_before: WaitForBefore) -> None:
        raise RuntimeError("state database gone")

    await queue.submit(broken)
    await queue.submit(_commit("after", log))

    with pytest.raises(RuntimeError, match="state database gone"):
        await queue.wait()
    assert log == ["after begins"], "nothing after a failed commit ends (is committed)"
    await queue.wait()  # the queue is empty afterwards: nothing raised twice
