"""A call that will not stop holds its caller no longer than the grace after its task is asked to stop, from
its deadline or from outside; a call that stops, or ends, is awaited as a plain ``await`` would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from app.engine import stuck_calls
from app.engine.stuck_calls import LeftRunning, calls_left_running, unless_stuck


@pytest.fixture
def released() -> Iterator[asyncio.Event]:
    """Ends the calls a test leaves running, so that its event loop can end."""
    event = asyncio.Event()
    yield event
    event.set()


async def _swallowing(released: asyncio.Event, swallowed: asyncio.Event) -> str:
    """Wait until ``released``, catching each cancellation (``swallowed`` then) and carrying on."""
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            swallowed.set()
    return "ended"


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stuck_calls, "CANCEL_GRACE", 0.2)


async def test_a_call_stopped_from_outside_that_swallows_it_lets_its_caller_go(released: asyncio.Event) -> None:
    swallowed = asyncio.Event()
    left: list[str] = []
    calling = asyncio.ensure_future(
        unless_stuck(_swallowing(released, swallowed), "reading", left=lambda: left.append(""))
    )
    await asyncio.sleep(0)
    calling.cancel()

    with pytest.raises(LeftRunning):
        await asyncio.wait_for(calling, 10)

    assert swallowed.is_set()
    assert left == [""]
    assert calls_left_running() == ["reading"]
    released.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert calls_left_running() == []


async def test_a_call_that_ends_within_the_grace_gives_its_result(released: asyncio.Event) -> None:
    swallowed = asyncio.Event()

    async def calling() -> str:
        async with asyncio.timeout(0.05):
            return await unless_stuck(_swallowing(released, swallowed), "reading", left=lambda: None)

    task = asyncio.ensure_future(calling())
    await swallowed.wait()
    released.set()

    assert await task == "ended"


async def test_a_call_that_lets_its_cancellation_through_is_cancelled_as_ever() -> None:
    async def calling() -> None:
        async with asyncio.timeout(0.01):
            await unless_stuck(asyncio.Event().wait(), "reading", left=lambda: None)

    with pytest.raises(TimeoutError):
        await calling()
    assert calls_left_running() == []
