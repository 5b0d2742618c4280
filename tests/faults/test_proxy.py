"""The fault proxy itself: it passes requests through unchanged, plays each fault as its docstring says,
and counts what it saw (the other tests of this suite trust it)."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from tests.connectors.rest.server import ApiState
from tests.faults.conftest import PEOPLE
from tests.faults.proxy import Answer, CloseBeforeAnswer, FaultProxy, Moment, ResetMidBody, Stall, Trickle

RECORD = {"email": "ann@example.com", "name": "Ann"}


def raw_post(proxy: FaultProxy, body: bytes = b'{"email": "ann@example.com"}', timeout: float = 10) -> bytes:
    """POST to the collection on a plain socket; everything that came back before the end.

    :raises ConnectionResetError: after the bytes that came, when the connection was reset
    """
    port = int(proxy.url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        head = f"POST {PEOPLE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        connection.sendall(head.encode() + b"\r\n\r\n" + body)
        received = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError as exc:
                exc.args = (*exc.args, received)
                raise
            if not chunk:
                return received
            received += chunk


def test_requests_and_answers_pass_through_unchanged_and_are_counted(api: ApiState, proxy: FaultProxy) -> None:
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        created = client.post("/w/contacts", json=RECORD)
        found = client.get("/w/contacts", params={"email": "ann@example.com"})
        streamed = client.post("/w/contacts", content=iter([b'{"email": "bo@', b'example.com"}']))  # chunked
        nothing = client.get("/w/contacts", params={"email": "nobody@example.com"})

    assert created.status_code == 201 and created.json()["data"] == {**RECORD, "id": 1001}
    assert found.json() == {"data": [{**RECORD, "id": 1001}]}
    assert streamed.status_code == 201 and api.store[1002]["email"] == "bo@example.com"
    assert nothing.json() == {"data": []}
    seen = proxy.exchanges()
    assert [(e.method, e.path, e.param("email"), e.status, e.fault) for e in seen] == [
        ("POST", PEOPLE, None, 201, None),
        ("GET", PEOPLE, "ann@example.com", 200, None),
        ("POST", PEOPLE, None, 201, None),
        ("GET", PEOPLE, "nobody@example.com", 200, None),
    ]
    assert json.loads(seen[0].body) == RECORD and all(e.forwarded for e in seen)
    assert len(api.seen) == 4


def test_a_huge_body_passes_through_whole(api: ApiState, proxy: FaultProxy) -> None:
    name = "x" * (3 * 1024 * 1024)
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        created = client.post("/w/contacts", json={"email": "big@example.com", "name": name})

    assert created.status_code == 201 and created.json()["data"]["name"] == name


def test_garbage_instead_of_a_request_closes_that_connection_and_the_proxy_serves_on(proxy: FaultProxy) -> None:
    port = int(proxy.url.split(":")[2].split("/")[0])
    for garbage in (b"\x00\xff\xfe\r\n\r\n", b"GET\r\n\r\n", b"X" * 70_000):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(garbage)
            connection.shutdown(socket.SHUT_WR)
            assert connection.recv(100) == b""

    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        assert client.get("/w/contacts").status_code == 200


def test_an_answer_rule_plays_only_where_and_as_often_as_it_says(api: ApiState, proxy: FaultProxy) -> None:
    rule = proxy.add(Answer(503, {"Retry-After": "7"}), method="POST", path=PEOPLE, skip=1, times=2)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        statuses = [
            client.post("/w/contacts", json=RECORD).status_code,
            client.post("/w/contacts", json=RECORD).status_code,
            client.get("/w/contacts").status_code,
            client.post("/w/contacts", json=RECORD).status_code,
            client.post("/w/contacts", json=RECORD).status_code,
        ]

    assert statuses == [201, 503, 200, 503, 201]
    assert [e.number for e in rule.played] == [2, 4]
    assert len(api.requests(PEOPLE, "POST")) == 2, "a faulted request never reaches the server"


def test_an_outage_answers_everything_for_its_seconds_then_passes(proxy: FaultProxy) -> None:
    rule = proxy.add(Answer(503), seconds=0.3)
    statuses: list[int] = []
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        ends = time.monotonic() + 10
        while not statuses or statuses[-1] == 503:
            assert time.monotonic() < ends, "the outage did not end"
            statuses.append(client.get("/w/contacts").status_code)

    assert rule.started_at is not None and rule.ended_at is not None
    failed = [e for e in proxy.exchanges() if e.status == 503]
    assert len(failed) == len(statuses) - 1 >= 1
    assert all(rule.started_at <= e.at < rule.ended_at for e in failed)
    assert proxy.exchanges()[-1].at >= rule.ended_at


def test_a_reset_mid_body_comes_after_the_server_acted_and_part_of_the_answer(api: ApiState, proxy: FaultProxy) -> None:
    proxy.add(ResetMidBody(), method="POST")

    with pytest.raises(ConnectionResetError) as reset:
        raw_post(proxy)

    received = reset.value.args[-1]
    assert received.startswith(b"HTTP/1.1 201 ")
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
    )
    assert 0 < len(body) < length
    assert list(api.store) == [1001], "the server created the record"


@pytest.mark.parametrize("forward", [True, False])
def test_a_close_before_the_answer_sends_nothing(api: ApiState, proxy: FaultProxy, forward: bool) -> None:
    proxy.add(CloseBeforeAnswer(forward=forward), method="POST")

    assert raw_post(proxy) == b""

    assert len(api.store) == (1 if forward else 0)


def test_a_stalled_answer_is_given_up_by_the_client_and_that_is_noted(api: ApiState, proxy: FaultProxy) -> None:
    proxy.add(Stall(30), method="POST")

    with httpx.Client(base_url=proxy.url, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/w/contacts", json=RECORD)

    [stalled] = proxy.exchanges()
    proxy.wait_until(lambda: stalled.abandoned_at is not None, 10, "the proxy to notice the client left")
    assert stalled.abandoned_at is not None and stalled.abandoned_at - stalled.at < 10
    assert stalled.status is None and len(api.store) == 1


def test_a_trickle_beats_a_per_read_timeout_and_is_cut_after_its_most(proxy: FaultProxy) -> None:
    """Each byte comes well within httpx's read timeout, so httpx alone never gives up; the proxy
    resets the connection after ``most`` seconds."""
    proxy.add(Trickle(interval=0.05, most=1.5), method="GET")
    started = time.monotonic()

    with httpx.Client(base_url=proxy.url, timeout=1.0) as client, pytest.raises(httpx.TransportError) as failed:
        client.get("/w/contacts")

    assert not isinstance(failed.value, httpx.TimeoutException)
    assert time.monotonic() - started >= 1.5
    [trickled] = proxy.exchanges()
    assert trickled.status is None and trickled.abandoned_at is None


@pytest.mark.parametrize(("stage", "created_when_reached"), [("arrived", 0), ("done", 1), ("answered", 1)])
def test_a_moment_tells_the_test_and_holds_the_request_there(
    api: ApiState, proxy: FaultProxy, stage: str, created_when_reached: int
) -> None:
    rule = proxy.add(Moment(stage), method="POST")  # type: ignore[arg-type]
    assert isinstance(rule.fault, Moment)
    answers: list[int] = []

    def post() -> None:
        with httpx.Client(base_url=proxy.url, timeout=30) as client:
            answers.append(client.post("/w/contacts", json=RECORD).status_code)

    client = threading.Thread(target=post)
    client.start()
    try:
        assert rule.fault.reached.wait(10), "the moment was not reached"
        assert len(api.store) == created_when_reached
        if stage != "answered":
            assert answers == [], "the answer is held"
    finally:
        rule.fault.release()
        client.join(10)
    assert answers == [201] and len(api.store) == 1
