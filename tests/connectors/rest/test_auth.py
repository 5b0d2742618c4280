"""Each kind of credentials against the local API; OAuth2's token reuse and refresh; no secret in any log."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from app.config import SecretValues
from app.errors import PermanentError, TransientError
from connectors.base import Write, WriteAction
from connectors.rest import auth
from connectors.rest.auth import credentials
from connectors.rest.config import BasicAuth, OAuth2Auth
from tests.connectors.rest.conftest import FakeClock, MakeSystem, read_all
from tests.connectors.rest.server import (
    BASIC_PASSWORD,
    BASIC_USER,
    BEARER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    HEADER_KEY,
    QUERY_KEY,
    ApiState,
    contacts,
)

ENVIRON = {
    "TOKEN": BEARER_TOKEN,
    "PASSWORD": BASIC_PASSWORD,
    "HEADER_KEY": HEADER_KEY,
    "QUERY_KEY": QUERY_KEY,
    "CLIENT_SECRET": CLIENT_SECRET,
}

AUTH: dict[str, dict[str, Any]] = {
    "bearer": {"type": "bearer", "token": "${TOKEN}"},
    "basic": {"type": "basic", "username": BASIC_USER, "password": "${PASSWORD}"},
    "header": {"type": "header", "name": "X-Api-Key", "value": "${HEADER_KEY}"},
    "query": {"type": "query", "name": "api_key", "value": "${QUERY_KEY}"},
}
SECRETS = [BEARER_TOKEN, BASIC_PASSWORD, HEADER_KEY, QUERY_KEY, CLIENT_SECRET]


def oauth(api_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "oauth2",
        "token_url": f"{api_url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": "${CLIENT_SECRET}",
        **extra,
    }


def stream(kind: str) -> dict[str, Any]:
    return {"contacts": {"key": "id", "path": f"/auth/{kind}/contacts"}}


def assert_no_secret(text: str, tokens: list[str] = []) -> None:  # noqa: B006 - read only
    for secret in [*SECRETS, *tokens]:
        for shown in {secret, quote(secret, safe=""), quote_plus(secret)}:
            assert shown not in text


@pytest.mark.parametrize("kind", list(AUTH))
async def test_each_static_kind_of_credentials_is_accepted(api: ApiState, make_system: MakeSystem, kind: str) -> None:
    api.contacts = contacts(3)
    connector = make_system(stream(kind), ENVIRON, auth=AUTH[kind])

    batches = await read_all(connector, "contacts")

    assert [record["id"] for batch in batches for record in batch.records] == [1, 2, 3]


@pytest.mark.parametrize("kind", list(AUTH))
async def test_refused_credentials_fail_at_once_without_the_secret_in_the_message(
    api: ApiState, make_system: MakeSystem, kind: str
) -> None:
    connector = make_system(stream(kind), {key: value[::-1] for key, value in ENVIRON.items()}, auth=AUTH[kind])

    with pytest.raises(
        PermanentError, match=r"401 Unauthorized.*the system refused the credentials: check `auth`"
    ) as e:
        await read_all(connector, "contacts")

    assert len(api.requests(f"/api/auth/{kind}/contacts")) == 1
    assert_no_secret(str(e.value), [value[::-1] for value in ENVIRON.values()])


async def test_a_query_key_never_shows_in_messages_or_httpx_logs(
    api: ApiState, make_system: MakeSystem, caplog: pytest.LogCaptureFixture
) -> None:
    api.fault("GET", "/api/auth/query/contacts", status=400)
    connector = make_system(stream("query"), ENVIRON, auth=AUTH["query"])

    with caplog.at_level(logging.DEBUG), pytest.raises(PermanentError) as failed:
        await read_all(connector, "contacts")

    assert "api_key=***" in str(failed.value)
    assert_no_secret(str(failed.value))
    assert "HTTP Request: GET" in caplog.text and "api_key=***" in caplog.text
    assert_no_secret(caplog.text)


@pytest.mark.parametrize(("username", "password"), [("ann", "basic-secret-77c1"), ("änn", "pässwörd:with:colons")])
async def test_basic_credentials_are_httpx_s_and_their_encoded_pair_is_a_secret(username: str, password: str) -> None:
    secrets = SecretValues()
    options = BasicAuth.model_validate({"type": "basic", "username": username, "password": password})
    basic = credentials(options, _no_token_request, secrets, FakeClock().clock)
    request = httpx.Request("GET", "https://api.example/contacts")

    await basic.authorize(request)

    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {pair}"
    assert (
        secrets.redact(f"sent Authorization: Basic {pair} with {password}") == "sent Authorization: Basic *** with ***"
    )


async def _no_token_request(request: httpx.Request) -> httpx.Response:
    raise AssertionError("basic credentials fetch no token")


# --- OAuth2 ---------------------------------------------------------------------------------------


async def test_oauth2_fetches_one_token_for_many_requests(api: ApiState, api_url: str, make_system: MakeSystem) -> None:
    api.contacts = contacts(3)
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url, scopes=["read", "write"], audience="crm"))

    for _ in range(3):
        await read_all(connector, "contacts")
    await asyncio.gather(*(read_all(connector, "contacts") for _ in range(10)))

    assert api.token_requests == 1
    assert len(api.requests("/api/auth/oauth/contacts")) == 13
    form = api.requests("/api/oauth/token")[0].body.decode()
    assert sorted(form.split("&")) == sorted(
        [
            "grant_type=client_credentials",
            f"client_id={CLIENT_ID}",
            f"client_secret={CLIENT_SECRET}",
            "scope=read+write",
            "audience=crm",
        ]
    )


async def test_oauth2_refreshes_the_token_shortly_before_it_expires(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.contacts, api.token_lifetime = contacts(3), 100
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    await read_all(connector, "contacts")
    fake_clock.time += 89  # a tenth of its life early: at 90 s
    await read_all(connector, "contacts")
    assert api.token_requests == 1
    fake_clock.time += 2
    await read_all(connector, "contacts")

    assert api.token_requests == 2
    used = [seen.headers["authorization"] for seen in api.requests("/api/auth/oauth/contacts")]
    assert used[0] == used[1] != used[2]


async def test_oauth2_fetches_a_new_token_after_a_401_and_sends_the_request_once_more(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    api.contacts = contacts(3)
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))
    await read_all(connector, "contacts")
    api.revoke_tokens()

    batches = await read_all(connector, "contacts")

    assert len(batches[0].records) == 3
    assert api.token_requests == 2
    assert len(api.requests("/api/auth/oauth/contacts")) == 3


async def test_oauth2_gives_up_when_a_fresh_token_is_refused_too(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    api.token_lifetime = 0  # the API takes no token it issues
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    with pytest.raises(PermanentError, match="401 Unauthorized"):
        await read_all(connector, "contacts")

    assert api.token_requests == 2
    assert len(api.requests("/api/auth/oauth/contacts")) == 2


async def test_oauth2_refused_client_credentials_say_why_without_the_secret(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    connector = make_system(stream("oauth"), {"CLIENT_SECRET": "wrong-secret-value"}, auth=oauth(api_url))

    with pytest.raises(PermanentError) as failed:
        await read_all(connector, "contacts")

    assert str(failed.value) == (
        f"crm: fetching an OAuth2 token: {api_url}/oauth/token refused the client credentials (401 Unauthorized): "
        "invalid_client (unknown client): check `client_id` and `client_secret` (and `scopes`, `audience`); the "
        "token endpoint is asked again after 10s"
    )
    assert api.token_requests == 1


async def test_a_token_endpoint_refusing_the_client_is_held_for_the_shortest_reuse_not_asked_per_request(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    """A token endpoint answering 401 ``invalid_client`` was asked again by every request that followed (its
    refusal was held for as long as the fetch took: no time), where an account may lock after a few refusals.
    The refusal is now every request's answer for ``SHORTEST_REUSE`` seconds, as an unusable answer is."""
    connector = make_system(stream("oauth"), {"CLIENT_SECRET": "wrong-secret-value"}, auth=oauth(api_url))

    for _ in range(5):
        with pytest.raises(PermanentError, match=r"refused the client credentials \(401 Unauthorized\)"):
            await read_all(connector, "contacts")
        fake_clock.time += 1
    assert api.token_requests == 1
    fake_clock.time += auth.OAuth2Credentials.SHORTEST_REUSE
    with pytest.raises(PermanentError) as failed:
        await read_all(connector, "contacts")
    assert api.token_requests == 2
    assert_no_secret(str(failed.value), ["wrong-secret-value"])


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (400, b'{"error": "invalid_client"}', "(400 Bad Request): invalid_client: check `client_id`"),
        (401, b"<html>Denied</html>", "(401 Unauthorized): check `client_id`"),
        (
            400,
            b'{"error": "invalid_client\\nforged: line", "error_description": "' + b"d" * 300 + b'"}',
            "(400 Bad Request): 'invalid_client\\nforged: line' ('" + "d" * 200 + "'…): check",
        ),
    ],
)
async def test_a_refusal_says_its_status_and_error_code_and_is_held(
    api: ApiState, api_url: str, make_system: MakeSystem, *, status: int, body: bytes, shown: str
) -> None:
    for _ in range(5):
        api.fault("POST", "/api/oauth/token", status=status, body=body)
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    for _ in range(3):
        with pytest.raises(PermanentError) as failed:
            await read_all(connector, "contacts")

    assert shown in str(failed.value)
    assert "\n" not in str(failed.value)
    assert len(api.requests("/api/oauth/token")) == 1


