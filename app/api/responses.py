"""The error answers routes document in the OpenAPI description."""

from __future__ import annotations

from typing import Any

from app.api.models import Problem

Responses = dict[int | str, dict[str, Any]]


def problem(status: int, description: str) -> Responses:
    return {status: {"model": Problem, "description": description}}


UNAUTHORIZED = problem(401, "No valid bearer token (with api.tokens configured).")
FORBIDDEN = problem(403, "The token is a viewer's: this needs an operator token.")
BAD_CURSOR = problem(400, "A cursor that no page gave out.")
