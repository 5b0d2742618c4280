"""Alerts: a JSON notice (Slack-compatible ``text``) once per change of a sync's status (SPEC 2, 8).

A change is claimed in the state database before it is sent, so among
several processes sharing it exactly one sends each notice.
"""

from __future__ import annotations

import logging

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


class Alerts:
    """Sends each change of a sync's health to the project's alert URLs."""

    def __init__(self, store: Store, client: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.client = client or httpx.AsyncClient(timeout=10)

    async def close(self) -> None:
        await self.client.aclose()

    async def status_is(
        self, project: Project, sync: str, status: str, state: SyncStateInfo | None = None
    ) -> str | None:
        """Note ``sync``'s current status; when its health changed, send the notice. The event sent, if any.

        :param state: the sync's state, if the caller has just read it (saves reading it again)"""
        health = HEALTH.get(status, "ok")
        previous = await self.store.states.announce(sync, health, state)
        if previous is None:
            return None
        event = health if health != "ok" else "recovered"
        if event == "recovered" and previous in ("ok", "idle"):
            return None  # first sight of a healthy sync: nothing to announce
        await self._send(project, sync, event)
        return event

    async def _send(self, project: Project, sync: str, event: str) -> None:
        text = f"Brygga: sync {sync} {_WORDS[event]}."
        payload = {"text": text, "sync": sync, "event": event}
        for alert in project.settings.alerts:
            if event in alert.on:
                await self._post(alert.url, payload, project.secrets)

    async def _post(self, url: str, payload: dict[str, str], secrets: SecretValues) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(3),
                wait=wait_exponential(multiplier=1, max=10),
                retry=retry_if_exception_type(httpx.HTTPError),
                reraise=True,
            ):
                with attempt:
                    response = await self.client.post(url, json=payload)
                    response.raise_for_status()
        except httpx.HTTPError as exc:
            log.error("could not send the %s alert: %s", payload["event"], secrets.redact(str(exc)))
