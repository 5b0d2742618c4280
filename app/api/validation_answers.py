"""A request that does not fit its route (a query number out of range, a path that no id is) is answered
``{"detail": "...", "errors": [...]}`` like every other error (SPEC 7: ``detail`` is text), not FastAPI's
``{"detail": [...]}``; the OpenAPI description says so, so clients generated from it read it right.

A path whose number cannot be one (``/runs/abc``, ``/runs/0``, beyond 64 bits) names nothing there is: 404, as
an id that is not there (SPEC 7), not 422. A query that does not fit (``?limit=501``) stays 422."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

SHOWN = 3
"""Problems named in ``detail``; ``errors`` lists them all."""
SHOWN_INPUT = 200
"""Characters of a problem's ``input`` given back: a 100 KB name was answered with all of it, a client's
own bytes sent back as many times as it asked."""

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
        problems = [_cut_short(problem) for problem in exc.errors()]
        if problems and all(_an_id_in_the_path(problem) for problem in problems):
            detail = f"not found: no such id ({summary(problems)})"
            return JSONResponse({"detail": detail, "errors": jsonable_encoder(problems)}, 404)
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


def _cut_short(problem: Any) -> Any:
    """``problem`` with its ``input``, where that is long text, cut to :data:`SHOWN_INPUT` characters."""
    given = problem.get("input") if isinstance(problem, dict) else None
    if not isinstance(given, str) or len(given) <= SHOWN_INPUT:
        return problem
    return {**problem, "input": given[:SHOWN_INPUT] + f"… ({len(given):,} characters)"}


def _an_id_in_the_path(problem: Any) -> bool:
    """A run's, dead letter's or event's number in the path (names and keys that cannot be stay 422: their
    message says what is wrong with them)."""
    location = problem.get("loc", ())
    return len(location) == 2 and location[0] == "path" and str(location[1]).endswith("_id")


def summary(problems: Sequence[Any]) -> str:
    """``query.limit: Input should be less than or equal to 500``; the first few, then how many more."""
    shown = [f"{'.'.join(map(str, problem.get('loc', ())))}: {problem.get('msg', 'not valid')}" for problem in problems]
    more = len(shown) - SHOWN
    text = "; ".join(shown[:SHOWN]) + (f" (and {more} more)" if more > 0 else "")
    return text or "the request does not fit this route"
