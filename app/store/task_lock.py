"""Turns at a resource for asyncio tasks, where a task that holds the turn may take it again."""

from __future__ import annotations

import asyncio


class TaskLock:
    """A lock per task rather than per call: a task that holds the turn and asks again (a read inside
    its own transaction) goes on at once instead of waiting for itself."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[object] | None = None
        self._depth = 0

    async def take(self) -> None:
        """Wait for the turn (first come, first served), unless this task holds it already."""
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            self._depth += 1
            return
        await self._lock.acquire()
        self._holder, self._depth = task, 1

    @property
    def outermost(self) -> bool:
        """Whether the holder has taken the turn once, not again inside its own turn."""
        return self._depth == 1

    def give_back(self) -> None:
        """End one :meth:`take`; the turn passes on when the holder has ended them all."""
        self._depth -= 1
        if self._depth == 0:
            self._holder = None
            self._lock.release()
