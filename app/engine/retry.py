"""Retries with exponential backoff and jitter, for transient failures only (SPEC 8).

One policy, the sync's ``retry``, governs every passing failure within a run, and retry layers never
multiply: what a connector already retried under it (``TransientError.retried``) is not retried here
again (see :data:`connectors.base.retry_policy`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from app.config import RetryPolicy
from app.errors import EarlierWriteFailed, TransientError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

ONE_TRY = RetryPolicy(attempts=1)
"""For trials a person waits on (``brygga check``, ``brygga preview``): each call is tried once, so a
connector that retries requests itself (REST) reports the first failure, not the last of five tries (2.5
minutes for an API that never answers, at its default 30 s ``timeout``). Running it again is the retry."""

LONGEST_RETRY_AFTER = 300.0
"""The longest ``Retry-After`` waited for within a run (seconds); a system asking for longer is tried at a
later run."""


def worth_retrying(error: BaseException | None) -> bool:
    """Whether ``error`` is a passing failure that this layer should try again (not already retried by the
    connector, not a write that waits for an earlier one, not a wait longer than a run's)."""
    if not isinstance(error, TransientError) or isinstance(error, EarlierWriteFailed) or error.retried:
        return False
    return error.retry_after is None or error.retry_after <= LONGEST_RETRY_AFTER


def pause(policy: RetryPolicy, tries: int, error: BaseException | None = None) -> float:
    """The wait after ``tries`` failed tries: ``backoff`` doubled at each try up to ``max_backoff``, plus up to
    one ``backoff`` of jitter; at least what the system asked for (``Retry-After``)."""
    first, most = policy.backoff.total_seconds(), policy.max_backoff.total_seconds()
    wait = min(first * 2 ** (tries - 1), most) + random.uniform(0, min(first, most))
    asked = error.retry_after if isinstance(error, TransientError) else None
    return float(max(wait, asked) if asked is not None else wait)


async def with_retries(policy: RetryPolicy, operation: Callable[[], Awaitable[T]], sleep: Sleep = asyncio.sleep) -> T:
    """Run ``operation``; on a passing failure wait and try again, up to ``policy.attempts`` tries in all.

    :raises TransientError: the last one, when every try failed; at once one the connector already retried
        (``retried``), and an :class:`EarlierWriteFailed`, which its caller makes again in its turn
    :raises Exception: anything else at once: permanent failures are not retried
    """

    def wait(state: RetryCallState) -> float:
        return pause(policy, state.attempt_number, state.outcome.exception() if state.outcome else None)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=lambda state: worth_retrying(state.outcome.exception() if state.outcome else None),
        sleep=sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
