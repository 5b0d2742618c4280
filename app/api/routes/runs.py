"""``/api/v1/runs``: runs, newest first, and what each did to each record."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.convert import log_public, run_public
from app.api.deps import Id, ServiceDep, SyncFilter, Viewer
from app.api.models import LogPage, RunPublic, RunsPage, RunStatus
from app.api.pagination import DEFAULT_LIMIT, CursorParam, Limit, encode_cursor, int_cursor
from app.api.responses import BAD_CURSOR, UNAUTHORIZED, problem

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=UNAUTHORIZED)
NOT_FOUND = problem(404, "No run with that id.")


@router.get("", responses=BAD_CURSOR)
async def list_runs(
    service: ServiceDep,
    _: Viewer,
    sync: SyncFilter = None,
    status: RunStatus | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> RunsPage:
    """Runs, newest first; of one sync, or with one status, when asked."""
    runs = await service.runs(sync, status, int_cursor(cursor), limit + 1)
    page = runs[:limit]
    return RunsPage(
        items=[run_public(run) for run in page], next=encode_cursor(page[-1].id) if len(runs) > limit else None
    )


@router.get("/{run_id}", responses=NOT_FOUND)
async def get_run(run_id: Id, service: ServiceDep, _: Viewer) -> RunPublic:
    """One run, with its counts."""
    return run_public(await service.run(run_id))


@router.get("/{run_id}/records", responses={**NOT_FOUND, **BAD_CURSOR})
async def run_records(
    run_id: Id, service: ServiceDep, _: Viewer, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> LogPage:
    """What the run did to each record it created, updated, deleted, skipped or failed."""
    entries = await service.run_log(run_id, int_cursor(cursor), limit + 1)
    page = entries[:limit]
    more = len(entries) > limit
    return LogPage(items=[log_public(entry) for entry in page], next=encode_cursor(page[-1].id) if more else None)
