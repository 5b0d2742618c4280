"""A query is read one way: each number in the digits 0-9 alone, each parameter that takes one value given once.

Pydantic reads ``+5``, ``1_000``, `` 5`` and ``5%0A`` as the number 5 (an id in a path is already digits
alone: :func:`app.api.deps.digits_only`), and FastAPI took the last of ``?status=failed&status=succeeded``
without a word, so a client that meant both got one. Checked here for every route at once, from the
parameters each declares, before the route reads them: a problem is answered 422 naming the parameter,
as any other that does not fit (:mod:`app.api.validation_answers`; a dashboard page answers with a page, once
its visitor is judged: :mod:`app.api.pages.refusals`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams

from app.api.deps import get_service, operator, viewer

SHOWN_VALUE = 20
"""Characters of a value that is no number that the answer repeats."""
_MANY = (list, tuple, set, frozenset)


async def check_query(request: Request) -> None:
    """:raises RequestValidationError: for each declared number that is not digits alone, and each
    parameter that takes one value given more than once (FastAPI answers 422)"""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    problems = list(_problems(route.dependant, request.query_params))
    if problems:
        await _caller_first(route.dependant, request)
        raise RequestValidationError(problems)


async def _caller_first(dependant: Dependant, request: Request) -> None:
    """A route for callers with a token answers 401 without a valid one, and 403 to a viewer where it is for
    operators, before it looks at the query (SPEC 7), as FastAPI answers its own parameters: this check runs
    before the route's dependencies.

    :raises HTTPException: 401 or 403
    """
    calls = set(_calls(dependant))
    if viewer in calls or operator in calls:
        caller = await viewer(await get_service(request), request, None)
        if operator in calls:
            await operator(caller)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _problems(dependant: Dependant, query: QueryParams) -> Iterator[dict[str, Any]]:
    for name, annotation in _declared(dependant):
        given = query.getlist(name)
        if len(given) > 1 and not _takes_many(annotation):
            yield _problem(name, "single_value", f"given {len(given)} times: give it once", given)
        elif given and _is_number(annotation) and not (given[0].isascii() and given[0].isdigit()):
            shown = given[0] if len(given[0]) <= SHOWN_VALUE else given[0][:SHOWN_VALUE] + "…"
            yield _problem(name, "digits", f"write a number in the digits 0-9 alone, not {shown!r}", given[0])


def _declared(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    """The query parameters of a route and of the dependencies it has, by the name a query gives them."""
    for field in dependant.query_params:
        yield field.alias, field.field_info.annotation
    for sub in dependant.dependencies:
        yield from _declared(sub)


def _problem(name: str, kind: str, message: str, given: Any) -> dict[str, Any]:
    return {"type": kind, "loc": ("query", name), "msg": message, "input": given}


def _arms(annotation: Any) -> tuple[Any, ...]:
    """``int | None`` → ``(int, NoneType)``; a type that is no union → itself alone."""
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return typing.get_args(annotation) if is_union else (annotation,)


def _takes_many(annotation: Any) -> bool:
    return any(typing.get_origin(arm) in _MANY or arm in _MANY for arm in _arms(annotation))


def _is_number(annotation: Any) -> bool:
    return int in _arms(annotation)
