"""The dependencies routes declare: the service, and the caller with the role a route needs.

All are ``async``: FastAPI runs a plain function in a worker thread, a hop that would cost every
request more than the function itself (none of them waits on anything)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from app.api.auth import Caller, identify, require_role
from app.api.pagination import MAX_ID
from app.engine.service import Service


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def viewer(request: Request, service: Annotated[Service, Depends(get_service)]) -> Caller:
    return identify(service.project, request)


async def operator(caller: Annotated[Caller, Depends(viewer)]) -> Caller:
    require_role(caller, "operator")
    return caller


ServiceDep = Annotated[Service, Depends(get_service)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A run's or dead letter's id; one the state database cannot hold is refused with 422."""
Viewer = Annotated[Caller, Depends(viewer)]
Operator = Annotated[Caller, Depends(operator)]