async def test_oauth2_tokens_and_secrets_appear_in_no_log_line(
    api: ApiState, api_url: str, make_system: MakeSystem, caplog: pytest.LogCaptureFixture, fake_clock: FakeClock
) -> None:
    api.contacts, api.token_lifetime = contacts(3), 100
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))
    api.fault("GET", "/api/auth/oauth/contacts", status=503)

    with caplog.at_level(logging.DEBUG):
        await read_all(connector, "contacts")
        api.revoke_tokens()
        await read_all(connector, "contacts")
        fake_clock.time += 95
        await read_all(connector, "contacts")

    tokens = [
        seen.headers["authorization"].removeprefix("Bearer ") for seen in api.requests("/api/auth/oauth/contacts")
    ]
    assert api.token_requests == 3 and len(set(tokens)) == 3
    assert "fetched an OAuth2 token" in caplog.text and "503" in caplog.text
    assert_no_secret(caplog.text, tokens)


async def test_a_token_request_that_fails_for_a_passing_reason_is_retried_even_before_a_create(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    api.fault("POST", "/api/oauth/token", status=503)
    api.fault("POST", "/api/oauth/token", kind="drop")
    write = {"create": {"method": "POST", "path": "/w/contacts"}}
    connector = make_system(
        {"contacts": {"key": "id", "path": "/w/contacts", "records": "data", "write": write}},
        ENVIRON,
        auth=oauth(api_url),
    )

    [result] = await connector.write("contacts", [Write(WriteAction.CREATE, {"email": "ann@a.se"}, None)])

    assert result.ok
    assert api.token_requests == 1 and len(api.requests("/api/oauth/token")) == 3
    assert len(api.requests("/api/w/contacts", "POST")) == 1


def _writer(api_url: str, make_system: MakeSystem, environ: dict[str, str] = ENVIRON, **options: Any) -> Any:
    write = {"create": {"method": "POST", "path": "/w/contacts"}}
    return make_system(
        {"contacts": {"key": "id", "path": "/w/contacts", "records": "data", "write": write}},
        environ,
        auth=oauth(api_url),
        **options,
    )


def _creates(count: int) -> list[Write]:
    return [Write(WriteAction.CREATE, {"email": f"n{number}@a.se"}, None) for number in range(count)]


async def test_a_failed_token_fetch_is_the_answer_of_every_request_that_waited_for_it(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    """Each request waiting on the token asked again, one after the other: a token endpoint that timed out cost a
    batch of a thousand records a thousand timeouts."""
    for _ in range(200):
        api.fault("POST", "/api/oauth/token", status=500)
    connector = _writer(api_url, make_system)

    with pytest.raises(TransientError, match="500 Internal Server Error"):
        await connector.write("contacts", _creates(20))

    assert len(api.requests("/api/oauth/token")) < 40, len(api.requests("/api/oauth/token"))  # was 80: 20 × 4 tries
    assert api.requests("/api/w/contacts", "POST") == []


async def test_a_token_endpoints_retry_after_holds_every_request_back(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    api.fault("POST", "/api/oauth/token", status=429, headers={"Retry-After": "1000"})  # longer than a run waits
    connector = _writer(api_url, make_system)

    with pytest.raises(TransientError, match="429 Too Many Requests"):
        await connector.write("contacts", _creates(1))
    with pytest.raises(TransientError, match="429 Too Many Requests"):
        await connector.write("contacts", _creates(3))  # meanwhile: no request to the token endpoint
    fake_clock.time += 301  # held at most five minutes
    [later] = await connector.write("contacts", _creates(1))

    assert later.ok
    assert len(api.requests("/api/oauth/token")) == 2


async def test_refused_client_credentials_stop_a_write_instead_of_failing_each_record(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    """One refused try per record: twenty for a batch of twenty, where an account may lock after five."""
    connector = _writer(api_url, make_system, {**ENVIRON, "CLIENT_SECRET": "wrong-secret-value"})

    with pytest.raises(PermanentError, match=r"refused the client credentials \(401 Unauthorized\): invalid_client"):
        await connector.write("contacts", _creates(20))

    assert len(api.requests("/api/oauth/token")) < 5


async def test_only_the_last_two_tokens_are_kept_secret(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    """Every token fetched stayed among the secrets: each scrub took longer, a token an hour, for weeks."""
    api.contacts, api.token_lifetime = contacts(3), 100
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    for _ in range(6):
        await read_all(connector, "contacts")
        fake_clock.time += 95

    tokens = [
        seen.headers["authorization"].removeprefix("Bearer ") for seen in api.requests("/api/auth/oauth/contacts")
    ]
    secrets = connector.client.secrets
    assert len(set(tokens)) == 6
    assert [token in secrets for token in tokens] == [False] * 4 + [True] * 2


async def test_a_token_beyond_any_tokens_length_is_a_clear_error(
    api: ApiState, api_url: str, make_system: MakeSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token endpoint answering a token of a megabyte froze the run at 100 % CPU: every character of it became
    part of the pattern that scrubs secrets."""
    monkeypatch.setattr(auth, "MAX_TOKEN", 10)
    api.contacts = contacts(3)
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    with pytest.raises(PermanentError, match=r"^crm: fetching an OAuth2 token from .*: its access_token is 18 "):
        await read_all(connector, "contacts")


async def test_a_token_endpoint_that_redirects_is_named_with_where_it_points(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    """A redirect was reported as a refusal of the client credentials, without where it pointed."""
    api.fault("POST", "/api/oauth/token", status=307, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    with pytest.raises(PermanentError) as failed:
        await read_all(connector, "contacts")

    assert str(failed.value) == (
        f"crm: fetching an OAuth2 token from {api_url}/oauth/token: answered 307 with a redirect to "
        "http://127.0.0.1:9/elsewhere, which Brygga does not follow (the client secret would go along): set "
        "`token_url` to where it points"
    )
    assert len(api.requests("/api/oauth/token")) == 1


@pytest.mark.parametrize("lifetime", ["²", "9" * 5000])
async def test_an_expires_in_of_digits_int_refuses_is_no_expiry_not_a_crash(lifetime: str) -> None:
    """``str.isdigit()`` takes '²', and ``int()`` refuses it and more than 4,300 digits: such an ``expires_in``
    raised a ValueError through every request (a write's records did not fail alone: the whole run failed)."""

    async def send(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "tok-1", "expires_in": lifetime}, request=request)

    options = OAuth2Auth.model_validate(
        {"type": "oauth2", "token_url": "https://id.example/token", "client_id": "c", "client_secret": "s"}
    )
    token = credentials(options, send, SecretValues(), FakeClock().clock)
    request = httpx.Request("GET", "https://api.example/contacts")

    assert await token.authorize(request) == "tok-1"
    assert request.headers["Authorization"] == "Bearer tok-1"


@pytest.mark.parametrize("token", ["tok-1\r\nX-Injected: yes", "tok-1\x00", "tok-1\n"])
async def test_a_token_no_header_can_carry_is_refused_where_it_is_fetched(token: str) -> None:
    """Such a token was put on each request, and httpx refused every one ("Illegal header value b'Bearer ***'"):
    each record of a write failed alone with a message that did not name the token endpoint."""

    async def send(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": token, "expires_in": 3600}, request=request)

    options = OAuth2Auth.model_validate(
        {"type": "oauth2", "token_url": "https://id.example/token", "client_id": "c", "client_secret": "s"}
    )
    oauth2 = credentials(options, send, SecretValues(), FakeClock().clock, "crm")

    with pytest.raises(PermanentError) as refused:
        await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))
    assert str(refused.value) == (
        "crm: fetching an OAuth2 token from https://id.example/token: the answer (200 OK): its access_token holds a "
        "control character (a line break, a NUL), which no HTTP header can carry: the token endpoint answers "
        "wrongly; check `token_url` (it is asked again after 10s)"
    )


def _counting_token_endpoint(lifetime: object) -> tuple[Any, list[str]]:
    """A token endpoint answering ``expires_in: lifetime``, and the tokens it handed out."""
    issued: list[str] = []

    async def send(request: httpx.Request) -> httpx.Response:
        issued.append(f"tok-{len(issued) + 1}")
        return httpx.Response(200, json={"access_token": issued[-1], "expires_in": lifetime}, request=request)

    return send, issued


_OPTIONS = {"type": "oauth2", "token_url": "https://id.example/token", "client_id": "c", "client_secret": "s"}


@pytest.mark.parametrize("lifetime", [1, 0.001, 1e-300, "1", 9])
async def test_a_token_said_to_last_under_the_shortest_reuse_is_reused_that_long(lifetime: object) -> None:
    """``expires_in: 1`` (or less) fetched a token for every request a second apart, or every request at all:
    the token endpoint hammered. A token is now reused for at least ``SHORTEST_REUSE`` seconds; an API that
    refuses it sooner (401) gets a new one then."""
    send, issued = _counting_token_endpoint(lifetime)
    clock = FakeClock()
    oauth2 = credentials(OAuth2Auth.model_validate(_OPTIONS), send, SecretValues(), clock.clock)

    for _ in range(9):
        await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))
        clock.time += 1
    assert issued == ["tok-1"]
    clock.time += auth.OAuth2Credentials.SHORTEST_REUSE
    await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))
    assert issued == ["tok-1", "tok-2"]


@pytest.mark.parametrize("lifetime", [0, -5, "-5", None])
async def test_a_token_said_to_last_no_time_or_less_is_kept_until_the_api_refuses_it(lifetime: object) -> None:
    """No lifetime worth the name: the token is used until the API answers 401 (some token endpoints say 0 for
    tokens that do not expire)."""
    send, issued = _counting_token_endpoint(lifetime)
    clock = FakeClock()
    oauth2 = credentials(OAuth2Auth.model_validate(_OPTIONS), send, SecretValues(), clock.clock)

    for _ in range(5):
        await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))
        clock.time += 3600

    assert issued == ["tok-1"]


