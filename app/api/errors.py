"""Domain errors become HTTP answers in one place: ``{"detail": "..."}`` with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.pagination import BadCursorError
from app.engine import WebhookRejected
from app.errors import BryggaError, ConfigError, ConflictError, NotFoundError, StoreError

log = logging.getLogger("brygga.api")

_STATUSES: list[tuple[type[BryggaError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (BadCursorError, 400),
]


def install(app: FastAPI) -> None:
    """Answer every Brygga error with its status and its message."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, ConfigError):
            errors = [str(issue) for issue in exc.issues]
            return JSONResponse(
                {"detail": f"{len(errors)} config error(s): the running config stays", "errors": errors}, 422
            )
        if isinstance(exc, WebhookRejected):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse({"detail": str(exc)}, exc.status, headers=headers)
        for kind, code in _STATUSES:
            if isinstance(exc, kind):
                return JSONResponse({"detail": str(exc)}, code)
        return _failed(request, exc)

    app.add_exception_handler(BryggaError, answer)


def _failed(request: Request, exc: Exception) -> JSONResponse:
    """The service's own failure, logged once (secrets are scrubbed from the log as everywhere). A state
    database error carries its SQL statement and parameters: its answer says what failed and what to do,
    and leaves the statement to the log."""
    route = getattr(request.scope.get("route"), "path", "this request")  # the route, not what the client sent
    where = f"{request.method} {route}"
    cause = exc.__cause__  # the database's own error, statement and all: for the log, never the answer
    log.error("%s failed: %s%s", where, exc, f" ({cause})" if isinstance(exc, StoreError) and cause else "")
    if isinstance(exc, StoreError):
        detail = (
            f"{where}: the state database failed; its error is in the service log. "
            "Check that the state database is up and reachable (GET /ready answers 503 while it is not)"
        )
        return JSONResponse({"detail": detail}, 503)
    return JSONResponse({"detail": str(exc)}, 500)
