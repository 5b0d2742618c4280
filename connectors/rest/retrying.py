"""When and how long a request is retried: tenacity, exponential backoff with jitter.

Only :class:`~connectors.rest.errors.TransientHttpError` is retried, and a
request that must not be repeated once it may have arrived (a create) only
when it certainly did not (see ``maybe_done``). A 429 or 503 that says
``Retry-After`` is waited for as asked where that is longer than the backoff,
never shorter: an API answering ``Retry-After: 0`` (or a date in the past) to
every try would else get them all back to back. One that asks for longer than
:attr:`RequestRetryPolicy.longest_wait` is not waited for within the run: the
error goes up at once, and the sync tries again later. A ``Retry-After`` that
is no whole number of seconds and no HTTP date (``1.5``, ``-5``, ``soon``) is
not taken: the backoff is waited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, wait_exponential, wait_random

from connectors.rest.errors import TransientHttpError
from connectors.rest.limits import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestRetryPolicy:
    """How a request is retried.

    :param attempts: tries in all, the first included
    :param first_wait: the backoff before the second try (seconds); it doubles each try, plus up to one
        ``first_wait`` of jitter (as the engine's retries: one policy, the same waits)
    :param most_wait: the longest backoff between two tries (seconds)
    :param longest_wait: the longest ``Retry-After`` waited for within a run (seconds)
    """

    attempts: int = 5
    first_wait: float = 0.5
    most_wait: float = 30.0
    longest_wait: float = 300.0


def retrying(policy: RequestRetryPolicy, clock: Clock, *, repeatable: bool) -> AsyncRetrying:
    """A tenacity loop for one request.

    :param repeatable: whether the request may be sent again after it may have arrived
        (reads, updates, deletes: yes; creates: no)
    """
    jitter = wait_random(0, min(policy.first_wait, policy.most_wait))
    backoff = wait_exponential(multiplier=policy.first_wait, max=policy.most_wait) + jitter

    def worth_retrying(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(error, TransientHttpError):
            return False
        if error.retry_after is not None and error.retry_after > policy.longest_wait:
            return False
        return repeatable or not error.maybe_done

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        least = float(backoff(state))
        if isinstance(error, TransientHttpError) and error.retry_after is not None:
            return max(error.retry_after, least)  # "Retry-After: 0" on every answer is no licence to hammer
        return least

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        delay = state.upcoming_sleep
        log.info("%s; trying again in %.1fs (try %d of %d)", error, delay, state.attempt_number + 1, policy.attempts)

    return AsyncRetrying(
        stop=lambda state: state.attempt_number >= policy.attempts,
        retry=worth_retrying,
        wait=wait,
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
