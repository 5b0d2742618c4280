"""Defence in depth: a blank bearer token never matches, even a token that somehow is empty (issue 17 item 2).

Config validation refuses empty and short tokens; this holds should a token ever reach the API empty anyway.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi import HTTPException
from pydantic import SecretStr
from starlette.requests import Request

from app.api.auth import identify
from app.config import Project


def _project(*tokens: str) -> Project:
    entries = [SimpleNamespace(name=f"t{n}", role="operator", token=SecretStr(token)) for n, token in enumerate(tokens)]
    return cast(Project, SimpleNamespace(settings=SimpleNamespace(api=SimpleNamespace(tokens=entries))))


def _request(authorization: str) -> Request:
    scope: dict[str, Any] = {"type": "http", "headers": [(b"authorization", authorization.encode("latin-1"))]}
    return Request(scope)


@pytest.mark.parametrize("header", ["Bearer ", "Bearer  ", "Bearer \t", "bearer   ", "Bearer"])
def test_a_blank_bearer_token_is_refused_even_where_a_token_is_empty(header: str) -> None:
    with pytest.raises(HTTPException) as refused:
        identify(_project("", "x" * 32), _request(header))

    assert refused.value.status_code == 401


def test_a_token_with_spaces_around_it_still_identifies_its_caller() -> None:
    caller = identify(_project("", "x" * 32), _request("Bearer  " + "x" * 32 + " "))

    assert caller.name == "t1"
