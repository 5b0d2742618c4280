"""The exact shape of requests (respx): headers, credentials, query parameters, JSON bodies, paths."""

from __future__ import annotations

import base64
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.errors import PermanentError
from connectors.base import Write, WriteAction
from connectors.rest.client import _tls
from connectors.rest.connector import RestConnector
from tests.connectors.rest.conftest import FAST_RETRIES, FakeClock, read_all, rest_system

BASE = "https://crm.example.com/api/v2"
Make = Callable[..., RestConnector]


@pytest.fixture
async def mocked(tmp_path: Path, fake_clock: FakeClock) -> AsyncIterator[tuple[respx.MockRouter, Make]]:
    made: list[RestConnector] = []

    def make(streams: dict[str, Any], environ: dict[str, str] | None = None, **options: Any) -> RestConnector:
        connector = rest_system(tmp_path, {"base_url": BASE, "streams": streams, **options}, environ)
        connector.clock, connector.retry_policy = fake_clock.clock, FAST_RETRIES
        made.append(connector)
        return connector

    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router, make
        for connector in made:
            await connector.close()


CONTACTS = {"key": "id", "path": "/contacts"}


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


async def test_every_request_has_the_configured_headers_and_asks_for_json(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    route = router.get("/contacts").respond(json=[])
    connector = make({"contacts": CONTACTS}, headers={"X-Tenant": "acme", "User-Agent": "brygga-test"})

    await read_all(connector, "contacts")

    request = route.calls.last.request
    assert request.url == f"{BASE}/contacts"
    assert request.headers["x-tenant"] == "acme"
    assert request.headers["user-agent"] == "brygga-test"
    assert request.headers["accept"] == "application/json"


async def test_a_configured_accept_header_replaces_the_default(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    route = router.get("/contacts").respond(json=[])
    connector = make({"contacts": CONTACTS}, headers={"accept": "application/vnd.api+json"})

    await read_all(connector, "contacts")

    assert route.calls.last.request.headers.get_list("accept") == ["application/vnd.api+json"]


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "bearer", "token": "${SECRET}"}, "authorization", "Bearer tok/en+1"),
        (
            {"type": "basic", "username": "ann", "password": "${SECRET}"},
            "authorization",
            "Basic " + base64.b64encode(b"ann:tok/en+1").decode(),
        ),
        ({"type": "header", "name": "X-Api-Key", "value": "${SECRET}"}, "x-api-key", "tok/en+1"),
    ],
    ids=["bearer", "basic", "header"],
)
async def test_credentials_go_in_the_header_each_kind_names(
    mocked: tuple[respx.MockRouter, Make], auth: dict[str, Any], header: str, expected: str
) -> None:
    router, make = mocked
    route = router.get("/contacts").respond(json=[])
    connector = make({"contacts": CONTACTS}, {"SECRET": "tok/en+1"}, auth=auth)

    await read_all(connector, "contacts")

    assert route.calls.last.request.headers[header] == expected


@pytest.mark.parametrize(
    ("pagination", "answer"),
    [
        ({"type": "next_url", "path": "next"}, {"json": {"data": [{"id": 1}], "next": "https://collector.test/p2"}}),
        (
            {"type": "link_header"},
            {"json": {"data": [{"id": 1}]}, "headers": {"Link": '<https://crm.example.com:8443/p2>; rel="next"'}},
        ),
        ({"type": "next_url", "path": "next"}, {"json": {"data": [{"id": 1}], "next": "http://crm.example.com/p2"}}),
    ],
    ids=["next-url-on-another-host", "link-on-another-port", "next-url-by-plain-http"],
)
async def test_credentials_never_follow_a_next_page_to_another_host(
    mocked: tuple[respx.MockRouter, Make], pagination: dict[str, Any], answer: dict[str, Any]
) -> None:
    router, make = mocked
    router.get("/contacts").respond(**answer)
    elsewhere = router.route(path__startswith="/p2").respond(json=[])
    auth = {"type": "bearer", "token": "${SECRET}"}
    connector = make(
        {"contacts": {**CONTACTS, "records": "data", "pagination": pagination}}, {"SECRET": "s3cr3t-token"}, auth=auth
    )

    with pytest.raises(
        PermanentError, match=r"on another host than base_url https://crm\.example\.com/api/v2"
    ) as failed:
        await read_all(connector, "contacts")

    assert not elsewhere.called
    assert "credentials go to base_url's host only" in str(failed.value) and "s3cr3t" not in str(failed.value)


