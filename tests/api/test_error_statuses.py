"""The API answers each Brygga error with the status app/api/errors.py's table gives its type: connector
and mapping errors no longer fall through to 500, and the answers keep SPEC 7's shape."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from app.api import errors
from app.errors import (
    BryggaError,
    ConnectorError,
    MappingError,
    NotFoundError,
    PermanentError,
    StoreError,
    TransientError,
)
from connectors.rest.errors import NotFoundHttpError


def _answer(error: BryggaError) -> tuple[int, dict[str, object]]:
    app = FastAPI()
    errors.install(app)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/fails")

    response = asyncio.run(ask())
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(PermanentError("crm.contacts: 403 Forbidden"), 502, id="permanent"),
        pytest.param(NotFoundHttpError("GET /contacts/7: 404 Not Found"), 502, id="rest-404-of-a-system"),
        pytest.param(ConnectorError("crm: cannot connect"), 502, id="connector"),
        pytest.param(TransientError("crm: timed out after 30s"), 503, id="transient"),
        pytest.param(MappingError("contacts", "7", "email", "not text"), 422, id="mapping"),
        pytest.param(NotFoundError("no sync named 'x'"), 404, id="not-found"),
    ],
)
def test_an_error_is_answered_with_its_tables_status_and_its_message(error: BryggaError, status: int) -> None:
    assert _answer(error) == (status, {"detail": str(error)})


def test_a_state_database_error_keeps_its_statement_out_of_the_answer() -> None:
    error = StoreError("INSERT INTO runs VALUES ('secret')")

    status, body = _answer(error)

    assert status == 503
    assert "INSERT" not in str(body["detail"])
