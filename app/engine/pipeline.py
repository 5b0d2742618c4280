"""Overlap the stages of a run: read the next batch, and store the last one, while this one is written.

The databases do their share of the work in their own processes; with the
stages overlapped, a run takes about as long as its Python work alone.
Order still holds where it matters: batches are written in read order, and
each batch's state (with its checkpoint) is committed after the batch's
writes and after the previous batch's state (which may be stored alongside).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ReadAhead(AsyncIterator[T]):
    """The items of ``source``, with the next one already being fetched while the caller works on this one.

    The first is asked for as soon as this is made, not when it is first awaited: a run asks its source
    for the first batch, then opens its target while the source answers (a database's connection and a
    table's columns in the time a REST API takes to answer its first page). Close it (``aclose``, or
    ``contextlib.aclosing``) to cancel the item being fetched and close ``source``.
    """

    def __init__(self, source: AsyncIterator[T]) -> None:
        self._source = aiter(source)
        self._pending: asyncio.Task[T | _End] = asyncio.ensure_future(_next(self._source))

    def __aiter__(self) -> ReadAhead[T]:
        return self

    async def __anext__(self) -> T:
        item = await self._pending
        if isinstance(item, _End):
            raise StopAsyncIteration
        self._pending = asyncio.ensure_future(_next(self._source))
        return item  # not held here while the next one is fetched: the caller may be done with it

    async def aclose(self) -> None:
        if not self._pending.done():
            self._pending.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):  # what it raised matters no more: closed early
            await self._pending
        close = getattr(self._source, "aclose", None)
        if close is not None:
            await close()


class _End:
    """What :func:`_next` gives at the end of an iterator."""


_END = _End()


async def _next(iterator: AsyncIterator[T]) -> T | _End:
    """The next item, or :data:`_END`.

    Not ``StopAsyncIteration``: an exception kept by a finished task holds its traceback, whose frames
    hold the batches they worked on, in a cycle only a full garbage collection frees.
    """
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return _END


async def all_of(*awaitables: Awaitable[object]) -> None:
    """Await them all at once; every one ends, and when any failed, the first failure is raised after."""
    outcomes = await asyncio.gather(*awaitables, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


WaitForBefore = Callable[[], Awaitable[None]]
"""Given to each commit: waits for the commit before it, and raises what that one raised."""


class CommitQueue:
    """Commits batches in order, in the background; up to ``depth`` are under way or wait their turn.

    A commit is handed a :data:`WaitForBefore` and must await it before it makes itself
    durable: it may write its rows meanwhile (on a state database that takes several writers),
    so two batches' state is stored at once, yet committed in order. A state database that
    is slower for a batch or two then delays no reading, planning or writing: the queue takes
    up the slack. A commit that fails fails those after it, uncommitted.
    """

    def __init__(self, depth: int = 2) -> None:
        self._depth = depth
        self._pending: deque[asyncio.Task[None]] = deque()

    async def submit(self, commit: Callable[[WaitForBefore], Awaitable[None]]) -> None:
        """Queue ``commit`` after those queued; waits while the queue is full, and raises what a commit raised."""
        while self._pending and (len(self._pending) >= self._depth or self._pending[0].done()):
            await self._oldest()
        before = self._pending[-1] if self._pending else None

        async def wait_for_before() -> None:
            if before is not None:
                await asyncio.shield(before)  # raises what it raised: nothing after a failed commit is committed

        self._pending.append(asyncio.ensure_future(commit(wait_for_before)))

    async def wait(self) -> None:
        """Wait for every queued commit; raises what the first failing one raised."""
        while self._pending:
            await self._oldest()

    async def _oldest(self) -> None:
        task = self._pending[0]
        try:
            await task
        except Exception:
            await self.cancel()
            raise
        self._pending.popleft()

    async def cancel(self) -> None:
        """Stop waiting: on the way out of a failed run, let the unfinished commits end (or fail) quietly."""
        pending, self._pending = list(self._pending), deque()
        for task in pending:
            with contextlib.suppress(Exception):
                await task


class RecordsInFlight:
    """A bound on the source records a run holds: read, and not yet committed.

    Every stage of a run holds whole batches (the one being read, looked up, planned,
    written), each record with its mapped copy; a fixed count of batches ahead held ~120 MB
    at batches of 5,000. Bounding records instead of batches keeps what is held about the
    same at any batch size: large batches go one after another, small ones overlap more.
    One batch may always be under way, however large: a run never waits on itself.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._freed = asyncio.Event()
        self._stopped = False

    async def room_for(self, count: int) -> None:
        """Wait until ``count`` more records fit, or none are held (or waiting has stopped)."""
        while self.held and self.held + count > self.limit and not self._stopped:
            self._freed.clear()
            await self._freed.wait()

    def take(self, count: int) -> None:
        """``count`` records read: held from now on."""
        self.held += count

    def give_back(self, count: int) -> None:
        """``count`` records committed (or dropped): no longer held."""
        self.held -= count
        self._freed.set()

    def stop_waiting(self) -> None:
        """A batch failed on its way to its commit: what it holds is never given back, so nothing waits for
        room from now on (the run meets that failure where it waits for the batch next)."""
        self._stopped = True
        self._freed.set()
