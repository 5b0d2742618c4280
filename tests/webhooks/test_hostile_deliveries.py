"""Hostile deliveries against a real ``brygga serve``, over SQLite and PostgreSQL state: each answered with a
4xx and nothing stored, or, where the event is fine and only a record in it is bad (that record fails alone
later, SPEC 8), 202 with the body stored exactly as sent (issue 17, item 16; must-show 3).

The syncs are paused: accepted events wait in the inbox, so the table looks at intake alone.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.api.serve_process import Api, ServeProcess
from tests.services import FreshPostgresDatabase, require_service
from tests.webhooks.conftest import (
    SERVE_ENV,
    WEBHOOK_SYSTEMS,
    Secrets,
    WebhookProject,
    body_of,
    github_headers,
    make_project,
    standard_headers,
)

Headers = list[tuple[str, str]]
KIB = 1024


@dataclass(frozen=True)
class Delivery:
    name: str
    system: str
    body: bytes
    headers: Callable[[Secrets, bytes], Headers]
    status: int
    detail: str = ""
    records: int | None = None
    """For a 202: the records the answer counts."""
    chunked: bool = False
    raw: bool = False
    """Sent over a plain socket, as written: headers httpx would refuse to send."""


def standard(secrets: Secrets, body: bytes) -> Headers:
    return list(standard_headers(secrets.standard, body).items())


def standard_with(**changed: str) -> Callable[[Secrets, bytes], Headers]:
    def headers(secrets: Secrets, body: bytes) -> Headers:
        given = {name.replace("_", "-"): value for name, value in changed.items()}
        return [(name, given.pop(name, value)) for name, value in standard(secrets, body)] + list(given.items())

    return headers


def standard_at(moment: datetime) -> Callable[[Secrets, bytes], Headers]:
    return lambda secrets, body: list(standard_headers(secrets.standard, body, at=moment).items())


def standard_id(delivery: str) -> Callable[[Secrets, bytes], Headers]:
    return lambda secrets, body: list(standard_headers(secrets.standard, body, delivery).items())


def standard_id_sent_as(delivery: str, encoding: str) -> Callable[[Secrets, bytes], Headers]:
    """Signed with ``delivery`` as the ``standardwebhooks`` package signs it (its UTF-8 text); the header's
    bytes in ``encoding`` (sent raw: each character of a header value here is one byte)."""

    def headers(secrets: Secrets, body: bytes) -> Headers:
        sent = delivery.encode(encoding).decode("latin-1")
        return [(name, sent if name == "webhook-id" else value) for name, value in standard_id(delivery)(secrets, body)]

    return headers


def twice(name: str, first_wrong: bool) -> Callable[[Secrets, bytes], Headers]:
    """The signed headers with ``name`` sent twice: a wrong value first or last."""

    def headers(secrets: Secrets, body: bytes) -> Headers:
        signed = standard(secrets, body)
        right = dict(signed)[name]
        wrong = (name, "v1,AAAA" if name == "webhook-signature" else "other")
        rest = [(key, value) for key, value in signed if key != name]
        return [*rest, wrong, (name, right)] if first_wrong else [*rest, (name, right), wrong]

    return headers


def hub(secrets: Secrets, body: bytes) -> Headers:
    return list(github_headers(secrets.github, body).items())


def bearer(token: Callable[[Secrets], str]) -> Callable[[Secrets, bytes], Headers]:
    return lambda secrets, body: [("authorization", token(secrets)), ("content-type", "application/json")]


TOKEN = bearer(lambda s: f"Bearer {s.sender_token}")


def nothing(secrets: Secrets, body: bytes) -> Headers:
    return []


def data(record: str) -> bytes:
    """A Standard Webhooks body: ``record`` (JSON text) at ``data``."""
    return f'{{"type": "contact.updated", "data": {record}}}'.encode()


def nested(levels: int) -> str:
    """A record whose ``n`` nests so that the whole body is ``levels`` deep ({} body, {} data, then lists)."""
    return '{"id": 1, "email": "p1@example.com", "n": ' + "[" * (levels - 2) + "]" * (levels - 2) + "}"


NOW = datetime.now(UTC)
ONE = data('{"id": 1, "email": "p1@example.com"}')
AT_1KIB = body_of({"id": 3, "email": "p3@example.com", "name": "x" * 981})
assert len(AT_1KIB) == KIB
EMPTY_OBJECTS = b"[" + b",".join([b"{}"] * 100_000) + b"]"

DELIVERIES = [
    # signatures, tokens and timestamps
    Delivery("standard: another secret", "signed", ONE,
             lambda s, b: list(standard_headers(Secrets().standard, b).items()), 401, "does not verify"),
    Delivery("standard: empty signature", "signed", ONE, standard_with(webhook_signature=""), 401, "does not verify"),
    Delivery("standard: signature of spaces", "signed", ONE, standard_with(webhook_signature="   "), 401, raw=True),
    Delivery("standard: 1,000 wrong signatures", "signed", ONE,
             standard_with(webhook_signature=" ".join(["v1,AAAA"] * 1000)), 401, "does not verify"),
    Delivery("standard: signature twice, wrong first", "signed", ONE, twice("webhook-signature", True),
             400, "webhook-signature is sent more than once"),
    Delivery("standard: signature twice, wrong last", "signed", ONE, twice("webhook-signature", False),
             400, "webhook-signature is sent more than once"),
    Delivery("standard: webhook-id twice", "signed", ONE, twice("webhook-id", False), 400, "webhook-id is sent"),
    Delivery("standard: timestamp a year off", "signed", ONE, standard_at(NOW + timedelta(days=365)), 401, "too new"),
    Delivery("standard: timestamp in 1970", "signed", ONE, standard_with(webhook_timestamp="0"), 401),
    Delivery("standard: timestamp not a number", "signed", ONE, standard_with(webhook_timestamp="soon"), 401),
    Delivery("standard: timestamp beyond 64 bits", "signed", ONE, standard_with(webhook_timestamp="9" * 30), 401),
    Delivery("standard: timestamp NaN", "signed", ONE, standard_with(webhook_timestamp="nan"), 401),
    Delivery("standard: timestamp negative", "signed", ONE, standard_with(webhook_timestamp="-1"), 401),
    Delivery("standard: webhook-id of 300 characters, signed", "signed", ONE, standard_id("m" * 300),
             400, "webhook-id is longer than 255 characters"),
    Delivery("standard: webhook-id of 255 characters, signed", "signed", ONE, standard_id("m" * 255), 202, records=1),
    Delivery("github: empty signature", "hub", body_of({"contact": {"id": 1}}),
             lambda s, b: [("x-hub-signature-256", "")], 401, "X-Hub-Signature-256"),
    Delivery("github: sha256= only", "hub", body_of({"contact": {"id": 1}}),
             lambda s, b: [("x-hub-signature-256", "sha256=")], 401, "X-Hub-Signature-256"),
    Delivery("github: signature twice", "hub", body_of({"contact": {"id": 1}}),
             lambda s, b: [*hub(s, b), ("x-hub-signature-256", "sha256=00")], 400, "sent more than once"),
    Delivery("github: delivery id of 10,000 characters (not signed)", "hub", body_of({"contact": {"id": 1}}),
             lambda s, b: [*hub(s, b), ("x-github-delivery", "d" * 10_000)], 400, "x-github-delivery is longer"),
    Delivery("token: empty Bearer", "tokened", body_of({"id": 1}), bearer(lambda s: "Bearer "), 401, raw=True),
    Delivery("token: Bearer without a space", "tokened", body_of({"id": 1}), bearer(lambda s: "Bearer"), 401),
    Delivery("token: the token twice", "tokened", body_of({"id": 1}),
             lambda s, b: [*TOKEN(s, b), ("authorization", "Bearer x")], 400, "authorization is sent more than once"),
    Delivery("token: the token with a NUL-free twin", "tokened", body_of({"id": 1}),
             bearer(lambda s: f"Bearer {s.sender_token}x"), 401),
    Delivery("token: Idempotency-Key of 300 characters", "tokened", body_of({"id": 1}),
             lambda s, b: [*TOKEN(s, b), ("idempotency-key", "k" * 300)], 400, "idempotency-key is longer"),
    Delivery("a header of 20 KiB", "signed", ONE, lambda s, b: [*standard(s, b), ("x-padding", "p" * 20 * KIB)],
             431, "headers are larger than 16 KiB"),
    Delivery("10,000 headers", "signed", ONE,
             lambda s, b: [*standard(s, b), *((f"x-h{n}", "v") for n in range(10_000))], 431, "more than 100 headers"),
    # the body
    Delivery("empty body", "tokened", b"", TOKEN, 400, "it is empty"),
    Delivery("only whitespace", "tokened", b" \r\n\t ", TOKEN, 400, "it is empty"),
    Delivery("null", "tokened", b"null", TOKEN, 400, "no record or list of records in the body"),
    Delivery("a number", "tokened", b"12", TOKEN, 400, "no record"),
    Delivery("a list of numbers (each fails alone later)", "tokened", b"[1, 2]", TOKEN, 202, records=2),
    Delivery("a list of lists (it fails alone later)", "tokened", b"[[]]", TOKEN, 202, records=1),
    Delivery("records at a scalar", "signed", data('"Ann"'), standard, 400, "at 'data'"),
    Delivery("records at true", "signed", data("true"), standard, 400, "at 'data'"),
    Delivery("records at null", "signed", data("null"), standard, 400, "at 'data'"),
    Delivery("not UTF-8", "tokened", b'{"id": 1, "name": "\xff\xfe"}', TOKEN,
             400, "not UTF-8 text (byte 19 is not valid)"),
    Delivery("a raw lone surrogate (CESU bytes)", "tokened", b'{"id": 1, "name": "\xed\xa0\x80"}', TOKEN,
             400, "not UTF-8"),
    Delivery("overlong UTF-8", "tokened", b'{"id": 1, "name": "\xc0\xaf"}', TOKEN, 400, "not UTF-8"),
    Delivery("a byte-order mark", "tokened", b'\xef\xbb\xbf{"id": 1}', TOKEN, 400, "not JSON"),
    Delivery("a raw NUL in a string", "tokened", b'{"id": 1, "name": "a\x00b"}', TOKEN, 400, "Invalid control"),
    Delivery("a raw NUL after the JSON", "tokened", b'{"id": 1}\x00', TOKEN, 400, "Extra data"),
    Delivery("NaN", "tokened", b'{"id": NaN}', TOKEN, 400, "NaN is not a JSON value"),
    Delivery("Infinity", "tokened", b'{"id": -Infinity}', TOKEN, 400, "-Infinity is not a JSON value"),
    Delivery("an integer of 5,000 digits (kept exactly, SPEC 8)", "tokened", b'{"id": 1, "n": ' + b"9" * 5000 + b"}",
             TOKEN, 202, records=1),
    Delivery("not JSON", "tokened", b"id=1&name=Ann", TOKEN, 400, "not JSON"),
    Delivery("20,000 levels, validly signed (the item fails alone later)", "signed",
             data("[" * 20_000 + "]" * 20_000), standard, 202, records=1),
    Delivery("20,000 levels in a record (it fails alone later)", "signed", data(nested(20_000)), standard,
             202, records=1),
    Delivery("201 levels", "signed", data(nested(201)), standard, 202, records=1),
    Delivery("1 MiB of [, never closed", "tokened", b"[" * 1024 * KIB, TOKEN, 400, "never closed"),
    Delivery("1 MiB less a byte of [, then a ]", "tokened", b"[" * (1024 * KIB - 1) + b"]", TOKEN,
             400, "never closed"),
    Delivery("lists closed by }", "tokened", b'[{"id": 1, "n": ' + b"[" * 2000 + b"}" * 2000 + b"}]", TOKEN,
             400, "closes nothing open"),
    Delivery("a lone surrogate escape (the record fails alone later)", "tokened",
             b'{"id": 1, "name": "\\ud800", "email": "p1@example.com"}', TOKEN, 202, records=1),
    Delivery("a NUL escape in a value", "tokened", b'{"id": 1, "name": "a\\u0000b"}', TOKEN, 202, records=1),
    Delivery("a NUL escape in a key", "tokened", b'{"id": 1, "a\\u0000": 2}', TOKEN, 202, records=1),
    Delivery("a NUL escape in a key, 2,000 levels down", "tokened",
             b'{"id": 1, "n": ' + b'{"a\\u0000": ' * 2000 + b"1" + b"}" * 2000 + b"}", TOKEN, 202, records=1),
    Delivery("an integer beyond 64 bits", "tokened", b'{"id": 1208925819614629174706176, "n": -1e400}', TOKEN,
             202, records=1),
    Delivery("100,000 empty objects within max_body", "tokened", EMPTY_OBJECTS, TOKEN, 202, records=100_000),
    Delivery("an empty list", "tokened", b"[]", TOKEN, 202, records=0),
    # headers that prove or name the delivery
    Delivery("standard: webhook-timestamp twice", "signed", ONE, twice("webhook-timestamp", False),
             400, "webhook-timestamp is sent more than once"),
    Delivery("standard: webhook-id with a NUL", "signed", ONE, standard_with(webhook_id="msg\x00x"), 400,
             "not a valid HTTP/1.1 request (illegal header line): send each header as Name: value", raw=True),
    Delivery("standard: webhook-id with a control character, signed", "signed", ONE, standard_id("msg\x01x"),
             400, "webhook-id holds a control character ('msg", raw=True),
    Delivery("standard: webhook-id with a tab, signed", "signed", ONE, standard_id("msg\tx"),
             400, "webhook-id holds a control character", raw=True),
    Delivery("standard: webhook-id with DEL, signed", "signed", ONE, standard_id("msg\x7fx"),
             400, "webhook-id holds a control character", raw=True),
    Delivery("standard: webhook-id of 20 KiB", "signed", ONE, standard_with(webhook_id="m" * 20 * KIB),
             431, "headers are larger than 16 KiB"),
    Delivery("standard: webhook-id in UTF-8, signed by standardwebhooks", "signed", ONE,
             standard_id_sent_as("msg_ünïcødé_Ω", "utf-8"), 202, records=1, raw=True),
    Delivery("standard: webhook-id in Latin-1, signed by standardwebhooks", "signed", ONE,
             standard_id_sent_as("msg_café", "latin-1"), 202, records=1, raw=True),
    Delivery("standard: webhook-timestamp with a control character", "signed", ONE,
             standard_with(webhook_timestamp=f"{int(NOW.timestamp())}\x01"), 400,
             "webhook-timestamp holds a control character", raw=True),
    Delivery("standard: webhook-timestamp of 10,000 digits", "signed", ONE,
             standard_with(webhook_timestamp="9" * 10_000), 401, "is not a time in seconds since 1970"),
    Delivery("standard: webhook-timestamp not a number", "signed", ONE,
             standard_with(webhook_timestamp="yesterday"), 401, "webhook-timestamp 'yesterday' is not a time"),
    Delivery("token: Idempotency-Key with a control character", "tokened", body_of({"id": 1}),
             lambda s, b: [*TOKEN(s, b), ("idempotency-key", "k\x1bk")], 400,
             "idempotency-key holds a control character", raw=True),
    Delivery("github: X-GitHub-Delivery with a NUL", "hub", body_of({"contact": {"id": 1}}),
             lambda s, b: [*hub(s, b), ("x-github-delivery", "d\x00d")], 400,
             "not a valid HTTP/1.1 request (illegal header line)", raw=True),
    # how much
    Delivery("exactly max_body (1 KiB)", "small", AT_1KIB, nothing, 202, records=1),
    Delivery("max_body and one byte", "small", AT_1KIB + b" ", nothing, 413, "over 1.0KiB"),
    Delivery("chunked, no length, over max_body", "small", AT_1KIB * 64, nothing, 413, "over 1.0KiB", chunked=True),
    Delivery("a length beyond 64 bits", "small", AT_1KIB, lambda s, b: [("content-length", "9" * 25)], 400,
             "not a valid HTTP/1.1 request (bad Content-Length)", raw=True),
    Delivery("a length of 2**63", "small", AT_1KIB, lambda s, b: [("content-length", str(2**63))], 413,
             "over 1.0KiB", raw=True),
    # where
    Delivery("a system name of 3,000 characters", "s" * 3000, ONE, nothing, 404, "takes webhooks"),
    Delivery("a system name with NUL", "%00", ONE, nothing, 404, "takes webhooks"),
    Delivery("a system name ..", "%2E%2E", ONE, nothing, 404),
    Delivery("verify: none from a web page", "local", body_of({"items": []}),
             lambda s, b: [("origin", "http://evil.example")], 403, "not web pages"),
]  # fmt: skip


@dataclass
class Intake:
    project: WebhookProject
    process: ServeProcess
    client: httpx.Client

    def stored(self) -> int:
        return int(self.project.state.rows("SELECT count(*) FROM webhook_events")[0][0])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def intake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    """One ``brygga serve`` per state database for the whole table, its syncs paused."""
    root: Path = tmp_path_factory.mktemp(f"hostile-{request.param}")
    project = make_project(root / "project")
    database: FreshPostgresDatabase | None = None
    if request.param == "postgresql":
        require_service("postgresql")
        database = FreshPostgresDatabase()
        project.write(state=asyncio.run(database.__aenter__()))
    process = ServeProcess(project.file, {**SERVE_ENV, **project.secrets.env()}, root / "logs").start()
    api = Api(process.url, [], project.secrets.operator)
    try:
        for system in WEBHOOK_SYSTEMS:
            api.json("POST", f"/api/v1/syncs/{system}/pause")
        with httpx.Client(base_url=process.url, timeout=30) as client:
            yield Intake(project, process, client)
    finally:
        api.close()
        process.stop()
        if database is not None:
            asyncio.run(database.__aexit__(None, None, None))


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 512):
        yield body[start : start + 512]


def _post_raw(port: int, path: str, headers: Headers, body: bytes) -> httpx.Response:
    """POST over a plain socket, headers exactly as given (a Content-Length added unless given); the answer."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if not any(name.lower() == "content-length" for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, content = received.partition(b"\r\n\r\n")
    return httpx.Response(int(head.split(b" ", 2)[1]), content=content)