async def test_an_api_refusing_every_token_costs_one_token_fetch_per_shortest_reuse_not_one_per_request(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    """Each request refused with 401 fetched a new token before it failed: a thousand requests to an API that
    takes none of the client's tokens asked the token endpoint a thousand times."""
    api.token_lifetime = 0  # the API takes no token it issues
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    for _ in range(10):
        with pytest.raises(PermanentError, match="401 Unauthorized"):
            await read_all(connector, "contacts")
    assert api.token_requests == 2  # the first token, and one more after the API refused it
    fake_clock.time += auth.OAuth2Credentials.SHORTEST_REUSE
    with pytest.raises(PermanentError, match="401 Unauthorized"):
        await read_all(connector, "contacts")

    assert api.token_requests == 3


async def test_a_token_refused_after_the_api_took_it_is_replaced_at_once_however_young(
    api: ApiState, api_url: str, make_system: MakeSystem
) -> None:
    """An API whose tokens really last a second: each refusal of a token that it took before is an expiry, and
    gets a new token, however soon it comes."""
    api.contacts = contacts(3)
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    for _ in range(3):
        assert len((await read_all(connector, "contacts"))[0].records) == 3
        api.revoke_tokens()

    assert api.token_requests == 3


@pytest.mark.parametrize("lifetime", [b"1e999", b"123456789012345678901234567890"])
async def test_an_expires_in_beyond_any_float_is_a_long_lived_token_not_an_answer_that_is_not_json(
    lifetime: bytes,
) -> None:
    """orjson refuses ``1e999``: the token endpoint's whole answer was taken for one that is not JSON, and
    every request failed for it."""
    issued: list[str] = []

    async def send(request: httpx.Request) -> httpx.Response:
        issued.append("tok-1")
        content = b'{"access_token": "tok-1", "expires_in": ' + lifetime + b"}"
        return httpx.Response(200, content=content, request=request)

    clock = FakeClock()
    oauth2 = credentials(OAuth2Auth.model_validate(_OPTIONS), send, SecretValues(), clock.clock)

    for _ in range(3):
        assert await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts")) == "tok-1"
        clock.time += 3600
    assert issued == ["tok-1"]


_ERROR_PAGE = b"<!DOCTYPE html>\n<html>\n  <head><title>Sign-in service down</title></head>\n  <body>Try later</body>"


async def test_a_token_answer_that_is_not_json_is_held_for_the_shortest_reuse_not_asked_again_per_request(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    """An identity provider answering 200 with an HTML page was asked for a token again by every request (its
    failure was held for as long as the fetch took: no time), a storm against it. The answer is now every
    request's for ``SHORTEST_REUSE`` seconds, and the message says its status and how it begins."""
    for _ in range(20):
        api.fault("POST", "/api/oauth/token", status=200, body=_ERROR_PAGE)
    api.contacts = contacts(3)
    connector = make_system(stream("oauth"), ENVIRON, auth=oauth(api_url))

    for _ in range(5):
        with pytest.raises(PermanentError) as failed:
            await read_all(connector, "contacts")
    writer = _writer(api_url, make_system)
    with pytest.raises(PermanentError):
        await writer.write("contacts", _creates(20))  # a write stops rather than failing each record

    assert len(api.requests("/api/oauth/token")) == 2  # one per connector, not one per request
    assert str(failed.value) == (
        f"crm: fetching an OAuth2 token from {api_url}/oauth/token: the answer (200 OK) is not JSON (Expecting "
        "value at line 1 column 1); it begins <!DOCTYPE html> <html> <head><title>Sign-in service down</title></head> "
        "<body>Try later</body>: the token endpoint answers wrongly; check `token_url` (it is asked again after 10s)"
    )
    api.faults.clear()
    fake_clock.time += auth.OAuth2Credentials.SHORTEST_REUSE
    assert len((await read_all(connector, "contacts"))[0].records) == 3


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ({"token": "a-real-token-under-another-name"}, "it is an object with keys token"),
        ([{"access_token": "tok-1"}], "it is a list"),
        ({"access_token": 12345}, "it is an object with keys access_token"),
    ],
)
async def test_a_token_answer_without_an_access_token_is_held_and_shows_only_its_shape(
    answer: object, shown: str
) -> None:
    """JSON without a usable ``access_token`` was asked for again by every request too; its message shows the
    answer's shape, never its values (one may be a token under another name)."""
    asked: list[int] = []

    async def send(request: httpx.Request) -> httpx.Response:
        asked.append(1)
        return httpx.Response(200, json=answer, request=request)

    clock = FakeClock()
    oauth2 = credentials(OAuth2Auth.model_validate(_OPTIONS), send, SecretValues(), clock.clock, "crm")

    for _ in range(5):
        with pytest.raises(PermanentError) as failed:
            await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))
        clock.time += 1
    assert len(asked) == 1
    assert f"the answer (200 OK) has no access_token ({shown})" in str(failed.value)
    assert "a-real-token" not in str(failed.value)
    clock.time += auth.OAuth2Credentials.SHORTEST_REUSE
    with pytest.raises(PermanentError):
        await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))
    assert len(asked) == 2


