"""Brygga errors become HTTP answers in one place: one table from error type to status.

A type takes the status of its nearest listed ancestor (its MRO), so a new subclass needs no row unless it
means something else (``tests/test_error_tree.py`` checks that every error has one). Answers are
``{"detail": "..."}`` (SPEC 7); a config error adds its ``errors``; a 401 says ``WWW-Authenticate: Bearer``;
a webhook delivery refused in a flood (503) says ``Retry-After``. Any other 5xx is the service's or a system's
failure: logged once, with secrets scrubbed as everywhere.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.auth import Forbidden, Unauthorized
from app.engine import (
    UnknownWebhookSystem,
    WebhookBusy,
    WebhookFromWebPage,
    WebhookIdReused,
    WebhookNotProven,
    WebhookTooLarge,
)
from app.errors import (
    BryggaError,
    ConfigError,
    ConflictError,
    ConnectorError,
    DeleteWhenError,
    KindError,
    MappingError,
    NotFoundError,
    RequestError,
    RunStopped,
    SettingsError,
    StoreError,
    TransientError,
)

log = logging.getLogger("brygga.api")

HTTP_STATUSES: dict[type[BryggaError], int] = {
    RequestError: 400,  # a bad cursor, a webhook body that is not JSON or has no records (SPEC 5, 7)
    Unauthorized: 401,
    WebhookNotProven: 401,
    Forbidden: 403,
    WebhookFromWebPage: 403,
    NotFoundError: 404,
    UnknownWebhookSystem: 404,
    ConflictError: 409,
    WebhookIdReused: 409,  # a delivery id received before with another body
    WebhookTooLarge: 413,
    WebhookBusy: 503,  # a webhook flood: the sender tries again after Retry-After
    ConfigError: 422,  # a reload refused: the running config stays (SPEC 7)
    MappingError: 422,
    DeleteWhenError: 422,
    KindError: 500,  # the service's own installation is wrong
    SettingsError: 500,
    ConnectorError: 502,  # a business system behind the service failed
    TransientError: 503,  # ... for a while: try again later
    StoreError: 503,  # the state database: GET /ready says when it is back
    RunStopped: 503,  # the service is shutting down
}
"""Every direct subclass of :class:`BryggaError` has a row (``tests/test_error_tree.py`` checks it)."""


def listed_type(kind: type[BaseException]) -> type[BryggaError] | None:
    """The nearest ancestor of ``kind`` (itself first) that the table lists; ``None`` for none."""
    return next((base for base in kind.__mro__ if base in HTTP_STATUSES), None)


def http_status(error: BryggaError) -> int:
    """The status that answers ``error``; 500 for a type no row covers (a bug in the table)."""
    listed = listed_type(type(error))
    return HTTP_STATUSES[listed] if listed is not None else 500


def install(app: FastAPI) -> None:
    """Answer every Brygga error with its status and its message."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BryggaError)
        status = http_status(exc)
        if isinstance(exc, WebhookBusy):  # answered, not logged: a flood would flood the log too
            return JSONResponse({"detail": str(exc)}, status, headers={"Retry-After": str(exc.retry_after)})
        if status >= 500:
            return _failed(request, exc, status)
        if isinstance(exc, ConfigError):
            errors = [str(issue) for issue in exc.issues]
            detail = f"{len(errors)} config error(s): the running config stays"
            return JSONResponse({"detail": detail, "errors": errors}, status)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status, headers=headers)

    app.add_exception_handler(BryggaError, answer)


def _failed(request: Request, exc: BryggaError, status: int) -> JSONResponse:
    """The service's or a system's failure, logged once (secrets are scrubbed from the log as everywhere). A
    state database error carries its SQL statement and parameters: its answer says what failed and what to
    do, and leaves the statement to the log."""
    route = getattr(request.scope.get("route"), "path", "this request")  # the route, not what the client sent
    where = f"{request.method} {route}"
    cause = exc.__cause__  # the database's own error, statement and all: for the log, never the answer
    log.error("%s failed: %s%s", where, exc, f" ({cause})" if isinstance(exc, StoreError) and cause else "")
    if isinstance(exc, StoreError):
        detail = (
            f"{where}: the state database failed; its error is in the service log. "
            "Check that the state database is up and reachable (GET /ready answers 503 while it is not)"
        )
        return JSONResponse({"detail": detail}, status)
    return JSONResponse({"detail": str(exc)}, status)