@pytest.mark.parametrize("host", ["xn--a.com", "xn--" + "9" * 60 + ".com"])
async def test_a_next_page_on_a_host_whose_name_is_no_idna_is_another_host_not_a_crash(
    mocked: tuple[respx.MockRouter, Make], host: str
) -> None:
    """Telling the next page's host decoded its punycode name (``xn--…``), and the idna package's error for one
    that decodes to nothing valid failed the run as "an unexpected error (InvalidCodepoint: …)"."""
    router, make = mocked
    router.get("/contacts").respond(json={"data": [{"id": 1}], "next": f"https://{host}/p2"})
    connector = make({"contacts": {**CONTACTS, "records": "data", "pagination": {"type": "next_url", "path": "next"}}})

    with pytest.raises(PermanentError, match=rf"the API named https://{host}/p2 \(a next page\) on another host than"):
        await read_all(connector, "contacts")


async def test_an_answer_that_inflates_past_max_answer_is_refused_as_it_arrives(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    inflated = b"[" + b'{"id": 1},' * 200_000 + b'{"id": 2}]'  # 2 MB from 2 KB: a small zip bomb
    router.get("/contacts").respond(content=gzip.compress(inflated), headers={"Content-Encoding": "gzip"})
    small, large = make({"contacts": CONTACTS}, max_answer="1MiB"), make({"contacts": CONTACTS}, max_answer="4MiB")

    with pytest.raises(PermanentError, match=r"the answer is larger than max_answer \(1,048,576 bytes once"):
        await read_all(small, "contacts")
    assert sum(len(batch.records) for batch in await read_all(large, "contacts")) == 200_001


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, as some servers send it
        ("gzip, deflate", lambda data: zlib.compress(gzip.compress(data))),
        ("identity", lambda data: data),
        ("unknown-coding", lambda data: data),  # not undone, as httpx leaves it
    ],
)
async def test_an_answer_is_read_through_each_of_its_content_encodings(
    mocked: tuple[respx.MockRouter, Make], encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    router, make = mocked
    body = json.dumps([{"id": number, "name": "Ann"} for number in range(5_000)]).encode()
    router.get("/contacts").respond(content=encode(body), headers={"Content-Encoding": encoding})

    batches = await read_all(make({"contacts": CONTACTS}, max_answer=len(body)), "contacts")

    assert [record["id"] for batch in batches for record in batch.records] == list(range(5_000))


async def test_a_query_key_is_a_parameter_beside_the_streams_own(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    route = router.get("/contacts").respond(json=[])
    auth = {"type": "query", "name": "api_key", "value": "${SECRET}"}
    connector = make({"contacts": {**CONTACTS, "params": {"status": "active"}}}, {"SECRET": "tok/en+1"}, auth=auth)

    await read_all(connector, "contacts")

    assert dict(route.calls.last.request.url.params) == {"status": "active", "api_key": "tok/en+1"}
    assert "authorization" not in route.calls.last.request.headers


async def test_the_oauth2_token_request_is_a_client_credentials_form(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    token = router.post("https://login.example.com/oauth/token").respond(
        json={"access_token": "at-123456", "expires_in": 3600}
    )
    api = router.get("/contacts").respond(json=[])
    auth = {
        "type": "oauth2",
        "token_url": "https://login.example.com/oauth/token",
        "client_id": "brygga",
        "client_secret": "${SECRET}",
        "scopes": ["contacts.read"],
    }
    connector = make({"contacts": CONTACTS}, {"SECRET": "cs-987654"}, auth=auth)

    await read_all(connector, "contacts")

    sent = token.calls.last.request
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in sent.headers
    assert dict(httpx.QueryParams(sent.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": "brygga",
        "client_secret": "cs-987654",
        "scope": "contacts.read",
    }
    assert api.calls.last.request.headers["authorization"] == "Bearer at-123456"


async def test_cursor_pages_send_the_token_with_the_streams_params_and_the_stored_cursor(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    route = router.get("/contacts").mock(
        side_effect=[
            httpx.Response(200, json={"data": [{"id": 1, "updated_at": 5}], "meta": {"next": "abc=="}}),
            httpx.Response(200, json={"data": [{"id": 2, "updated_at": 3}], "meta": {"next": None}}),
        ]
    )
    options = {
        **CONTACTS,
        "records": "data",
        "params": {"include": "address", "per_page": 100},
        "pagination": {"type": "cursor", "param": "page[after]", "path": "meta.next"},
        "incremental": {"cursor": "updated_at", "param": "filter[updated_since]"},
    }
    connector = make({"contacts": options})

    batches = await read_all(connector, "contacts", {"cursor": 2})

    first, second = (dict(call.request.url.params) for call in route.calls)
    assert first == {"include": "address", "per_page": "100", "filter[updated_since]": "2"}
    assert second == {**first, "page[after]": "abc=="}
    assert [batch.checkpoint for batch in batches] == [{"cursor": 5}]


async def test_a_next_url_relative_to_the_page_is_followed_as_given(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    route = router.get("/contacts").mock(
        side_effect=[
            httpx.Response(200, json={"items": [{"id": 1}], "next": "contacts?after=1&sig=x%2Fy"}),
            httpx.Response(200, json={"items": [{"id": 2}], "next": ""}),
        ]
    )
    options = {
        **CONTACTS,
        "records": "items",
        "params": {"limit": 1},
        "pagination": {"type": "next_url", "path": "next"},
    }
    connector = make({"contacts": options})

    await read_all(connector, "contacts")

    assert str(route.calls[1].request.url) == f"{BASE}/contacts?after=1&sig=x%2Fy"


async def test_check_asks_for_the_smallest_page(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    route = router.get("/contacts").respond(json={"items": []})
    options = {**CONTACTS, "records": "items", "pagination": {"type": "offset", "limit": 500}}
    connector = make({"contacts": options, "other": {"key": "id", "path": "/other"}})

    await connector.check()

    assert dict(route.calls.last.request.url.params) == {"offset": "0", "limit": "1"}


async def test_check_fails_as_the_request_fails(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    router.get("/contacts").respond(403)
    connector = make({"contacts": CONTACTS})

    with pytest.raises(PermanentError, match=r"crm\.contacts: checking: GET .*: 403 Forbidden"):
        await connector.check()


async def test_an_answer_that_is_not_json_fails_the_read(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    router.get("/contacts").respond(200, text="<html>Login</html>", headers={"Content-Type": "text/html"})
    connector = make({"contacts": CONTACTS})

    with pytest.raises(PermanentError, match=r"the answer is not JSON \(text/html\): check `base_url` and the stream"):
        await read_all(connector, "contacts")


# --- writes ----------------------------------------------------------------------------------------

WRITE = {
    "create": {"method": "POST", "path": "/contacts"},
    "update": {"method": "put", "path": "/contacts/{key}"},
    "delete": {"method": "DELETE", "path": "/contacts/{key}"},
}


async def test_a_create_sends_the_mapped_record_as_json_with_every_type_written_plainly(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    route = router.post("/contacts").respond(201, json={"id": 77})
    connector = make({"contacts": {**CONTACTS, "write": WRITE}})
    record = {
        "name": "Åsa",
        "limit": Decimal("1200.50"),
        "rate": Decimal("0.1"),
        "exact": Decimal("12345678901234567.123"),
        "count": Decimal("3"),
        "born": date(1990, 1, 2),
        "seen": datetime(2024, 5, 1, 12, 30),
        "tags": ("a", "b"),
        "note": None,
    }

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, record, None)])

    assert result.target_key == "77"
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content, parse_float=Decimal) == {  # numbers exactly as they are (SPEC 8)
        "name": "Åsa",
        "limit": Decimal("1200.50"),
        "rate": Decimal("0.1"),
        "exact": Decimal("12345678901234567.123"),
        "count": 3,
        "born": "1990-01-02",
        "seen": "2024-05-01T12:30:00",
        "tags": ["a", "b"],
        "note": None,
    }


@pytest.mark.parametrize(
    ("records", "answer", "key"),
    [
        (None, {"id": 7, "name": "x"}, "7"),
        ("data", {"data": {"id": "c-8"}}, "c-8"),
        ("data.items", {"data": {"id": 9}}, "9"),
        ("data", {"data": [{"id": 10}]}, "10"),
        (None, [{"id": 11}], "11"),
        ("customers", {"customer": {"id": 12}, "meta": {"took": 3}}, "12"),
    ],
    ids=["plain", "wrapped", "wrapped-in-the-lists-parent", "a-list-of-one", "a-bare-list-of-one", "singular-key"],
)
async def test_the_assigned_key_is_read_where_the_answer_holds_the_record(
    mocked: tuple[respx.MockRouter, Make], records: str | None, answer: Any, key: str
) -> None:
    router, make = mocked
    router.post("/contacts").respond(201, json=answer)
    connector = make({"contacts": {**CONTACTS, "records": records, "write": WRITE}})

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, {"name": "x"}, None)])

    assert result.target_key == key and result.ok


async def test_a_create_whose_answer_has_no_key_fails_that_record_saying_it_was_created(
    mocked: tuple[respx.MockRouter, Make],
) -> None:
    router, make = mocked
    router.post("/contacts").respond(201, json={"ok": True})
    connector = make({"contacts": {**CONTACTS, "write": WRITE}})

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, {"name": "x"}, None)])

    assert isinstance(result.error, PermanentError)
    assert "the record was created (201), but the answer has no `id`, so its key is unknown" in str(result.error)


