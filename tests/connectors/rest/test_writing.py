"""Writing to the local API: server-assigned keys, one result per record, creates never sent twice."""

from __future__ import annotations

import socket
from decimal import Decimal
from typing import Any

import pytest

from app.errors import PermanentError, TransientError
from connectors.base import Write, WriteAction
from tests.connectors.rest.conftest import FakeClock, MakeSystem
from tests.connectors.rest.server import ApiState

WRITE = {
    "create": {"method": "POST", "path": "/w/contacts"},
    "update": {"method": "PATCH", "path": "/w/contacts/{key}"},
    "delete": {"method": "DELETE", "path": "/w/contacts/{key}"},
}
STREAM: dict[str, Any] = {"key": "id", "path": "/w/contacts", "records": "data", "write": WRITE}
POSTS = ("/api/w/contacts", "POST")


def create(email: str, name: str = "Ann") -> Write:
    return Write(WriteAction.CREATE, {"name": name, "email": email}, None)


def update(key: str, **fields: Any) -> Write:
    return Write(WriteAction.UPDATE, fields, key)


def delete(key: str) -> Write:
    return Write(WriteAction.DELETE, None, key)


async def test_creates_get_the_keys_the_system_assigns_and_later_writes_use_them(
    api: ApiState, make_system: MakeSystem
) -> None:
    connector = make_system({"contacts": STREAM})

    created = await connector.write("contacts", [create("ann@a.se"), create("bo@b.se", "Bo"), create("cy@c.se")])
    keys = [result.target_key or "" for result in created]
    changed = await connector.write("contacts", [update(keys[1], name="Bo Berg"), delete(keys[2])])

    assert [result.ok for result in created + changed] == [True] * 5
    assert sorted(keys) == ["1001", "1002", "1003"]  # in the order they arrived
    assert {str(number): row for number, row in api.store.items()} == {
        keys[0]: {"id": int(keys[0]), "name": "Ann", "email": "ann@a.se"},
        keys[1]: {"id": int(keys[1]), "name": "Bo Berg", "email": "bo@b.se"},
    }
    assert [result.target_key for result in changed] == keys[1:]


