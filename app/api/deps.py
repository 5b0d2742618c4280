"""The dependencies routes declare: the service, and the caller with the role a route needs.

All are ``async``: FastAPI runs a plain function in a worker thread, a hop that would cost every
request more than the function itself (none of them waits on anything)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import AfterValidator, BeforeValidator

from app.api.auth import Caller, bearer, identify, require_role
from app.api.pagination import MAX_ID
from app.engine import Service


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def viewer(
    service: Annotated[Service, Depends(get_service)],
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """The caller, with any role. :data:`bearer` puts the scheme in the OpenAPI description; the header is
    read by :func:`identify`, exactly as the dashboard's sign-in reads a token."""
    return identify(service.project, request)


async def operator(caller: Annotated[Caller, Depends(viewer)]) -> Caller:
    require_role(caller, "operator")
    return caller


def digits_only(value: object) -> object:
    """An id as an address gives it: ASCII digits and nothing else. Pydantic also reads ``7%0A``, `` 7``,
    ``+7``, ``1.0`` and ``1_000`` as numbers, so one run had many addresses (``/runs/1_000`` was run 1000).

    :raises ValueError: for text that is not only digits (FastAPI answers it; for an id in the path, 404)
    """
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("an id is written in the digits 0-9 alone")
    return value


ServiceDep = Annotated[Service, Depends(get_service)]
Id = Annotated[int, BeforeValidator(digits_only), Path(ge=1, le=MAX_ID)]
"""A run's, dead letter's or webhook event's id; one that cannot be (``abc``, ``0``, ``1.0``, beyond 64 bits)
is not found (404, app/api/validation_answers.py)."""
Viewer = Annotated[Caller, Depends(viewer)]
Operator = Annotated[Caller, Depends(operator)]

MAX_TEXT = 2048
"""The longest name, key or filter a request may give: the request line holds 16 KiB, a name or key far less."""


def storable(text: str | None) -> str | None:
    """``text`` when a name, key or filter could be it; names and keys go into the state database's
    queries, and PostgreSQL refuses NUL characters (as the answer would be a 503, refuse them here).

    :raises ValueError: for a NUL character or a lone surrogate (FastAPI answers 422)
    """
    if text is None:
        return None
    if "\x00" in text:
        raise ValueError("a NUL character (%00) is in no name, key or filter of Brygga: leave it out")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode: send names and keys UTF-8 encoded, percent-escaped") from None
    return text


SyncName = Annotated[str, Path(max_length=MAX_TEXT, description="The sync's name."), AfterValidator(storable)]
SourceKey = Annotated[
    str, Path(max_length=MAX_TEXT, description="The source record's key, as text."), AfterValidator(storable)
]
SyncFilter = Annotated[
    str | None, Query(max_length=MAX_TEXT, description="Only this sync's."), AfterValidator(storable)
]
SystemFilter = Annotated[
    str | None, Query(max_length=MAX_TEXT, description="Only this system's."), AfterValidator(storable)
]
