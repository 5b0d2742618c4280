"""``POST /webhooks/{system}`` in-process: what is accepted, what is refused with which status, and that a
refused delivery leaves nothing behind (SPEC 5; issue 6, item 1)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.webhooks.conftest import (
    NOTHING_STORED,
    TEN_MINUTES_AGO,
    InProcessFactory,
    Secrets,
    body_of,
    contact,
    github_headers,
    standard_headers,
)

Headers = Callable[[Secrets, bytes], dict[str, str]]
MIB = 1024 * 1024


def other_standard_secret() -> str:
    return Secrets().standard


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != name}


@dataclass(frozen=True)
class Refusal:
    name: str
    system: str
    body: bytes
    headers: Headers
    status: int
    reason: str
    detail: str


ONE = body_of({"data": contact(1)})
HUB_ONE = body_of({"action": "created", "contact": contact(1)})
TOKEN_ONE = body_of(contact(1))
BIG = body_of({"data": contact(1), "padding": "x" * (2 * MIB)})
OVER_1KIB = body_of({"items": [contact(1)], "padding": "x" * 1100})


def _standard(secrets: Secrets, body: bytes) -> dict[str, str]:
    return standard_headers(secrets.standard, body)


def _hub(secrets: Secrets, body: bytes) -> dict[str, str]:
    return github_headers(secrets.github, body)


def _stale(minutes: int) -> Headers:
    return lambda secrets, body: standard_headers(
        secrets.standard, body, at=datetime.now(UTC) + timedelta(minutes=minutes)
    )


REFUSALS = [
    # Standard Webhooks
    Refusal("standard: signed with another secret", "signed", ONE,
            lambda s, b: standard_headers(other_standard_secret(), b), 401, "bad signature", "does not verify"),
    Refusal("standard: no signature", "signed", ONE,
            lambda s, b: _without(_standard(s, b), "webhook-signature"), 401, "bad signature", "does not verify"),
    Refusal("standard: no webhook-id", "signed", ONE,
            lambda s, b: _without(_standard(s, b), "webhook-id"), 401, "bad signature", "does not verify"),
    Refusal("standard: body changed after signing", "signed", ONE,
            lambda s, b: _standard(s, body_of({"data": contact(2)})), 401, "bad signature", "does not verify"),
    Refusal("standard: signature not base64", "signed", ONE,
            lambda s, b: _standard(s, b) | {"webhook-signature": "v1,@@@"}, 401, "bad signature", "does not verify"),
    Refusal("standard: signature without version", "signed", ONE,
            lambda s, b: _standard(s, b) | {"webhook-signature": "nonsense"}, 401, "bad signature", "does not verify"),
    Refusal("standard: timestamp ten minutes old", "signed", ONE,
            lambda s, b: standard_headers(s.standard, b, at=datetime.now(UTC) + TEN_MINUTES_AGO),
            401, "stale timestamp", "timestamp too old"),
    Refusal("standard: timestamp ten minutes ahead", "signed", ONE, _stale(10), 401, "stale timestamp", "too new"),
    Refusal("standard: timestamp not a number", "signed", ONE,
            lambda s, b: _standard(s, b) | {"webhook-timestamp": "yesterday"}, 401, "bad signature", "does not verify"),
    # GitHub
    Refusal("github: signed with another secret", "hub", HUB_ONE,
            lambda s, b: github_headers("not the secret", b), 401, "bad signature", "X-Hub-Signature-256"),
    Refusal("github: no signature", "hub", HUB_ONE,
            lambda s, b: _without(_hub(s, b), "x-hub-signature-256"), 401, "bad signature", "X-Hub-Signature-256"),
    Refusal("github: only the SHA-1 signature", "hub", HUB_ONE,
            lambda s, b: {"x-hub-signature": "sha1=" + hmac.new(s.github.encode(), b, hashlib.sha1).hexdigest()},
            401, "bad signature", "X-Hub-Signature-256"),
    Refusal("github: body changed after signing", "hub", HUB_ONE,
            lambda s, b: _hub(s, body_of({"contact": contact(2)})), 401, "bad signature", "X-Hub-Signature-256"),
    # bearer token
    Refusal("token: another token", "tokened", TOKEN_ONE,
            lambda s, b: {"authorization": "Bearer not-the-token"}, 401, "bad token", "bearer token"),
    Refusal("token: none", "tokened", TOKEN_ONE, lambda s, b: {}, 401, "bad token", "bearer token"),
    Refusal("token: basic, not bearer", "tokened", TOKEN_ONE,
            lambda s, b: {"authorization": f"Basic {s.sender_token}"}, 401, "bad token", "bearer token"),
    # verify: none, from a browser on this machine
    Refusal("none: a web page's POST", "local", body_of({"items": [contact(1)]}),
            lambda s, b: {"origin": "http://evil.example"}, 403, "web page", "not web pages"),
    Refusal("none: a cross-site fetch", "local", body_of({"items": [contact(1)]}),
            lambda s, b: {"sec-fetch-site": "cross-site"}, 403, "web page", "not web pages"),
    # the body
    Refusal("standard: signed, but not JSON", "signed", b"{'data': 1", _standard, 400, "not json", "not JSON"),
    Refusal("none: not UTF-8", "local", b"{\"items\": \"\xff\xfe\"}", lambda s, b: {}, 400, "not json", "not JSON"),
    Refusal("none: not JSON", "local", b"items=1", lambda s, b: {}, 400, "not json", "not JSON"),
    Refusal("standard: nothing at records", "signed", body_of({"other": contact(1)}), _standard,
            400, "no records", "at 'data'"),
    Refusal("standard: text at records", "signed", body_of({"data": "Ann"}), _standard, 400, "no records", "at 'data'"),
    Refusal("none: a number at records", "local", body_of({"items": 12}), lambda s, b: {},
            400, "no records", "at 'items'"),
    Refusal("none: a list at the top, records under items", "local", body_of([contact(1)]), lambda s, b: {},
            400, "no records", "at 'items'"),
    Refusal("token: the body is a string", "tokened", body_of("Ann"),
            lambda s, b: {"authorization": f"Bearer {s.sender_token}"}, 400, "no records", "in the body"),
    Refusal("token: the body is null", "tokened", b"null",
            lambda s, b: {"authorization": f"Bearer {s.sender_token}"}, 400, "no records", "in the body"),
    # who and how much
    Refusal("an unknown system", "nobody", ONE, lambda s, b: {}, 404, "unknown system", "no system 'nobody'"),
    Refusal("a system without a webhook block", "crm", ONE, lambda s, b: {}, 404, "unknown system", "'crm'"),
    Refusal("2 MiB, over the default 1 MiB", "signed", BIG, _standard, 413, "too large", "over 1.0MiB"),
    Refusal("over max_body: 1KiB", "small", OVER_1KIB, lambda s, b: {}, 413, "too large", "over 1.0KiB"),
]  # fmt: skip


def _chunks(body: bytes, size: int = 64 * 1024) -> Callable[[], AsyncIterator[bytes]]:
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return stream


@pytest.mark.parametrize("case", REFUSALS, ids=[case.name for case in REFUSALS])
async def test_a_refused_delivery_is_answered_with_its_status_and_leaves_nothing(
    in_process: InProcessFactory, case: Refusal
) -> None:
    app = await in_process()

    answer = await app.hooks.post(
        f"/webhooks/{case.system}", content=case.body, headers=case.headers(app.project.secrets, case.body)
    )

    assert answer.status_code == case.status, answer.text
    assert case.detail in answer.json()["detail"]
    if case.status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"
    await app.idle(case.system if case.status != 404 else "signed")
    assert app.project.stored() == NOTHING_STORED
    system = case.system if case.status != 404 else "(unknown)"
    assert await app.metric("brygga_webhook_events_total", system=system, outcome=f"rejected: {case.reason}") == 1
    assert await app.metric("brygga_webhook_events_total", system=system, outcome="accepted") == 0


@pytest.mark.parametrize(
    "extra", [b"\xa0", b"\x85", b"\xc2\xa0", b"\xe3\x80\x80"], ids=["nbsp", "next line", "utf-8 nbsp", "ideographic"]
)
async def test_a_sender_token_is_only_the_token_with_spaces_or_tabs_around_it(
    in_process: InProcessFactory, extra: bytes
) -> None:
    """Python's ``str.strip`` takes these for whitespace: the token and one of them verified as the token (a
    control character is refused before: 400)."""
    app = await in_process()
    token = app.project.secrets.sender_token.encode()

    refused = await app.hooks.post(
        "/webhooks/tokened", content=TOKEN_ONE, headers={b"authorization": b"Bearer " + token + extra}
    )

    assert refused.status_code in (400, 401), refused.text
    await app.idle("tokened")
    assert app.project.stored() == NOTHING_STORED
    taken = await app.hooks.post(
        "/webhooks/tokened", content=TOKEN_ONE, headers={b"authorization": b"Bearer   " + token}
    )
    assert taken.status_code == 202, taken.text


@pytest.mark.parametrize(("system", "body"), [("signed", BIG), ("small", OVER_1KIB)], ids=["default 1 MiB", "1KiB"])
async def test_a_body_too_large_is_refused_when_sent_in_chunks_without_a_length(
    in_process: InProcessFactory, system: str, body: bytes
) -> None:
    app = await in_process()
    headers = app.sign(system, body)

    answer = await app.hooks.post(f"/webhooks/{system}", content=_chunks(body)(), headers=headers)

    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 413, answer.text
    assert app.project.stored() == NOTHING_STORED
    assert await app.metric("brygga_webhook_events_total", system=system, outcome="rejected: too large") == 1


async def test_verify_none_takes_deliveries_from_this_machine_only(in_process: InProcessFactory) -> None:
    remote = await in_process(client=("203.0.113.7", 50000))

    refused = await remote.send("local", {"items": [contact(1)]})

    assert refused.status_code == 401, refused.text
    assert "from this machine only" in refused.json()["detail"]
    assert remote.project.stored() == NOTHING_STORED
    assert await remote.metric("brygga_webhook_events_total", system="local", outcome="rejected: not loopback") == 1

    for client in (("127.0.0.1", 50001), ("::1", 50002)):
        local = await in_process(client=client)
        accepted = await local.send("local", {"items": [contact(1)]})
        assert accepted.status_code == 202, accepted.text
        await local.settled(accepted.json()["event_id"])
        assert local.project.customers() == [(1, "Name 1", "p1@example.com")]


@dataclass(frozen=True)
class Acceptance:
    name: str
    system: str
    payload: object
    records: int
    written: list[int]


ACCEPTANCES = [
    Acceptance("standard: one record at data", "signed", {"type": "contact.updated", "data": contact(1)}, 1, [1]),
    Acceptance("standard: a list at data", "signed", {"data": [contact(1), contact(2), contact(3)]}, 3, [1, 2, 3]),
    Acceptance("standard: an empty list", "signed", {"data": []}, 0, []),
    Acceptance("github: the record at contact", "hub", {"action": "created", "contact": contact(7)}, 1, [7]),
    Acceptance("token: the body is the record", "tokened", contact(4), 1, [4]),
    Acceptance("token: the body is a list", "tokened", [contact(4), contact(5)], 2, [4, 5]),
    Acceptance("none: from loopback", "local", {"items": [contact(9)]}, 1, [9]),
    Acceptance("max_body: exactly 1KiB", "small", {"id": 3, "email": "p3@example.com", "name": "x" * 981}, 1, [3]),
]


@pytest.mark.parametrize("case", ACCEPTANCES, ids=[case.name for case in ACCEPTANCES])
async def test_a_verified_delivery_is_stored_answered_202_and_written(
    in_process: InProcessFactory, case: Acceptance
) -> None:
    app = await in_process()
    if case.system == "small":
        assert len(body_of(case.payload)) == 1024  # the limit itself is accepted

    answer = await app.send(case.system, case.payload)

    assert answer.status_code == 202, answer.text
    assert set(answer.json()) == {"event_id", "records"}
    assert answer.json()["records"] == case.records
    event_id = answer.json()["event_id"]
    assert isinstance(event_id, str) and event_id.isdigit()
    [event] = await app.settled(event_id)
    assert event | {"received_at": None} == {
        "id": int(event_id), "system": case.system, "received_at": None, "records": case.records,
        "status": "processed", "error": None,
    }  # fmt: skip
    assert [row[0] for row in app.project.customers()] == case.written
    await app.idle(case.system)
    runs = await app.runs(case.system)
    assert runs and {run["trigger"] for run in runs} == {"webhook"}
    assert sum(run["counts"]["created"] for run in runs) == len(case.written)
    assert await app.metric("brygga_webhook_events_total", system=case.system, outcome="accepted") == 1
    assert await app.metric("brygga_webhook_events_total", system=case.system, outcome="processed") == 1
