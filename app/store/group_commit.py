"""Group commit: calls that come while a commit is under way wait, then share the next one.

A commit costs the same for one row as for fifty, and on SQLite only one can
run at a time. Under load, every caller waiting its own turn would make the
commits, not the work, the limit; taken together, they cost one commit each
round. A lone call is committed at once, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger("brygga.store")


class GroupCommit(Generic[Item, Result]):
    """Hands items to ``commit`` in groups, each caller getting its own item's result.

    ``commit`` takes a group and returns one result per item, in order, in one transaction. When a
    group of several fails, each of its items is committed alone, so one that cannot be stored
    fails only its own caller.
    """

    def __init__(self, commit: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]], most: int = 500) -> None:
        self._commit = commit
        self._most = most
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Commit ``item`` with whatever else is waiting; its result once that commit is done."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                await self._settle(group)
        except BaseException:  # cancelled (the service stops): no caller is left waiting for ever
            for _, future in self._waiting:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._worker = None

    async def _settle(self, group: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._commit([item for item, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _fail(group[0][1], exc)
                return
            log.warning("a group of %d commits failed (%s): committing each alone", len(group), exc)
            for one in group:
                await self._settle([one])
            return
        except BaseException:
            for _, future in group:
                future.cancel()
            raise
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():  # its caller may have gone (a client that hung up): its item is stored
                future.set_result(result)


def _fail(future: asyncio.Future[Result], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
