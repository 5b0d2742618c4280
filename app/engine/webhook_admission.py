"""The first step of a webhook delivery: whether the service takes it in now, before its body is read.

Why: a 1 MiB body of 349,000 tiny records takes ~0.6 s of CPU and ~50 MB to
parse and check. 60 senders of such bodies at once held 1.7 GB, and with the
parsing on the event loop ``/health`` waited 9 s. So a delivery reserves the
bytes its body may take (its ``Content-Length``, or ``max_body`` when it sends
none) before its body is read, and a delivery that would take the service past
``max_webhook_bytes`` is refused (503, ``Retry-After``) with nothing read and
nothing stored: a sender retries it later. One delivery is always taken, however
large, when nothing else is held, so no delivery within ``max_body`` waits for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.engine.webhook_checks import WebhookRejected

RETRY_AFTER = 1
"""Seconds a refused sender is asked to wait: about the time a worst-case 1 MiB delivery takes to check."""


class WebhookBusy(WebhookRejected):
    """The service holds as many deliveries as it may: try again in ``retry_after`` seconds."""

    def __init__(self, reason: str, detail: str, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(reason, detail)
        self.retry_after = retry_after


class WebhookAdmission:
    """The bytes of deliveries held at once (being read, checked or committed), and the limit on them.

    :param budget: the most bytes held at once (``max_webhook_bytes``)
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0

    @contextmanager
    def admitted(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes for a delivery while the ``with`` block takes it in.

        :raises WebhookBusy: when holding them would pass the budget (and something else is held)
        """
        if self.held and self.held + size > self.budget:
            raise WebhookBusy(
                "busy",
                f"the service is taking in as many webhook deliveries as it may at once: "
                f"send this one again in {RETRY_AFTER}s (nothing of it was stored)",
            )
        self.held += size
        try:
            yield
        finally:
            self.held -= size