@pytest.mark.parametrize(
    ("content", "kind"),
    [(b"<html><body>Created</body></html>", "text/html"), (b"OK", "text/plain"), (b'{"id": 7', "application/json")],
    ids=["html", "text", "cut-off-json"],
)
async def test_a_create_whose_success_is_no_json_fails_that_record_saying_it_may_have_been_created(
    mocked: tuple[respx.MockRouter, Make], content: bytes, kind: str
) -> None:
    """A 201 with an HTML page said only "check `base_url` and the stream's `path`": nothing told that the record
    was likely created, so a retry of the dead letter created it once more."""
    router, make = mocked
    router.post("/contacts").respond(201, content=content, headers={"Content-Type": kind})
    connector = make({"contacts": {**CONTACTS, "write": WRITE}})

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, {"name": "x"}, None)])

    assert isinstance(result.error, PermanentError)
    assert str(result.error).startswith(
        "crm.contacts: writing (create): the API answered 201, so the record was likely created, but its key is "
        "unknown: the answer "
    )
    assert "not JSON" in str(result.error)
    assert str(result.error).endswith(
        "look for the record in crm.contacts before retrying the dead letter (a `match` option finds it instead of "
        "creating it again)"
    )


@pytest.mark.parametrize(
    ("created", "why"),
    [
        (rb'{"id": "a\u0000b"}', "`id` holds a NUL byte, a control character or text that is not valid Unicode"),
        (rb'{"id": "7\n"}', "`id` holds a NUL byte, a control character or text that is not valid Unicode"),
        (rb'{"id": "\ud800"}', "`id` holds a NUL byte, a control character or text that is not valid Unicode"),
        (b'{"id": " "}', "`id` is empty"),
        (b'{"id": {"a": 1}}', "`id` is a mapping"),
        (b'{"id": [7]}', "`id` is a list"),
    ],
    ids=["nul", "newline", "lone-surrogate", "blank", "mapping", "list"],
)
async def test_a_create_answered_with_a_key_no_update_could_use_fails_that_record(
    mocked: tuple[respx.MockRouter, Make], created: bytes, why: str
) -> None:
    """Such a key was stored as given: an id with a NUL byte went in spelt out (``a\\x00b``), and each later
    update of the record went to another URL; an empty or object id failed every update, one by one."""
    router, make = mocked
    router.post("/contacts").respond(201, content=created, headers={"Content-Type": "application/json"})
    connector = make({"contacts": {**CONTACTS, "write": WRITE}})

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, {"name": "x"}, None)])

    assert isinstance(result.error, PermanentError)
    assert str(result.error) == (
        "crm.contacts: writing (create): the API answered 201, so the record was likely created, but the key it "
        f"gives is no key a later run could update it by: {why}; look for the record in crm.contacts before "
        "retrying the dead letter (a `match` option finds it instead of creating it again)"
    )


