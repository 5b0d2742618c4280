"""A flood of large deliveries, against the app under a real uvicorn (in a thread of this process, with
``brygga serve``'s own connection limits): a delivery is checked off the event loop, so ``/health`` answers
meanwhile, and beyond ``max_webhook_bytes`` a delivery is refused 503 with ``Retry-After`` and leaves
nothing behind, while those taken are stored (SPEC 5).

A check is held on a :class:`threading.Event` (``check_delivery`` patched), so the tests see a delivery
*being* checked, whatever the machine's speed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from app.api.app import create_app
from app.api.request_limits import HEADER_BLOCK_BYTES
from app.api.slow_clients import ConnectionLimits, protocol_for
from app.engine import webhook_receiver
from app.engine.settings import ServiceSettings
from app.engine.webhook_checks import check_delivery
from tests.api.serve_process import wait_until
from tests.webhooks.conftest import WebhookProject, body_of, contact, metric_value, standard_headers

WAIT = 15.0
"""Every wait of these tests gives up after this long: none hangs."""
KIB = 1024


@dataclass
class HeldChecks:
    """``check_delivery``, held until :attr:`release` is set; the threads it ran in."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def wrap(self, check: Callable[..., Any]) -> Callable[..., Any]:
        def held(*args: Any, **kwargs: Any) -> Any:
            self.threads.append(threading.current_thread())
            self.entered.set()
            assert self.release.wait(WAIT), "the test never let the check go on"
            return check(*args, **kwargs)

        return held


@dataclass
class Running:
    """The app under uvicorn in a thread, and a client for it."""

    project: WebhookProject
    server: uvicorn.Server
    thread: threading.Thread
    client: httpx.Client

    def send(self, body: bytes, delivery: str, **extra: str) -> httpx.Response:
        headers = standard_headers(self.project.secrets.standard, body, delivery) | extra
        return self.client.post("/webhooks/signed", content=body, headers=headers)

    def stored(self) -> list[str]:
        """The delivery ids in the inbox, in the order they were stored."""
        return [str(row[0]) for row in self.project.state.rows("SELECT delivery_id FROM webhook_events ORDER BY id")]


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldChecks]:
    checks = HeldChecks()
    monkeypatch.setattr(webhook_receiver, "check_delivery", checks.wrap(check_delivery))
    yield checks
    checks.release.set()  # whatever the test did: nothing waits on it any more


@pytest.fixture
def serving(project: WebhookProject) -> Iterator[Callable[..., Running]]:
    """Start the app on the project under uvicorn, as ``brygga serve`` runs it; stopped after the test."""
    started: list[Running] = []

    def start(**settings: Any) -> Running:
        service = ServiceSettings(config=project.file, shutdown_grace=timedelta(seconds=2), **settings)
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listening.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            create_app(service, environ=project.secrets.env()),
            lifespan="on",
            log_level="warning",
            http=protocol_for(ConnectionLimits(10, 30, 100)),
            h11_max_incomplete_event_size=HEADER_BLOCK_BYTES,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
        thread.start()
        wait_until(lambda: server.started or not thread.is_alive(), WAIT, "uvicorn to start")
        assert server.started, "the app did not start"
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        running = Running(project, server, thread, httpx.Client(base_url=url, timeout=WAIT))
        started.append(running)
        return running

    yield start
    for running in started:
        running.client.close()
        running.server.should_exit = True
        running.thread.join(WAIT)
        assert not running.thread.is_alive(), "the app did not stop"


def _padded(size: int) -> bytes:
    """A delivery of one contact, padded to ``size`` bytes."""
    body = body_of({"data": [contact(1)], "padding": ""})
    return body_of({"data": [contact(1)], "padding": "x" * (size - len(body))})