async def test_a_refused_record_fails_alone_and_the_others_go_through(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    connector = make_system({"contacts": STREAM})

    results = await connector.write("contacts", [create("ann@a.se"), create("not an email"), create("cy@c.se")])

    assert [result.ok for result in results] == [True, False, True]
    assert isinstance(results[1].error, PermanentError)
    assert str(results[1].error).startswith(
        f'crm.contacts: writing (create): POST {api_url}/w/contacts: 400 Bad Request: {{"error":"email is not valid"}}'
    )
    assert sorted(row["email"] for row in api.store.values()) == ["ann@a.se", "cy@c.se"]
    assert len(api.requests(*POSTS)) == 3


async def test_an_update_of_a_record_that_is_gone_fails_that_record(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": STREAM})
    [made] = await connector.write("contacts", [create("ann@a.se")])

    results = await connector.write("contacts", [update("999", name="X"), update(made.target_key or "", name="Y")])

    assert [result.ok for result in results] == [False, True]
    assert isinstance(results[0].error, PermanentError)
    assert "404 Not Found" in str(results[0].error)


async def test_a_delete_of_a_record_already_gone_succeeds_where_get_confirms_it(
    api: ApiState, make_system: MakeSystem
) -> None:
    connector = make_system({"contacts": {**STREAM, "get": {"path": "/w/contacts/{key}"}}})

    [result] = await connector.write("contacts", [delete("999")])

    assert result.ok and result.target_key == "999"
    assert [seen.method for seen in api.seen] == ["DELETE", "GET"]


async def test_a_delete_404_without_get_to_confirm_fails_that_record(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": STREAM})

    [result] = await connector.write("contacts", [delete("999")])

    assert isinstance(result.error, PermanentError) and "404 Not Found" in str(result.error)


async def test_a_delete_404_of_a_record_that_get_still_finds_fails_that_record(
    api: ApiState, make_system: MakeSystem
) -> None:
    wrong = {**WRITE, "delete": {"method": "DELETE", "path": "/w/people/{key}"}}
    connector = make_system({"contacts": {**STREAM, "write": wrong, "get": {"path": "/w/contacts/{key}"}}})
    [made] = await connector.write("contacts", [create("ann@a.se")])

    [result] = await connector.write("contacts", [delete(made.target_key or "")])

    assert isinstance(result.error, PermanentError) and "/w/people/1001: 404 Not Found" in str(result.error)
    assert 1001 in api.store


async def test_a_create_that_may_have_arrived_is_not_sent_again(
    api: ApiState, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.fault("POST", "/api/w/contacts", kind="drop", after=True)  # created, then the answer is lost
    connector = make_system({"contacts": STREAM}, concurrency=1)  # the first create is sent first

    results = await connector.write("contacts", [create("ann@a.se"), create("bo@b.se")])

    assert isinstance(results[0].error, TransientError)
    assert "the connection was dropped" in str(results[0].error)
    assert results[1].ok
    assert len(api.requests(*POSTS)) == 2
    assert sorted(row["email"] for row in api.store.values()) == ["ann@a.se", "bo@b.se"]


async def test_a_create_answered_503_was_not_done_and_is_sent_again(api: ApiState, make_system: MakeSystem) -> None:
    api.fault("POST", "/api/w/contacts", status=503)
    connector = make_system({"contacts": STREAM})

    [result] = await connector.write("contacts", [create("ann@a.se")])

    assert result.ok and result.target_key == "1001"
    assert len(api.requests(*POSTS)) == 2
    assert len(api.store) == 1


async def test_a_batch_of_creates_that_all_failed_without_arriving_raises(make_system: MakeSystem) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    connector = make_system({"contacts": STREAM}, base_url=f"http://127.0.0.1:{port}/api")

    with pytest.raises(TransientError, match=r"none of the 2 writes went through: .*could not connect"):
        await connector.write("contacts", [create("ann@a.se"), create("bo@b.se")])


async def test_a_batch_of_updates_that_all_failed_for_a_passing_reason_raises(
    api: ApiState, make_system: MakeSystem
) -> None:
    connector = make_system({"contacts": STREAM})
    [made] = await connector.write("contacts", [create("ann@a.se")])
    for _ in range(4):
        api.fault("PATCH", f"/api/w/contacts/{made.target_key}", status=500)

    with pytest.raises(TransientError, match="none of the 1 writes went through"):
        await connector.write("contacts", [update(made.target_key or "", name="X")])


async def test_creates_that_all_may_have_arrived_are_reported_each_not_raised(
    api: ApiState, make_system: MakeSystem
) -> None:
    for _ in range(2):
        api.fault("POST", "/api/w/contacts", status=500, after=True)
    connector = make_system({"contacts": STREAM})

    results = await connector.write("contacts", [create("ann@a.se"), create("bo@b.se")])

    assert all(isinstance(result.error, TransientError) for result in results)
    assert len(api.requests(*POSTS)) == 2 and len(api.store) == 2


async def test_writes_of_a_batch_go_concurrently_up_to_concurrency(api: ApiState, make_system: MakeSystem) -> None:
    api.delay = 0.05
    connector = make_system({"contacts": STREAM}, concurrency=3)

    results = await connector.write("contacts", [create(f"c{number}@x.se") for number in range(9)])

    assert all(result.ok for result in results)
    assert api.most_in_flight == 3
    emails = {str(key): row["email"] for key, row in api.store.items()}
    assert [emails[result.target_key or ""] for result in results] == [f"c{number}@x.se" for number in range(9)]


async def test_a_write_the_stream_has_no_request_for_fails_that_record(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": {**STREAM, "write": {"create": WRITE["create"]}}})

    [result] = await connector.write("contacts", [update("1", name="X")])

    assert str(result.error) == "crm.contacts: writing: the stream has no `write.update`: add one to update records"
    assert api.seen == []


async def test_numbers_are_sent_exactly_as_they_are(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": STREAM})
    record = {"email": "ann@a.se", "id_ext": 123456789012345678901234567890, "rate": Decimal("0.30000000000000000001")}

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, record, None)])

    assert result.ok
    [sent] = api.requests(*POSTS)
    assert b'"id_ext":123456789012345678901234567890' in sent.body
    assert b'"rate":0.30000000000000000001' in sent.body


async def test_a_record_that_cannot_be_sent_as_json_fails_alone(api: ApiState, make_system: MakeSystem) -> None:
    connector = make_system({"contacts": STREAM})
    bad = Write(WriteAction.CREATE, {"email": "bo@b.se", "name": "B\ud800o"}, None)

    results = await connector.write("contacts", [create("ann@a.se"), bad, create("cy@c.se")])

    assert [result.ok for result in results] == [True, False, True]
    assert isinstance(results[1].error, PermanentError)
    assert str(results[1].error) == (
        "crm.contacts: writing (create): the record cannot be sent as JSON: "
        "the text at `name` is not valid Unicode (it has a lone surrogate)"
    )
    assert len(api.requests(*POSTS)) == 2