async def test_a_token_answer_that_is_not_json_shows_its_start_without_the_client_secret() -> None:
    async def send(request: httpx.Request) -> httpx.Response:
        page = b"<p>Bad request: client_secret=" + CLIENT_SECRET.encode() + b" is not " + b"x" * 500
        return httpx.Response(200, content=page, request=request)

    secrets = SecretValues()
    options = OAuth2Auth.model_validate({**_OPTIONS, "client_secret": CLIENT_SECRET})
    oauth2 = credentials(options, send, secrets, FakeClock().clock, "crm")

    with pytest.raises(PermanentError) as failed:
        await oauth2.authorize(httpx.Request("GET", "https://api.example/contacts"))

    assert "it begins '<p>Bad request: client_secret=*** is not xxx" in str(failed.value)
    assert "x" * 101 not in str(failed.value) and "…" in str(failed.value)
    assert_no_secret(str(failed.value))


async def test_a_write_stopped_by_refused_credentials_leaves_none_of_its_records_writing(
    api: ApiState, api_url: str, make_system: MakeSystem, fake_clock: FakeClock
) -> None:
    """The write raised at the first refusal and left its other records' requests running: once the token
    endpoint answered again, they wrote their records in the background, after the engine had counted none
    of them written (the next run created them again)."""
    for _ in range(20):
        api.fault("POST", "/api/oauth/token", status=200, body=_ERROR_PAGE)
    connector = _writer(api_url, make_system, concurrency=2)

    with pytest.raises(PermanentError, match="is not JSON"):
        await connector.write("contacts", _creates(20))

    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
    assert api.requests("/api/w/contacts", "POST") == []