def test_health_answers_while_a_large_delivery_is_being_checked(
    serving: Callable[..., Running], held: HeldChecks
) -> None:
    running = serving()
    body = body_of({"data": [contact(n) for n in range(1, 5001)]})

    with ThreadPoolExecutor(1) as sender:
        sending = sender.submit(running.send, body, "msg_large")
        assert held.entered.wait(WAIT), "the delivery never reached its check"
        health = running.client.get("/health")
        still_checking = not sending.done()
        held.release.set()
        answer = sending.result(WAIT)

    assert health.status_code == 200, "the event loop was held by the check"
    assert still_checking
    assert held.threads[0] is not running.thread, "the check ran on the event loop's thread"
    assert (answer.status_code, answer.json()["records"]) == (202, 5000)
    assert running.stored() == ["msg_large"]


def test_a_delivery_beyond_max_webhook_bytes_is_refused_with_retry_after_and_stores_nothing(
    serving: Callable[..., Running], held: HeldChecks
) -> None:
    running = serving(max_webhook_bytes=1536 * KIB)
    first, second = _padded(900 * KIB), _padded(900 * KIB)

    with ThreadPoolExecutor(1) as sender:
        sending = sender.submit(running.send, first, "msg_first")
        assert held.entered.wait(WAIT), "the first delivery never reached its check"
        # the client closes after the answer: the body it sent must be read first, or the kernel would reset
        # the connection and the client could lose the 503
        refused = running.send(second, "msg_second", connection="close")
        stored_while_held = running.stored()
        held.release.set()
        accepted = sending.result(WAIT)
    again = running.send(second, "msg_second")

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert "send this one again in 1s (nothing of it was stored)" in refused.json()["detail"]
    assert stored_while_held == []
    assert len(held.threads) == 2, "the refused delivery was checked"  # the first, and the second sent again
    assert (accepted.status_code, again.status_code) == (202, 202)
    assert running.stored() == ["msg_first", "msg_second"]
    metrics = running.client.get("/metrics").text
    assert metric_value(metrics, "brygga_webhook_events_total", system="signed", outcome="rejected: busy") == 1
    assert metric_value(metrics, "brygga_webhook_events_total", system="signed", outcome="accepted") == 2


def test_one_delivery_is_taken_whatever_its_size_when_no_other_is_held(serving: Callable[..., Running]) -> None:
    """A budget below ``max_body`` refuses a large delivery only beside others: alone it is taken."""
    running = serving(max_webhook_bytes=64 * KIB)

    answer = running.send(_padded(900 * KIB), "msg_alone")

    assert answer.status_code == 202, answer.text
    assert running.stored() == ["msg_alone"]


def test_senders_that_declare_a_large_body_and_send_none_do_not_shut_out_the_others(
    serving: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery holds the bytes it has sent, not those its Content-Length promises: three senders
    that each declare max_body (1 MiB) and send nothing held the whole budget (2 MiB) until their body
    timed out, and every signed delivery to every system was answered 503 meanwhile (16 such sockets do it
    to the default budget of 16 MiB, and cost the sender nothing)."""
    arrived = threading.Semaphore(0)
    admitted = webhook_receiver.WebhookReceiver.admitted

    def counted(*args: Any, **kwargs: Any) -> Any:
        arrived.release()
        return admitted(*args, **kwargs)

    monkeypatch.setattr(webhook_receiver.WebhookReceiver, "admitted", counted)
    running = serving(max_webhook_bytes=2048 * KIB)
    port = running.client.base_url.port
    # headers that pass every check made before the body (a fresh timestamp, a signature only the body can
    # disprove): senders without them are answered 401 before they hold anything
    signature = f"webhook-id: msg_idle\r\nwebhook-timestamp: {int(time.time())}\r\nwebhook-signature: v1,x\r\n"
    head = (
        f"POST /webhooks/signed HTTP/1.1\r\nHost: 127.0.0.1\r\n{signature}Content-Length: {1024 * KIB}\r\n\r\n"
    ).encode()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=WAIT) for _ in range(3)]
    try:
        for connection in idle:
            connection.sendall(head)
        for _ in idle:
            assert arrived.acquire(timeout=WAIT), "an idle sender's request never reached the webhook route"

        answer = running.send(_padded(KIB), "msg_signed")
    finally:
        for connection in idle:
            connection.close()

    assert answer.status_code == 202, answer.text
    assert running.stored() == ["msg_signed"]
