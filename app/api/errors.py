"""Domain errors become HTTP answers in one place: ``{"detail": "..."}`` with the right status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.api.pagination import BadCursorError
from app.engine.webhooks import WebhookRejected
from app.errors import BryggaError, ConfigError, ConflictError, NotFoundError, StoreError

_STATUSES: list[tuple[type[BryggaError], int]] = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (BadCursorError, 400),
    (StoreError, 503),
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
        return JSONResponse({"detail": str(exc)}, 500)

    app.add_exception_handler(BryggaError, answer)
