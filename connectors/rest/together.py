"""Many requests of one call at once, which end together: the first error stops the others.

``asyncio.gather`` raises the first error and leaves the other requests running: a write stopped by refused
OAuth2 credentials went on writing its other records in the background after the call had failed (the
engine counted none of them written, so the next run created them again), and fetched tokens for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


async def all_or_stop(calls: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Each call's result, in order; when one raises, the others are cancelled and waited for, then that
    error is raised (no request of the call is left running once it has returned)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
