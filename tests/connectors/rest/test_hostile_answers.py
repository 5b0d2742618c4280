"""Answers an API should never give, against the real connector (respx): duplicate names in an object, a body
of 10,000 nested lists, ids beyond any float, and pagination that never moves on. The read neither hangs nor
crashes, and loses or doubles no record without saying so."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.errors import PermanentError
from app.records import format_key
from connectors.rest.connector import RestConnector
from tests.connectors.rest.conftest import FAST_RETRIES, FakeClock, read_all, rest_system

BASE = "https://crm.example.com/api"
JSON = {"content-type": "application/json"}
Make = Callable[..., RestConnector]


@pytest.fixture
async def mocked(tmp_path: Path, fake_clock: FakeClock) -> AsyncIterator[tuple[respx.MockRouter, Make]]:
    made: list[RestConnector] = []

    def make(stream: dict[str, Any]) -> RestConnector:
        connector = rest_system(tmp_path, {"base_url": BASE, "streams": {"c": {"key": "id", "path": "/c", **stream}}})
        connector.clock, connector.retry_policy = fake_clock.clock, FAST_RETRIES
        made.append(connector)
        return connector

    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router, make
        for connector in made:
            await connector.close()


async def _records(connector: RestConnector) -> list[dict[str, Any]]:
    return [record for batch in await read_all(connector, "c") for record in batch.records]


async def test_a_name_twice_in_an_object_takes_its_last_value_as_every_json_parser_does(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    router.get("/c").respond(content=b'{"data": [{"id": 1}], "data": [{"id": 2, "id": 3}]}', headers=JSON)

    assert await _records(make({"records": "data"})) == [{"id": 3}]


@pytest.mark.parametrize("records", [None, "data"])
async def test_a_body_of_ten_thousand_nested_lists_is_one_item_that_fails_alone(
    mocked: tuple[respx.MockRouter, Make], records: str | None
) -> None:
    router, make = mocked
    nested = b"[" * 10_000 + b"]" * 10_000
    router.get("/c").respond(content=nested if records is None else b'{"data": ' + nested + b"}", headers=JSON)

    [item] = await _records(make({"records": records}))

    assert list(item) == ["(not a record)"]


async def test_ids_beyond_any_float_keep_their_value_and_one_point_oh_is_the_key_of_one(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    body = b'[{"id": 1e999}, {"id": 123456789012345678901234567890}, {"id": 1.0}, {"id": 1}]'
    router.get("/c").respond(content=body, headers=JSON)
    connector = make({})

    records = await _records(connector)

    assert [record["id"] for record in records] == [Decimal("1E+999"), 123456789012345678901234567890, 1.0, 1]
    assert [format_key([record["id"]]) for record in records] == ["1E+999", "123456789012345678901234567890", "1", "1"]


@pytest.mark.parametrize(
    ("pagination", "answer"),
    [
        ({"type": "link_header"}, {"json": [{"id": 1}], "headers": {"Link": f'<{BASE}/c>; rel="next"'}}),
        ({"type": "next_url", "path": "next"}, {"json": {"data": [{"id": 1}], "next": "/api/c?page=1"}}),
        ({"type": "cursor", "path": "next", "param": "cursor"}, {"json": {"data": [{"id": 1}], "next": 7}}),
        ({"type": "page", "size": 2}, {"json": {"data": [{"id": 1}, {"id": 2}]}}),  # the page number ignored
    ],
    ids=["link-to-itself", "next-url-to-itself", "cursor-ignored", "page-ignored"],
)
async def test_pagination_that_never_moves_on_fails_the_read_instead_of_looping(
    mocked: tuple[respx.MockRouter, Make], pagination: dict[str, Any], answer: dict[str, Any]
) -> None:
    router, make = mocked
    route = router.get("/c").respond(**answer)
    records = None if pagination["type"] == "link_header" else "data"

    with pytest.raises(PermanentError, match="the read stops here instead of looping"):
        await read_all(make({"records": records, "pagination": pagination}), "c")

    assert route.call_count <= 3


async def test_next_links_alternating_between_two_spellings_of_one_page_fail_the_read(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        following = "/api/c?a=1&b=2" if len(calls) % 2 else "/api/c?b=2&a=1"
        return httpx.Response(200, json={"data": [{"id": 1}], "next": following})

    router.get("/c").mock(side_effect=answer)

    with pytest.raises(PermanentError, match="has the very same records as page 1"):
        await read_all(make({"records": "data", "pagination": {"type": "next_url", "path": "next"}}), "c")

    assert len(calls) <= 3
