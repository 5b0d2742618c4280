"""``{key}`` in request paths: every key is exactly one path segment, whatever it holds, or the record
is refused alone, before any request, saying why (a key ``..`` once PATCHed the parent order)."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import PermanentError
from connectors.base import Write, WriteAction
from tests.connectors.rest.conftest import MakeSystem
from tests.connectors.rest.server import ApiState

LINES: dict[str, Any] = {
    "key": ["order_no", "line_no"],
    "path": "/w/lines",
    "get": {"path": "/w/orders/{order_no}/lines/{line_no}"},
    "write": {
        "update": {"method": "PATCH", "path": "/w/orders/{order_no}/lines/{line_no}"},
        "delete": {"method": "DELETE", "path": "/w/orders/{order_no}/lines/{line_no}"},
    },
}
CONTACTS: dict[str, Any] = {
    "key": "id",
    "path": "/w/contacts",
    "records": "data",
    "get": {"path": "/w/contacts/{key}"},
    "write": {
        "update": {"method": "PATCH", "path": "/w/contacts/{key}"},
        "delete": {"method": "DELETE", "path": "/w/contacts/{key}"},
    },
}

REFUSED = [
    ("..", "the key is '..', which a URL cannot hold as a path segment of its own"),
    (".", "the key is '.', which a URL cannot hold as a path segment of its own"),
    ("", "the key is empty, which a URL cannot hold as a path segment of its own"),
    ("a\ud800", "the key 'a\\ud800' has text that is not valid Unicode (a lone surrogate)"),
]


@pytest.mark.parametrize(("part", "reason"), REFUSED)
async def test_a_composite_key_part_that_is_no_segment_fails_its_record_alone_before_any_request(
    api: ApiState, make_system: MakeSystem, part: str, reason: str
) -> None:
    api.store[7] = {"id": 7, "name": "Order 7"}
    connector = make_system({"lines": LINES, "contacts": CONTACTS})
    key = f'["7","{part}"]'  # as format_key writes a composite key

    results = await connector.write("lines", [Write(WriteAction.UPDATE, {"qty": 1}, key), delete(key)])
    fine = await connector.write("contacts", [Write(WriteAction.UPDATE, {"name": "Still 7"}, "7")])

    assert [result.ok for result in results + fine] == [False, False, True]
    assert all(isinstance(result.error, PermanentError) for result in results)
    assert f"{reason}; no request is sent for it" in str(results[0].error)
    assert [(seen.method, seen.path) for seen in api.seen] == [("PATCH", "/api/w/contacts/7")]
    assert api.store[7] == {"id": 7, "name": "Still 7"}
    for result in results:
        str(result.error).encode("utf-8")  # fit to be logged and stored


def delete(key: str) -> Write:
    return Write(WriteAction.DELETE, None, key)


@pytest.mark.parametrize(("key", "reason"), REFUSED)
async def test_a_one_field_key_that_is_no_segment_fails_update_delete_and_get(
    api: ApiState, make_system: MakeSystem, key: str, reason: str
) -> None:
    connector = make_system({"contacts": CONTACTS})

    results = await connector.write("contacts", [Write(WriteAction.UPDATE, {"name": "X"}, key), delete(key)])
    with pytest.raises(PermanentError, match="no request is sent for it") as failed:
        await connector.get("contacts", [key])

    assert [str(result.error).split(": ", 2)[-1] for result in results] == [f"{reason}; no request is sent for it"] * 2
    assert reason in str(failed.value)
    assert api.seen == []


@pytest.mark.parametrize(
    ("key", "sent"),
    [
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("...", "..."),
        ("?page=2", "%3Fpage%3D2"),
        ("#top", "%23top"),
        ("100%", "100%25"),
        ("%2E%2E", "%252E%252E"),
        ("a b", "a%20b"),
        ("nul\x00", "nul%00"),
        ("Åsa", "%C3%85sa"),
        ("x" * 2000, "x" * 2000),
    ],
)
async def test_every_other_key_is_sent_as_exactly_one_segment(
    api: ApiState, make_system: MakeSystem, key: str, sent: str
) -> None:
    connector = make_system({"contacts": {**CONTACTS, "get": {"path": "/w/people/{key}/card"}}})

    assert await connector.get("contacts", [key]) == {}  # 404: not there

    [seen] = api.seen
    assert seen.raw_path == f"/api/w/people/{sent}/card"
