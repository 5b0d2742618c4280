"""The error answers routes document in the OpenAPI description."""

from __future__ import annotations

from typing import Any

from app.api.models import Problem

Responses = dict[int | str, dict[str, Any]]


def problem(status: int, description: str) -> Responses:
    return {status: {"model": Problem, "description": description}}
