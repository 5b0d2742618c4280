"""The dependencies routes declare: the service, and the caller with the role a route needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.auth import Caller, identify, require_role
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
Viewer = Annotated[Caller, Depends(viewer)]
Operator = Annotated[Caller, Depends(operator)]