@pytest.mark.parametrize("case", DELIVERIES, ids=[case.name for case in DELIVERIES])
def test_a_hostile_delivery_is_refused_and_leaves_nothing_or_is_stored_exactly(intake: Intake, case: Delivery) -> None:
    before = intake.stored()
    headers = case.headers(intake.project.secrets, case.body)

    if case.raw:
        answer = _post_raw(intake.process.port, f"/webhooks/{case.system}", headers, case.body)
    else:
        answer = intake.client.post(
            f"/webhooks/{case.system}", content=_chunks(case.body) if case.chunked else case.body, headers=headers
        )

    assert answer.status_code == case.status, answer.text[:500]
    assert case.detail in answer.text
    if case.status != 202:
        assert intake.stored() == before, "a refused delivery left something in the inbox"
        return
    assert answer.json()["records"] == case.records
    event_id = int(answer.json()["event_id"])
    [(body, records, status)] = intake.project.state.rows(
        f"SELECT body, records, status FROM webhook_events WHERE id = {event_id}"
    )
    assert (body, records, status) == (case.body.decode("utf-8"), case.records, "pending"), "stored exactly"
    assert intake.stored() == before + 1


def test_a_large_header_block_arriving_in_pieces_is_answered_431_whole(intake: Intake) -> None:
    """The HTTP parser refuses an incomplete header block over 16 KiB itself (a bare 400, and a reset that
    could eat it): a block of 60 KiB sent in two pieces gets the same 431, read to its end."""
    before = intake.stored()
    head = f"POST /webhooks/tokened HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(ONE)}\r\n".encode()
    padding = b"".join(f"x-h{n}: {'v' * 50}\r\n".encode() for n in range(1000))
    with socket.create_connection(("127.0.0.1", intake.process.port), timeout=30) as connection:
        connection.sendall(head + padding[:20_000])
        time.sleep(0.2)  # a slow sender: the first piece is parsed (and found incomplete) before the rest comes
        connection.sendall(padding[20_000:] + b"\r\n" + ONE)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 431"), received[:200]
    assert b"more than 100 headers" in received
    assert intake.stored() == before


def test_the_service_stays_well_after_the_table(intake: Intake) -> None:
    assert intake.client.get("/health").status_code == 200
    log = intake.process.log()
    assert "Traceback" not in log and "RecursionError" not in log
    assert json.loads(intake.client.get("/ready").text) == {"status": "ready"}


def test_an_unknown_system_name_is_shown_cut_short_in_the_404(intake: Intake) -> None:
    """The name is the sender's: a path of 100,000 characters was echoed whole (a 100 KB answer, and as much
    in any log that keeps the detail)."""
    before = intake.stored()

    answer = _post_raw(intake.process.port, "/webhooks/" + "s" * 100_000, [], ONE)

    assert answer.status_code == 404
    assert answer.json() == {"detail": f"no system '{'s' * 40}'… takes webhooks"}
    assert intake.stored() == before
