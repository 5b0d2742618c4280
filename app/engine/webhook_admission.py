"""The first step of a webhook delivery: whether the service takes in its body's bytes, as they arrive.

Why: a 1 MiB body of 349,000 tiny records takes ~0.6 s of CPU and ~50 MB to
parse and check. 60 senders of such bodies at once held 1.7 GB, and with the
parsing on the event loop ``/health`` waited 9 s. So a delivery holds the bytes
of its body as they arrive, until it is checked and committed, and a delivery
whose bytes would take the service past ``max_webhook_bytes`` is refused (503,
``Retry-After``) with nothing stored: a sender retries it later. One that comes
while the service holds that much already is refused before anything of it is
read. One delivery is always taken, however large, when nothing else is held, so
no delivery within ``max_body`` waits for ever.

A delivery holds what it has sent, not what its ``Content-Length`` promises:
held up front, 16 senders that each declared 1 MiB and sent nothing (no
signature needed: the body is not read yet) held the default budget for the
whole body timeout, and every other delivery was refused meanwhile.
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
    def admitted(self) -> Iterator[Hold]:
        """A delivery's hold on the budget while the ``with`` block takes it in: its bytes are added to it
        (:meth:`Hold.take`) as they arrive, and given back when the block ends.

        :raises WebhookBusy: when the service holds its whole budget already: nothing of it read
        """
        if self.held >= self.budget:
            raise _busy()
        hold = Hold(self)
        try:
            yield hold
        finally:
            self.held -= hold.size


class Hold:
    """The bytes one delivery holds of a :class:`WebhookAdmission`'s budget."""

    def __init__(self, admission: WebhookAdmission) -> None:
        self.admission = admission
        self.size = 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes (a piece of the body that arrived).

        :raises WebhookBusy: when they would take the service past its budget, and other deliveries hold
            some of it (alone, a delivery is taken whatever its size)
        """
        admission = self.admission
        if admission.held > self.size and admission.held + size > admission.budget:
            raise _busy()
        admission.held += size
        self.size += size


def _busy() -> WebhookBusy:
    return WebhookBusy(
        "busy",
        f"the service is taking in as many webhook deliveries as it may at once: "
        f"send this one again in {RETRY_AFTER}s (nothing of it was stored)",
    )
