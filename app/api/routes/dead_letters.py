"""``/api/v1/dead-letters``: records that failed, to retry or discard."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.convert import dead_letter_public
from app.api.deps import Id, Operator, ServiceDep, SyncFilter, Viewer
from app.api.models import DeadLettersPage, RunStarted
from app.api.pagination import DEFAULT_LIMIT, CursorParam, Limit, encode_cursor, int_cursor
from app.api.responses import BAD_CURSOR, FORBIDDEN, UNAUTHORIZED, problem

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"], responses=UNAUTHORIZED)
NOT_FOUND = problem(404, "No dead letter with that id.")


@router.get("", responses=BAD_CURSOR)
async def list_dead_letters(
    service: ServiceDep, _: Viewer, sync: SyncFilter = None, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> DeadLettersPage:
    """Dead letters, oldest first; of one sync when asked."""
    letters = await service.dead_letters(sync, int_cursor(cursor), limit + 1)
    page = letters[:limit]
    more = len(letters) > limit
    return DeadLettersPage(
        items=[dead_letter_public(x) for x in page], next=encode_cursor(page[-1].id) if more else None
    )


@router.post(
    "/{letter_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**NOT_FOUND, **problem(409, "Its sync is running."), **FORBIDDEN},
)
async def retry(letter_id: Id, service: ServiceDep, _: Operator) -> RunStarted:
    """Retry it now: read again from the source by key where the source can, mapped with the current mapping."""
    return RunStarted(run_id=await service.retry_dead_letter(letter_id))


@router.delete("/{letter_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **FORBIDDEN})
async def discard(letter_id: Id, service: ServiceDep, caller: Operator) -> Response:
    """Discard it: it is not retried again; its record's story keeps who discarded it."""
    await service.discard_dead_letter(letter_id, caller.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
