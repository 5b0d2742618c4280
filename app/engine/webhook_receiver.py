"""The service's side of webhooks: accept deliveries into the inbox, and wake the syncs that listen.

A webhook run starts the moment a delivery is committed (no polling loop).
A sync that is running already goes again right after; one that is paused
keeps its events pending until it is resumed; the watch job picks up what a
failed run left pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.config import AnySync, TwoWaySyncConfig
from app.engine.runner import SyncBusyError
from app.engine.webhook_admission import Hold, WebhookAdmission
from app.engine.webhook_checks import (
    PARSED_AT_ONCE,
    Delivery,
    UnknownWebhookSystem,
    WebhookIdReused,
    WebhookRejected,
    check_before_body,
    check_delivery,
    parsed,
    webhook_of,
)
from app.errors import BryggaError, ConflictError, NotFoundError
from app.store import EventInfo

if TYPE_CHECKING:
    from app.engine.hosts import ReceiverHost

log = logging.getLogger("brygga.webhooks")


@dataclass(frozen=True)
class Accepted:
    event_id: int
    records: int
    duplicate: bool


async def _same_json(stored: str, received: str) -> bool:
    """Whether two bodies are the same JSON, written apart (spacing, key order); both parsed as checked before."""
    try:
        return bool(await parsed(stored) == await parsed(received))
    except ValueError:
        return False


def _streams_read(sync: AnySync) -> set[str]:
    """The streams whose changes a sync takes: its source; both sides of a two-way sync."""
    if isinstance(sync, TwoWaySyncConfig):
        return {sync.two_way.a, sync.two_way.b}
    return {sync.source}


class WebhookReceiver:
    """Webhook intake and wake-ups for a :class:`~app.engine.service.Service`."""

    def __init__(self, service: ReceiverHost, max_bytes: int) -> None:
        self.service = service
        self._admission = WebhookAdmission(max_bytes)
        self._checking = asyncio.Semaphore(1)
        """One delivery checked at a time: one thread parsing leaves the event loop its share of the GIL,
        and a delivery waiting to be checked holds its bytes only, not their parsed form."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._waking: set[str] = set()
        """Syncs with a wake-up that has yet to start: the run it starts takes every event committed before."""

    def admitted(self) -> AbstractContextManager[Hold]:
        """A delivery's hold on ``max_webhook_bytes`` while it is read, checked and committed (the ``with``
        block): the reader adds each piece of the body to it as it arrives (:meth:`Hold.take`).

        :raises WebhookBusy: when the service holds ``max_webhook_bytes`` already: nothing read, nothing stored
        """
        return self._admission.admitted()

    def check_before_body(self, system: str, headers: Mapping[str, str], client: str | None) -> None:
        """What a delivery's headers alone can prove wrong (a missing token, stale or missing signature
        headers), before its body is read and held.

        :raises WebhookRejected: with the HTTP status to answer
        """
        check_before_body(webhook_of(self.service.project, system), headers, client)

    async def receive(self, system: str, body: bytes, headers: Mapping[str, str], client: str | None) -> Accepted:
        """Check a delivery (a large one in a worker thread, one at a time: the event loop goes on answering)
        and commit it to the inbox; then wake the syncs that listen. A refusal is the caller's to count
        (:meth:`rejected`).

        :raises WebhookRejected: with the HTTP status to answer; nothing is stored then
        """
        webhook = webhook_of(self.service.project, system)
        if len(body) <= PARSED_AT_ONCE:
            delivery = check_delivery(webhook, body, headers, client)
        else:
            async with self._checking:
                delivery = await asyncio.to_thread(check_delivery, webhook, body, headers, client)
        listening = self.listening(system)
        event_id, duplicate = await self.service.store.inbox.accept(
            system, delivery.delivery_id, delivery.body, delivery.records, listening
        )
        if duplicate:
            await self._same_as_stored(event_id, delivery)
        self.service.metrics.webhook_events.labels(system, "duplicate" if duplicate else "accepted").inc()
        if not duplicate:
            self.wake(listening)
        return Accepted(event_id, delivery.records, duplicate)

    async def _same_as_stored(self, event_id: int, delivery: Delivery) -> None:
        """A delivery whose id was seen before must be that delivery again (a sender retrying): the same JSON.

        A sender that gives one id to several events (an ``Idempotency-Key`` per record, not per change)
        had every event after the first answered 202 and dropped: no error anywhere, the target stale.

        :raises WebhookIdReused: 409 when the event stored under the id has another body; nothing is stored
        """
        stored = await self.service.store.inbox.body_of(event_id)
        if stored is None or stored == delivery.body or await _same_json(stored, delivery.body):
            return
        raise WebhookIdReused(
            "id reused",
            f"the delivery id {delivery.delivery_id!r} was received before (event {event_id}) with a different "
            "body; nothing of this delivery was stored. A delivery id (webhook-id, X-GitHub-Delivery, "
            "Idempotency-Key) names one delivery: send a new event under a new id",
        )

    def rejected(self, system: str, exc: WebhookRejected) -> None:
        """Count a refused delivery; those to an unknown system under one label (senders choose the names)."""
        label = "(unknown)" if isinstance(exc, UnknownWebhookSystem) else system
        self.service.metrics.webhook_events.labels(label, f"rejected: {exc.reason}").inc()

    def listening(self, system: str) -> list[str]:
        """The syncs with ``webhook: true`` whose source is this system's webhook stream."""
        config = self.service.project.systems.get(system)
        if config is None or config.webhook is None:
            return []
        streams = {f"{system}.{config.webhook.stream}"}
        return [
            name for name, sync in self.service.project.syncs.items() if sync.webhook and streams & _streams_read(sync)
        ]

    def wake(self, syncs: list[str]) -> None:
        """Start a webhook run of each sync, in the background (the request that woke them returns at once).

        Under load, deliveries come faster than wake-ups start: one waiting is enough for them all.
        """
        for name in syncs:
            if name in self._waking or self.service.runs_here(name):
                continue  # a run under way takes events until none are left, and looks again when it ends
            self._waking.add(name)
            task = asyncio.ensure_future(self._run(name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str) -> None:
        self._waking.discard(name)  # events committed from here on wake the sync again
        service = self.service
        if service.stopping or name not in service.project.syncs:
            return
        try:
            state = await service.store.states.get(name)
            if state.paused or (state.backoff_until is not None and datetime.now(UTC) < state.backoff_until):
                return  # its events wait: resumed or recovered, it takes them
            await service.trigger(name, trigger="webhook", webhook=True)
        except SyncBusyError:
            pass  # the run going on looks for new events when it ends
        except BryggaError as exc:
            log.error("sync %s: webhook run did not start: %s", name, exc)

    async def after_run(self, name: str, succeeded: bool) -> None:
        """After any run of a listening sync that got through: events that came meanwhile are taken now."""
        if succeeded and await self.service.store.inbox.pending(name, 1):
            self.wake([name])

    async def catch_up(self) -> None:
        """Wake every listening sync with pending events (at start, and from the watch job)."""
        pending = await self.service.store.inbox.syncs_with_pending()
        self.wake(
            [
                name
                for name in pending
                if name in self.service.project.syncs and self.service.project.syncs[name].webhook
            ]
        )

    async def events(self, system: str | None, before: int | None, limit: int) -> list[EventInfo]:
        return await self.service.store.inbox.events(system, before, limit)

    async def replay(self, event_id: int) -> EventInfo:
        """Process a stored event again, in every sync that listens now.

        :raises NotFoundError: for an unknown event
        :raises ConflictError: for a discarded event
        """
        event = await self.service.store.inbox.event(event_id)
        if event is None:
            raise NotFoundError(f"no webhook event with id {event_id}")
        if event.status == "discarded":
            raise ConflictError(f"webhook event {event_id} was discarded: it is not processed again")
        listening = self.listening(event.system)
        await self.service.store.inbox.replay(event_id, listening)
        self.wake(listening)
        return event

    async def discard(self, event_id: int, by: str) -> None:
        """Set a pending or failed event aside: no sync processes it again (logged, with who did it).

        :raises NotFoundError: for an unknown event
        :raises ConflictError: for an event every sync has processed already
        """
        event = await self.service.store.inbox.discard(event_id)
        if event is None:
            raise NotFoundError(f"no webhook event with id {event_id}")
        if event.status == "processed":
            raise ConflictError(f"webhook event {event_id} is processed already: there is nothing to discard")
        if event.status != "discarded":
            self.service.metrics.webhook_events.labels(event.system, "discarded").inc()
            log.info("webhook event %d from %s (%s) discarded by %s", event_id, event.system, event.status, by)

    async def close(self) -> None:
        """Wait for wake-ups under way (each ends at once when the service is stopping)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
