"""Awaiting a connector's call so that a call which will not stop cannot hold its caller.

A call is awaited in the caller's own task, as a plain ``await`` would: it starts at once, and a
cancellation of the task (a deadline, a stop from outside) reaches it as ever. A connector that swallows
its cancellation (``except BaseException: continue``), or waits on a thread that never returns and shields
that wait, would hold its caller for ever: here, once the caller's task is asked to stop, the call gets
:data:`CANCEL_GRACE` seconds to end; then what is left of it is handed to a task of its own and left
running (:func:`calls_left_running`), and :class:`LeftRunning` is raised to the caller, which goes on.

Not a task per call from the start (as Python 3.11's ``wait_for`` does): that task's first step would
come a turn of the event loop later, so a write's first round trip would wait for the next batch's
planning instead of overlapping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

_T = TypeVar("_T")

CANCEL_GRACE = 2.0
"""Seconds a call asked to stop gets to end (its ``finally`` blocks, a connection closed) before it is
given up on and left running."""

_left_running: dict[asyncio.Task[Any], str] = {}
"""The calls given up on that have not ended yet, each with what it was doing (held here, as the event loop
holds tasks weakly)."""


class LeftRunning(Exception):
    """The call did not end within :data:`CANCEL_GRACE` of its task being asked to stop: it is left running
    in a task of its own."""


def calls_left_running() -> list[str]:
    """What the calls given up on and still running were doing: what a process that ends need not wait for."""
    return [doing for task, doing in _left_running.items() if not task.done()]


@types.coroutine
def unless_stuck(call: Awaitable[_T], doing: str, *, left: Callable[[], None]) -> Generator[Any, None, _T]:
    """``await call``, unless it is still going :data:`CANCEL_GRACE` after the task was asked to stop.

    :param doing: what the call does, for :func:`calls_left_running`
    :param left: called when the call is left running (to log it)
    :raises LeftRunning: when the call is given up on
    """
    task = asyncio.current_task()
    assert task is not None, "a connector is called from a task"
    stops_asked = task.cancelling()
    steps = call.__await__()
    waiting_on: Any = None
    thrown: BaseException | None = None
    give_up_at: float | None = None
    while True:
        try:
            waiting_on = steps.send(None) if thrown is None else steps.throw(thrown)
        except StopIteration as returned:
            return returned.value  # type: ignore[no-any-return]
        thrown = None
        if give_up_at is None and task.cancelling() > stops_asked:  # asked to stop, and the call goes on
            give_up_at = asyncio.get_running_loop().time() + CANCEL_GRACE
        if give_up_at is None:
            try:
                yield waiting_on  # the task waits on what the call waits on, and cancels it as ever
            except BaseException as exc:  # thrown in by the task: passed on to the call
                thrown = exc
            continue
        try:
            ended = yield from _awaited_until(waiting_on, give_up_at)
        except BaseException as exc:  # asked to stop again meanwhile
            thrown = None if _cancel(waiting_on) else exc
            continue
        if not ended:
            _hand_over(steps, waiting_on, doing)
            left()
            raise LeftRunning(doing)


def _cancel(waiting_on: Any) -> bool:
    """Cancel what the call waits on, as a task would; ``False`` where there was nothing to cancel."""
    return isinstance(waiting_on, asyncio.Future) and waiting_on.cancel()


@types.coroutine
def _awaited_until(waiting_on: Any, give_up_at: float) -> Generator[Any, None, bool]:
    """Wait until what the call waits on is done (``True``), or until ``give_up_at`` (``False``)."""
    loop = asyncio.get_running_loop()
    if not isinstance(waiting_on, asyncio.Future):  # a bare yield: the call's next step after one turn
        yield None
        return loop.time() < give_up_at
    if waiting_on.done():
        return True
    woken = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    timer = loop.call_at(give_up_at, wake)
    waiting_on.add_done_callback(wake)
    try:
        yield from woken
    finally:
        timer.cancel()
        waiting_on.remove_done_callback(wake)
    return waiting_on.done()


def _hand_over(steps: Generator[Any, None, Any], waiting_on: Any, doing: str) -> None:
    """Go on with the call's ``steps`` in a task of its own, from the future it waits on."""
    rest = asyncio.ensure_future(_rest_of(steps, waiting_on))
    _left_running[rest] = doing
    rest.add_done_callback(_ended_at_last)


async def _rest_of(steps: Generator[Any, None, Any], waiting_on: Any) -> None:
    """The rest of a call nobody waits for any more: how it ends is of no use (``KeyboardInterrupt`` and
    ``SystemExit`` too, which out of a task would stop the event loop)."""
    with contextlib.suppress(BaseException):
        await _resumed(steps, waiting_on)


@types.coroutine
def _resumed(steps: Generator[Any, None, Any], waiting_on: Any) -> Generator[Any, None, None]:
    while True:
        thrown: BaseException | None = None
        try:
            yield waiting_on
        except BaseException as exc:  # passed on to the call, as its task would
            thrown = exc
        try:
            waiting_on = steps.send(None) if thrown is None else steps.throw(thrown)
        except StopIteration:
            return


def _ended_at_last(task: asyncio.Task[Any]) -> None:
    _left_running.pop(task, None)
