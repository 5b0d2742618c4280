"""Overlap the stages of a run: read the next batch, and store the last one, while this one is written.

The databases do their share of the work in their own processes; with the
stages overlapped, a run takes about as long as its Python work alone.
Order still holds where it matters: batches are written in read order, and
each batch's state (with its checkpoint) is committed after the batch's
writes and after the previous batch's state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def read_ahead(source: AsyncIterator[T]) -> AsyncIterator[T]:
    """The items of ``source``, with the next one already being fetched while the caller works on this one."""
    iterator = aiter(source)
    pending: asyncio.Task[T] = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            try:
                item = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(iterator))
            yield item
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


class CommitQueue:
    """Commits batches one after another in the background; at most one waits at a time."""

    def __init__(self) -> None:
        self._pending: asyncio.Task[None] | None = None
        self.keys: set[str] = set()
        """Source keys of the batch whose commit is under way."""

    async def submit(self, commit: Callable[[], Awaitable[None]], keys: set[str]) -> None:
        """Start ``commit`` once the previous one is done; raises what the previous one raised."""
        await self.wait()
        self.keys = keys
        self._pending = asyncio.ensure_future(commit())

    async def wait(self) -> None:
        """Wait for the commit under way, if any; raises what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending
        self.keys = set()

    async def cancel(self) -> None:
        """Stop waiting: on the way out of a failed run, let an unfinished commit end (or fail) quietly."""
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(Exception):
                await pending
