"""``timeout`` bounds a whole request: connect, send and every byte of the answer, against a real local
server that trickles its answer a byte at a time (each byte well within any per-read timeout)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.errors import TransientError
from connectors.base import Write, WriteAction
from connectors.rest.errors import TransientHttpError
from connectors.rest.retrying import RequestRetryPolicy
from tests.connectors.rest.conftest import MakeSystem, read_all
from tests.connectors.rest.server import ApiState
from tests.connectors.rest.test_auth import ENVIRON, oauth

SLOW = "/api/slow/contacts"
ONE_TRY = RequestRetryPolicy(attempts=1)


def trickle(api: ApiState, body: bytes = b'[{"id": 1}]') -> None:
    """An answer that takes about 10 s at a byte every 50 ms: far past the tests' half-second timeout."""
    api.raw["slow"] = body + b" " * (200 - len(body))


async def bounded(work: Any) -> Any:
    """No test waits for a trickle to end: before the fix it would have, so the bound stays above it."""
    return await asyncio.wait_for(work, 30)


async def test_a_read_whose_answer_trickles_fails_at_the_timeout_as_a_passing_error(
    api: ApiState, make_system: MakeSystem
) -> None:
    trickle(api)
    connector = make_system({"contacts": {"key": "id", "path": "/slow/contacts"}}, timeout="500ms")
    connector.retry_policy = ONE_TRY

    with pytest.raises(TransientHttpError) as failed:
        await bounded(read_all(connector, "contacts"))

    assert str(failed.value).startswith("crm.contacts: reading page 1: GET ")
    assert "no answer in time (the whole request took longer than the system's `timeout`)" in str(failed.value)
    assert failed.value.maybe_done
    assert api.wait_idle(5), "the server stopped trickling: the connection was closed"


async def test_a_create_whose_answer_trickles_is_not_sent_again(api: ApiState, make_system: MakeSystem) -> None:
    trickle(api, b'{"id": 5}')
    create = {"method": "POST", "path": "/slow/contacts"}
    connector = make_system(
        {"contacts": {"key": "id", "path": "/w/contacts", "write": {"create": create}}}, timeout=0.5
    )

    [result] = await bounded(connector.write("contacts", [Write(WriteAction.CREATE, {"name": "Ann"}, None)]))

    assert isinstance(result.error, TransientError) and "no answer in time (the whole request" in str(result.error)
    assert len(api.requests(SLOW, "POST")) == 1, "it may have arrived: not sent again"


async def test_a_token_endpoint_that_trickles_fails_at_the_timeout(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    trickle(api, b'{"access_token": "t", "expires_in": 60}')
    auth = oauth(api_url, token_url=f"{api_url}/slow/contacts")
    connector = make_system(
        {"contacts": {"key": "id", "path": "/auth/oauth/contacts"}}, ENVIRON, auth=auth, timeout=0.5
    )
    connector.retry_policy = ONE_TRY

    with pytest.raises(TransientHttpError, match=r"fetching an OAuth2 token from .*: no answer in time \(the whole"):
        await bounded(read_all(connector, "contacts"))
