"""Alerts: a JSON notice (Slack-compatible ``text``) once per change of a sync's status (SPEC 2, 8).

A change is claimed in the state database before it is sent, so among
several processes sharing it exactly one sends each notice.

Notices are sent in the background, in order, by one sender per alert URL:
an alert URL is outside Brygga's hands (slow, down, answering forever), so
the run that changed a sync's status, the syncs that run after it and the
watch over every sync never wait for one. Each try has a deadline as a whole
(not only between bytes), and an answer's body is never read: its status says
it all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from app.config import Project, SecretValues
from app.store import Store, SyncStateInfo

log = logging.getLogger("brygga.alerts")

HEALTH = {"failing": "failing", "stalled": "stalled"}
"""Statuses that alerts are about; any other status counts as healthy."""

_WORDS = {
    "failing": "cannot reach a system: runs keep failing; Brygga backs off and keeps trying",
    "stalled": "has a run that has made no progress for a while",
    "recovered": "works again",
}


ATTEMPT_SECONDS = 10.0
"""The longest one try to send a notice may take, its answer's status line and headers included."""

MAX_WAITING = 1000
"""Notices waiting for one alert URL at most; more are dropped (and logged) while it does not answer."""


@dataclass(frozen=True)
class _Notice:
    payload: dict[str, str]
    secrets: SecretValues


class Alerts:
    """Sends each change of a sync's health to the project's alert URLs."""

    def __init__(self, store: Store, client: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.client = client or httpx.AsyncClient(timeout=ATTEMPT_SECONDS)
        self._waiting: dict[str, asyncio.Queue[_Notice]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def close(self, grace: float = 0.0) -> None:
        """Send the notices still waiting, for up to ``grace`` seconds; then stop sending."""
        waiting = [asyncio.ensure_future(queue.join()) for queue in self._waiting.values()]
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=grace)
            for task in late:
                task.cancel()
        for sender in self._senders.values():
            sender.cancel()
        await asyncio.gather(*self._senders.values(), *waiting, return_exceptions=True)
        for queue in self._waiting.values():
            if not queue.empty():
                log.error("%d alerts were not sent: the service stopped", queue.qsize())
        await self.client.aclose()

    async def status_is(
        self, project: Project, sync: str, status: str, state: SyncStateInfo | None = None
    ) -> str | None:
        """Note ``sync``'s current status; when its health changed, send the notice (in the background).
        The event sent, if any.

        :param state: the sync's state, if the caller has just read it (saves reading it again)"""
        health = HEALTH.get(status, "ok")
        previous = await self.store.states.announce(sync, health, state)
        if previous is None:
            return None
        event = health if health != "ok" else "recovered"
        if event == "recovered" and previous in ("ok", "idle"):
            return None  # first sight of a healthy sync: nothing to announce
        self._send(project, sync, event)
        return event

    def _send(self, project: Project, sync: str, event: str) -> None:
        text = f"Brygga: sync {sync} {_WORDS[event]}."
        notice = _Notice({"text": text, "sync": sync, "event": event}, project.secrets)
        for alert in project.settings.alerts:
            if event in alert.on:
                self._queue(alert.url, notice)

    def _queue(self, url: str, notice: _Notice) -> None:
        """Hand ``notice`` to the sender of ``url``, started at its first notice."""
        queue = self._waiting.setdefault(url, asyncio.Queue(MAX_WAITING))
        if url not in self._senders:
            self._senders[url] = asyncio.ensure_future(self._sender(url, queue))
        try:
            queue.put_nowait(notice)
        except asyncio.QueueFull:
            log.error(
                "could not send the %s alert: %d alerts wait already for an alert URL that does not answer",
                notice.payload["event"],
                MAX_WAITING,
            )

    async def _sender(self, url: str, queue: asyncio.Queue[_Notice]) -> None:
        while True:
            notice = await queue.get()
            try:
                await self._post(url, notice.payload, notice.secrets)
            finally:
                queue.task_done()

    async def _post(self, url: str, payload: dict[str, str], secrets: SecretValues) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(3),
                wait=wait_exponential(multiplier=1, max=10),
                retry=retry_if_exception_type((httpx.HTTPError, TimeoutError)),
                reraise=True,
            ):
                with attempt:
                    await self._try(url, payload)
        except TimeoutError:
            log.error("could not send the %s alert: no answer within %.0f s", payload["event"], ATTEMPT_SECONDS)
        except httpx.HTTPError as exc:
            log.error("could not send the %s alert: %s", payload["event"], secrets.redact(str(exc)))

    async def _try(self, url: str, payload: dict[str, str]) -> None:
        """One try: the answer's status, its body left unread (it may be huge, or never end); a redirect is
        not followed (a notice goes where the config says, and nowhere else)."""
        async with asyncio.timeout(ATTEMPT_SECONDS):
            async with self.client.stream("POST", url, json=payload, follow_redirects=False) as response:
                response.raise_for_status()
