"""The dependencies routes declare: the service, and the caller with the role a route needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from app.api.auth import Caller, identify, require_role
from app.api.pagination import MAX_ID
from app.engine.service import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def viewer(request: Request, service: Annotated[Service, Depends(get_service)]) -> Caller:
    return identify(service.project, request)


def operator(caller: Annotated[Caller, Depends(viewer)]) -> Caller:
    require_role(caller, "operator")
    return caller


ServiceDep = Annotated[Service, Depends(get_service)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A run's or dead letter's id; one the state database cannot hold is refused with 422."""
Viewer = Annotated[Caller, Depends(viewer)]
Operator = Annotated[Caller, Depends(operator)]
