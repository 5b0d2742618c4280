"""``/api/v1/syncs``: every sync, one sync, and what operators do to one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.api.convert import story_public, sync_public
from app.api.deps import Operator, ServiceDep, SourceKey, SyncName, Viewer
from app.api.key_paths import ANY_TEXT
from app.api.models import RecordStory, RunStarted, SyncPublic, SyncsPage
from app.api.pagination import DEFAULT_LIMIT, CursorParam, Limit, encode_cursor, text_cursor
from app.api.responses import BAD_CURSOR, FORBIDDEN, UNAUTHORIZED, problem

router = APIRouter(prefix="/api/v1/syncs", tags=["syncs"], responses=UNAUTHORIZED)
NOT_FOUND = problem(404, "No sync of that name.")
UNSEEN = problem(404, "No sync of that name, or a source key the sync never saw.")
BUSY = problem(409, "A run of the sync is going on already.")


@router.get("", responses=BAD_CURSOR)
async def list_syncs(
    service: ServiceDep, _: Viewer, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> SyncsPage:
    """Every sync, by name: its status, last run, next scheduled run and dead letters."""
    after = text_cursor(cursor)
    views = sorted(await service.views(), key=lambda view: view.name)
    if after is not None:
        views = [view for view in views if view.name > after]
    page = views[:limit]
    more = len(views) > limit
    return SyncsPage(items=[sync_public(view) for view in page], next=encode_cursor(page[-1].name) if more else None)


@router.get("/{name}", responses=NOT_FOUND)
async def get_sync(name: SyncName, service: ServiceDep, _: Viewer) -> SyncPublic:
    """One sync."""
    return sync_public(await service.view(name))


@router.post("/{name}/runs", status_code=status.HTTP_202_ACCEPTED, responses={**NOT_FOUND, **BUSY, **FORBIDDEN})
async def start_run(
    name: SyncName,
    service: ServiceDep,
    _: Operator,
    full: Annotated[bool, Query(description="Ignore the stored cursor: read everything.")] = False,
) -> RunStarted:
    """Run the sync now (a paused sync too); the run goes on in the background."""
    return RunStarted(run_id=await service.trigger(name, full=full))


@router.post("/{name}/pause", responses={**NOT_FOUND, **FORBIDDEN})
async def pause(name: SyncName, service: ServiceDep, _: Operator) -> SyncPublic:
    """Take no scheduled or webhook runs until resumed; manual runs still work."""
    return sync_public(await service.pause(name))


@router.post("/{name}/resume", responses={**NOT_FOUND, **FORBIDDEN})
async def resume(name: SyncName, service: ServiceDep, _: Operator) -> SyncPublic:
    """Take scheduled and webhook runs again."""
    return sync_public(await service.resume(name))


@router.post("/{name}/reset", responses={**NOT_FOUND, **FORBIDDEN})
async def reset(name: SyncName, service: ServiceDep, _: Operator) -> SyncPublic:
    """Forget the stored cursor: the next run reads everything. The ID map stays, so nothing is created twice."""
    return sync_public(await service.reset(name))


@router.get(f"/{{name}}/records/{{source_key:{ANY_TEXT}}}", responses=UNSEEN)
async def record_story(name: SyncName, source_key: SourceKey, service: ServiceDep, _: Viewer) -> RecordStory:
    """One source record's story: its ID map entry and every log entry about it, newest first.
    404 for a key the sync never saw (no ID map entry, log entry or dead letter has it)."""
    return story_public(name, source_key, await service.story(name, source_key))


@router.post(
    "/{name}/dead-letters/retry", status_code=status.HTTP_202_ACCEPTED, responses={**NOT_FOUND, **BUSY, **FORBIDDEN}
)
async def retry_dead_letters(name: SyncName, service: ServiceDep, _: Operator) -> RunStarted:
    """Retry every dead letter of the sync now, read again from the source where it can."""
    return RunStarted(run_id=await service.retry_dead_letters(name))
