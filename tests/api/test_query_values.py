"""A query is read one way: numbers in the digits 0-9 alone, a parameter that takes one value given once.

Pydantic read ``+5``, ``1_000``, `` 5`` and ``5%0A`` as 5, and of ``?status=failed&status=succeeded`` the
last was taken without a word. Through the app in this process, every route that takes a query: the check is
one for all of them (app/api/query_values.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.in_process import served
from tests.webhooks.conftest import make_project

NUMBERED = [
    "/api/v1/syncs?limit={}",
    "/api/v1/runs?limit={}",
    "/api/v1/runs/1/records?limit={}",
    "/api/v1/dead-letters?limit={}",
    "/api/v1/webhook-events?limit={}",
]
NOT_DIGITS = {
    "%2B5": "+5",
    "1_000": "1_000",
    "%205": " 5",
    "5%20": "5 ",
    "5%0A": "5\n",
    "5.0": "5.0",
    "0x5": "0x5",
    "5e0": "5e0",
    "%D9%A5": "\u0665",  # ARABIC-INDIC DIGIT FIVE: a digit to str.isdigit, and to int()
    "%EF%BC%95": "\uff15",  # FULLWIDTH DIGIT FIVE
    "": "",
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    project = make_project(tmp_path / "project")
    async with served(project) as client:
        yield client


async def test_a_number_in_a_query_is_digits_alone(client: httpx.AsyncClient) -> None:
    for address in NUMBERED:
        assert (await client.get(address.format("05"))).status_code != 422, address  # digits all the same (run 1: 404)
        for sent, meant in NOT_DIGITS.items():
            answer = await client.get(address.format(sent))

            assert answer.status_code == 422, (address, sent, answer.text)
            detail = f"query.limit: write a number in the digits 0-9 alone, not {meant!r}"
            assert answer.json()["detail"] == detail, answer.text
            assert answer.json()["errors"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ("/api/v1/runs?status=failed&status=succeeded", "status"),
        ("/api/v1/runs?sync=local&sync=shop", "sync"),
        ("/api/v1/runs?limit=5&limit=5", "limit"),
        ("/api/v1/dead-letters?sync=local&sync=local", "sync"),
        ("/api/v1/webhook-events?system=local&system=shop", "system"),
        ("/api/v1/syncs?cursor=a&cursor=b", "cursor"),
        ("/api/v1/runs/1/records?limit=1&limit=2&limit=3", "limit"),
    ],
)
async def test_a_parameter_given_twice_is_refused_by_its_name(
    client: httpx.AsyncClient, address: str, name: str
) -> None:
    answer = await client.get(address)

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"query.{name}: given "), answer.text
    assert answer.json()["detail"].endswith(" times: give it once"), answer.text
    assert answer.json()["errors"][0]["loc"] == ["query", name]


async def test_an_operators_request_with_a_parameter_given_twice_does_nothing(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/syncs/local/runs?full=true&full=false")

    assert answer.status_code == 422 and answer.json()["detail"] == "query.full: given 2 times: give it once"
    assert (await client.get("/api/v1/runs")).json()["items"] == []


@pytest.mark.parametrize("address", ["/syncs/local?before=%2B5", "/syncs/local?before=1&before=2", "/runs/1?after=1_0"])
async def test_a_dashboard_page_says_the_same_on_a_page(client: httpx.AsyncClient, address: str) -> None:
    """To a signed-in visitor: one who is not is sent to sign in first (tests/api/dashboard/test_caller_first.py)."""
    token = client.headers["authorization"].removeprefix("Bearer ")
    signed = await client.post("/sign-in", data={"token": token}, headers={"Origin": str(client.base_url).rstrip("/")})
    assert signed.status_code == 303, signed.text

    answer = await client.get(address)

    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html"), answer.text
    assert "<h1>Not a page</h1>" in answer.text
    assert "digits 0-9 alone" in answer.text or "times: give it once" in answer.text


async def test_a_caller_without_a_valid_token_is_answered_401_before_the_query_is_looked_at(
    client: httpx.AsyncClient,
) -> None:
    """SPEC 7: 401 without a valid token, whatever else the request holds (FastAPI answers its own
    parameters after the route's dependencies; this check runs before them)."""
    for address in NUMBERED:
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
            for query in (address.format("%2B5"), address.format("5") + "&limit=6"):
                answer = await client.get(query, headers=headers)

                assert answer.status_code == 401, (query, headers, answer.text)
