"""A request that does not fit its route (a query number out of range, a path that no id is) is answered
``{"detail": "...", "errors": [...]}`` like every other error (SPEC 7: ``detail`` is text), not FastAPI's
``{"detail": [...]}``; the OpenAPI description says so, so clients generated from it read it right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

SHOWN = 3
"""Problems named in ``detail``; ``errors`` lists them all."""

_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}, "title": "Errors"},
    },
}


def install(app: FastAPI) -> None:
    """Answer requests that do not fit their routes, and describe that answer in ``/openapi.json``."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = list(exc.errors())
        return JSONResponse({"detail": summary(problems), "errors": jsonable_encoder(problems)}, 422)

    app.add_exception_handler(RequestValidationError, answer)
    described = app.openapi

    def openapi() -> dict[str, Any]:
        schema = described()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = _SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def summary(problems: Sequence[Any]) -> str:
    """``query.limit: Input should be less than or equal to 500``; the first few, then how many more."""
    shown = [f"{'.'.join(map(str, problem.get('loc', ())))}: {problem.get('msg', 'not valid')}" for problem in problems]
    more = len(shown) - SHOWN
    text = "; ".join(shown[:SHOWN]) + (f" (and {more} more)" if more > 0 else "")
    return text or "the request does not fit this route"
