"""The service itself: health, readiness, metrics, and config reload."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import Operator, ServiceDep
from app.api.models import ConfigProblems, Health, Readiness, Reloaded
from app.api.responses import FORBIDDEN, UNAUTHORIZED

router = APIRouter(tags=["service"])


@router.get("/health")
async def health() -> Health:
    """The process answers."""
    return Health()


@router.get("/ready", responses={503: {"model": Readiness, "description": "The state database does not answer."}})
async def ready(service: ServiceDep, response: Response) -> Readiness:
    """The config is loaded and the state database answers."""
    if await service.ready():
        return Readiness(status="ready")
    response.status_code = 503
    return Readiness(status="not ready")


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(service: ServiceDep) -> Response:
    """Prometheus text: runs, records by action, dead letters, webhook events, run durations."""
    return Response(service.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.post(
    "/api/v1/config/reload",
    tags=["config"],
    responses={
        422: {"model": ConfigProblems, "description": "The config has errors; the running one stays."},
        **UNAUTHORIZED,
        **FORBIDDEN,
    },
)
async def reload(service: ServiceDep, _: Operator) -> Reloaded:
    """Read the config files again; a valid config replaces the running one between runs."""
    workspace = await service.reload()
    return Reloaded(syncs=sorted(workspace.project.syncs))
