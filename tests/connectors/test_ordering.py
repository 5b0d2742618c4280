"""Overlapping calls change a system in the order they were made; one failing fails those waiting behind it."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import EarlierWriteFailed
from connectors.ordering import CallOrder, Turn


async def _call(turn: Turn, name: str, changes: list[str], ready: asyncio.Event, fail: bool = False) -> None:
    """A call: prepares until ``ready``, then waits for its turn and changes the system (or fails)."""
    try:
        await ready.wait()
        if fail:
            turn.fail()
            raise RuntimeError(f"{name} failed")
        await turn.wait()
        changes.append(name)
    finally:
        turn.end()


async def _let_others_run() -> None:
    """Every task that can go on (no waits on the outside here) goes as far as it can."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_later_call_ready_first_changes_the_system_after_the_earlier_one() -> None:
    order, changes = CallOrder(), list[str]()
    first_ready, second_ready = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(_call(order.turn(), "first", changes, first_ready))
    second = asyncio.create_task(_call(order.turn(), "second", changes, second_ready))

    second_ready.set()
    await _let_others_run()
    assert changes == []  # staged, waiting for the first
    first_ready.set()
    await asyncio.gather(first, second)

    assert changes == ["first", "second"]


async def test_a_call_waiting_behind_one_that_fails_fails_without_changing_anything() -> None:
    order, changes = CallOrder(), list[str]()
    ready = asyncio.Event()
    first = asyncio.create_task(_call(order.turn(), "first", changes, ready, fail=True))
    second = asyncio.create_task(_call(order.turn(), "second", changes, ready))
    ready.set()

    with pytest.raises(RuntimeError):
        await first
    with pytest.raises(EarlierWriteFailed):
        await second
    retried = order.turn()  # the earlier call made again after the failure: it goes on, and so does the next
    await _call(retried, "first again", changes, ready)
    await _call(order.turn(), "second again", changes, ready)

    assert changes == ["first again", "second again"]
    assert order.failed == []  # every call has ended: the failure is forgotten


async def test_a_call_that_ends_early_still_holds_back_the_next_until_every_earlier_one_ended() -> None:
    order, changes = CallOrder(), list[str]()
    slow_ready = asyncio.Event()
    slow = asyncio.create_task(_call(order.turn(), "slow", changes, slow_ready))
    nothing = order.turn()
    nothing.end()  # changed nothing (say, every record failed to convert) and ended at once
    last_ready = asyncio.Event()
    last = asyncio.create_task(_call(order.turn(), "last", changes, last_ready))
    last_ready.set()
    await _let_others_run()

    assert changes == []
    slow_ready.set()
    await asyncio.gather(slow, last)
    assert changes == ["slow", "last"]
