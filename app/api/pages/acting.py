"""What operators do from the dashboard: run now, pause, resume, retry and discard dead letters, replay events.

Each action is a form POST that :func:`app.api.pages.access.action_of` checks
(this service's page, the ``operator`` role, the session's CSRF token) before
the address's values are read, and then makes the same engine call as its API
route. The browser goes back to the page
it came from, which says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import Id, SyncName
from app.api.pages.access import Acting, Action, back_to, service_of
from app.errors import ConflictError, NotFoundError

router = APIRouter(include_in_schema=False)

WAIT_FOR_RUN = 5.0
"""Seconds an action that starts a run waits for it before the browser goes back (most runs take less)."""


async def _act(action: Action, default: str, act: Callable[[str], Awaitable[str]]) -> Response:
    """Do the checked action, and go back with what it did (or why it could not) as the page's notice."""
    session = action.visit.session
    try:
        session.notice = await act(action.visit.caller.name)
    except (NotFoundError, ConflictError) as exc:
        session.notice = f"Not done: {exc}"
    return RedirectResponse(back_to(action.form, default), status_code=303)


async def _outcome(request: Request, sync: str, run_id: int, started: str) -> str:
    """What a run an action started did, when it ends within :data:`WAIT_FOR_RUN` seconds (the page it goes
    back to then shows its outcome); else that it goes on in the background. Nothing cancels the run."""
    service = service_of(request)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(service.wait_for(sync), WAIT_FOR_RUN)
    run = await service.run(run_id)
    if run.status == "running":
        return f"{started}: run {run_id} goes on in the background."
    return f"{started}: run {run_id} {run.status}{f' ({run.error})' if run.error else ''}."


@router.post("/syncs/{name}/run")
async def run_now(request: Request, action: Acting, name: SyncName) -> Response:
    async def act(_: str) -> str:
        run_id = await service_of(request).trigger(name)
        return await _outcome(request, name, run_id, f"{name} runs now")

    return await _act(action, f"/syncs/{name}", act)


@router.post("/syncs/{name}/pause")
async def pause(request: Request, action: Acting, name: SyncName) -> Response:
    async def act(_: str) -> str:
        await service_of(request).pause(name)
        return f"{name} is paused: it takes no scheduled or webhook runs until resumed."

    return await _act(action, f"/syncs/{name}", act)


@router.post("/syncs/{name}/resume")
async def resume(request: Request, action: Acting, name: SyncName) -> Response:
    async def act(_: str) -> str:
        await service_of(request).resume(name)
        return f"{name} is resumed."

    return await _act(action, f"/syncs/{name}", act)


@router.post("/syncs/{name}/dead-letters/retry")
async def retry_all(request: Request, action: Acting, name: SyncName) -> Response:
    async def act(_: str) -> str:
        run_id = await service_of(request).retry_dead_letters(name)
        return await _outcome(request, name, run_id, f"Every dead letter of {name} is retried")

    return await _act(action, f"/syncs/{name}", act)


@router.post("/dead-letters/{letter_id}/retry")
async def retry(request: Request, action: Acting, letter_id: Id) -> Response:
    async def act(_: str) -> str:
        service = service_of(request)
        run_id = await service.retry_dead_letter(letter_id)
        return await _outcome(request, (await service.run(run_id)).sync, run_id, f"Dead letter {letter_id} is retried")

    return await _act(action, "/", act)


@router.post("/dead-letters/{letter_id}/discard")
async def discard(request: Request, action: Acting, letter_id: Id) -> Response:
    async def act(by: str) -> str:
        await service_of(request).discard_dead_letter(letter_id, by)
        return f"Dead letter {letter_id} discarded."

    return await _act(action, "/", act)


@router.post("/webhook-events/{event_id}/replay")
async def replay(request: Request, action: Acting, event_id: Id) -> Response:
    async def act(_: str) -> str:
        await service_of(request).webhooks.replay(event_id)
        return f"Webhook event {event_id} is processed again."

    return await _act(action, "/webhook-events", act)
