"""Care for the remote system: one request budget (``rate_limit``), a bound on requests in flight
(``concurrency``), and a pause every request honours after a ``Retry-After``.

A connector is made once per system and shared by every sync that uses it, so
these limits hold for the system as a whole, whatever number of syncs read
or write it at once.

The rate limit is a sliding window counted the way the server counts: a
request holds one of ``requests`` permits from just before it is sent until
``per`` after its answer came back. The server sees a request arrive some
time between those two moments, so no window of length ``per`` at the server
can hold more than ``requests`` arrivals, however the network delays them.
The price is that the budget is spent at ``requests`` per ``per`` plus one
round trip, a little under the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from connectors.rest.config import RateLimit


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Clock:
    """Where the connector reads the time and waits; tests give one that records the waits.

    :param now: seconds on a monotonic clock
    :param sleep: waits that many seconds
    """

    now: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], Awaitable[None]] = field(default=_sleep)


class RequestLimits:
    """The rate limit, the concurrency bound and the ``Retry-After`` pause of one system.

    :param rate_limit: the budget, or ``None`` for none
    :param concurrency: the most requests in flight at once
    :param clock: for the ``Retry-After`` pause (the rate limit runs on the event loop's own clock)
    """

    def __init__(self, rate_limit: RateLimit | None, concurrency: int, clock: Clock) -> None:
        self.clock = clock
        self._in_flight = asyncio.Semaphore(concurrency)
        self._permits = asyncio.Semaphore(rate_limit.requests) if rate_limit is not None else None
        self._per = rate_limit.per.total_seconds() if rate_limit is not None else 0.0
        self._paused_until = 0.0

    @asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        """Wait for a pause to end, a permit of the budget and a place in flight; send inside.

        The pause is looked at again once a place in flight is had: a request that waited for its place
        while the one before was answered ``Retry-After`` waits out that pause too.
        """
        await self._pause_over()
        if self._permits is None:
            async with self._in_flight:
                await self._pause_over()
                yield
            return
        await self._permits.acquire()
        try:
            async with self._in_flight:
                await self._pause_over()
                yield
        finally:
            asyncio.get_running_loop().call_later(self._per, self._permits.release)

    def pause(self, seconds: float) -> None:
        """Send no request for ``seconds`` from now (the system said ``Retry-After``)."""
        self._paused_until = max(self._paused_until, self.clock.now() + seconds)

    async def _pause_over(self) -> None:
        while (left := self._paused_until - self.clock.now()) > 0:
            await self.clock.sleep(left)