async def test_update_and_delete_put_the_url_quoted_key_in_the_path(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    update = router.put(url__regex=r".*/contacts/.*").respond(200, json={})
    delete = router.delete(url__regex=r".*/contacts/.*").respond(204)
    connector = make({"contacts": {**CONTACTS, "write": WRITE}})

    results = await connector.write(
        "contacts",
        [Write(WriteAction.UPDATE, {"name": "x"}, "a/b c?"), Write(WriteAction.DELETE, None, "ü#1")],
    )

    assert all(result.ok for result in results)
    assert update.calls.last.request.url.raw_path == b"/api/v2/contacts/a%2Fb%20c%3F"
    assert sent_json(update.calls.last.request) == {"name": "x"}
    assert delete.calls.last.request.url.raw_path == b"/api/v2/contacts/%C3%BC%231"
    assert delete.calls.last.request.content == b""


async def test_a_composite_key_fills_one_placeholder_per_key_field(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    route = router.patch(url__regex=r".*/orders/.*").respond(200, json={})
    write = {"update": {"method": "PATCH", "path": "/orders/{order_no}/lines/{line}"}}
    connector = make({"lines": {"key": ["order_no", "line"], "path": "/lines", "write": write}})

    [result] = await connector.write("lines", [Write(WriteAction.UPDATE, {"qty": 2}, '["A/1","2"]')])

    assert result.ok
    assert route.calls.last.request.url.raw_path == b"/api/v2/orders/A%2F1/lines/2"


# --- get -------------------------------------------------------------------------------------------


async def test_get_fetches_each_key_and_leaves_out_those_not_found(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    router.get("/contacts/1").respond(json={"data": {"id": 1, "name": "Ann"}})
    router.get("/contacts/2").respond(404, json={"error": "not found"})
    router.get("/contacts/3").respond(json={"data": {"name": "Cy"}})
    connector = make({"contacts": {**CONTACTS, "records": "data", "get": {"path": "/contacts/{key}"}}})

    found = await connector.get("contacts", ["1", "2", "3"])

    assert found == {"1": {"id": 1, "name": "Ann"}, "3": {"name": "Cy"}}
    assert await connector.existing_keys("contacts", ["1", "2"]) == {"1"}


async def test_get_without_a_get_option_is_not_possible(mocked: tuple[respx.MockRouter, Make]) -> None:
    _, make = mocked
    connector = make({"contacts": CONTACTS})

    with pytest.raises(NotImplementedError, match=r"crm\.contacts has no `get`"):
        await connector.get("contacts", ["1"])


async def test_scan_keys_reads_every_key(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    router.get("/contacts").respond(json=[{"id": 1}, {"id": 2}, {"id": None}, {"id": 3}])
    connector = make({"contacts": CONTACTS})

    assert [keys async for keys in connector.scan_keys("contacts", 2)] == [["1", "2"], ["3"]]


async def test_a_redirect_is_not_followed_and_says_to_check_base_url(mocked: tuple[respx.MockRouter, Make]) -> None:
    router, make = mocked
    router.get("/contacts").respond(301, headers={"Location": "https://elsewhere.example.com/contacts"})
    elsewhere = router.get("https://elsewhere.example.com/contacts").respond(json=[])
    connector = make({"contacts": CONTACTS}, auth={"type": "header", "name": "X-Api-Key", "value": "k-123456"})

    with pytest.raises(PermanentError, match=r"301 Moved Permanently \(a redirect that was not followed: check"):
        await read_all(connector, "contacts")

    assert not elsewhere.called  # the key never went to another host


def test_https_certificates_and_host_names_are_checked_with_one_context_for_every_client() -> None:
    context = _tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert _tls() is context, "the CA bundle is loaded once per process, not for every run's client"


@pytest.mark.parametrize(
    "refusal",
    [
        {"status_code": 400, "json": {"error": "email: not a valid address"}},
        {"status_code": 200, "html": "<html>Sign in</html>"},
    ],
    ids=["400", "html"],
)
async def test_a_match_look_up_the_api_refuses_fails_that_records_create_alone(
    mocked: tuple[respx.MockRouter, Make], refusal: dict[str, Any]
) -> None:
    """The API refusing the look-up of one record's value (a 400 for an address its search chokes on) failed
    the whole batch's matching, and with it the run, at every run: one record stopped the sync."""
    router, make = mocked
    router.get("/contacts", params={"email": "odd@x"}).respond(**refusal)
    router.get("/contacts").respond(json=[])
    created = router.post("/contacts").respond(201, json={"id": 9})
    connector = make({"contacts": {**CONTACTS, "write": WRITE, "match": {"param": "email", "field": "email"}}})
    records = [{"email": "odd@x"}, {"email": "new@x"}]

    assert await connector.match("contacts", records) == [None, None]
    odd, new = await connector.write("contacts", [Write(WriteAction.CREATE, record, None) for record in records])

    assert new.ok and new.target_key == "9" and created.call_count == 1
    assert isinstance(odd.error, PermanentError)
    assert str(odd.error).startswith(
        "crm.contacts: writing: not created: looking for a record in crm.contacts that already has this email "
        "failed, so a create could duplicate one: crm.contacts: looking for existing records (match) email: "
    )
