"""Retries with exponential backoff and jitter, for transient failures only (SPEC 8)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from app.config.sync import RetryPolicy
from app.errors import EarlierWriteFailed, TransientError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


async def with_retries(policy: RetryPolicy, operation: Callable[[], Awaitable[T]], sleep: Sleep = asyncio.sleep) -> T:
    """Run ``operation``; on :class:`TransientError` wait and try again, up to ``policy.attempts`` tries in all.

    :raises TransientError: the last one, when every try failed; at once an :class:`EarlierWriteFailed`,
        which its caller makes again in its turn
    :raises Exception: anything else at once: permanent failures are not retried
    """
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_backoff(policy),
        retry=retry_if_exception_type(TransientError) & retry_if_not_exception_type(EarlierWriteFailed),
        sleep=sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _backoff(policy: RetryPolicy) -> wait_base:
    """``backoff``, doubled at each try up to ``max_backoff``, plus up to one ``backoff`` of jitter."""
    first, most = policy.backoff.total_seconds(), policy.max_backoff.total_seconds()
    return wait_exponential(multiplier=first, max=most) + wait_random(0, min(first, most))
