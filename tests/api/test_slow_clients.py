"""Slow and half-sent requests against a real ``brygga serve`` (uvicorn) over real sockets: they are bounded
and dropped, ``/health`` and webhooks go on answering, and a client that goes away is one log line
(issue 17, item 5)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from tests.api.serve_process import ServeProcess, wait_until
from tests.webhooks.conftest import SERVE_ENV, WebhookProject, make_project

QUICK = {"BRYGGA_HEADER_TIMEOUT": "1s", "BRYGGA_BODY_TIMEOUT": "1s"}
WAIT = 15.0
"""Every socket read gives up after this long: no test hangs."""


@pytest.fixture
def project(tmp_path: Path) -> WebhookProject:
    return make_project(tmp_path / "project")


class Start(Protocol):
    def __call__(self, env: dict[str, str], open_files: tuple[int, int | None] | None = None) -> ServeProcess:
        """``brygga serve`` of the project with these ``BRYGGA_*`` settings and open-files limit."""


@pytest.fixture
def start(project: WebhookProject, tmp_path: Path) -> Iterator[Start]:
    started: list[ServeProcess] = []

    def start(env: dict[str, str], open_files: tuple[int, int | None] | None = None) -> ServeProcess:
        logs = tmp_path / f"logs-{len(started)}"
        process = ServeProcess(project.file, {**SERVE_ENV, **project.secrets.env(), **env}, logs, open_files=open_files)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


def _connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    connection.settimeout(WAIT)
    return connection


def _until_closed(connection: socket.socket) -> bytes:
    """Everything the service sends until it closes the connection (an error after :data:`WAIT` seconds)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def _head(port: int, path: str = "/webhooks/local", length: int = 1000) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {length}\r\n\r\n".encode()


def _stored(project: WebhookProject) -> int:
    return int(project.state.rows("SELECT count(*) FROM webhook_events")[0][0])


@pytest.mark.parametrize(
    "open_files",
    [(256, None), (256, 256)],
    ids=["soft open-files limit 256 (macOS), raised", "hard limit 256 too: the slowest make room"],
)
def test_a_slowloris_of_300_connections_does_not_hold_health_or_webhooks(
    start: Start, project: WebhookProject, open_files: tuple[int, int | None]
) -> None:
    process: ServeProcess = start({}, open_files)
    port = process.port
    with ExitStack() as held:
        half_sent = []
        for number in range(300):
            connection = held.enter_context(_connect(port))
            if number % 3:
                connection.sendall(f"POST /webhooks/local HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-A: ".encode())
            else:
                connection.sendall(_head(port) + b'{"items": [')
            half_sent.append(connection)
            if number == 2:  # a round trip, so the service has read what the oldest sent before any makes room
                assert httpx.get(f"{process.url}/health", timeout=WAIT).status_code == 200

        with httpx.Client(base_url=process.url, timeout=5) as client:  # a bound, not a speed: 300 sockets wait
            assert client.get("/health").status_code == 200
            hook = client.post("/webhooks/local", json={"items": [{"id": 7, "email": "p7@example.com"}]})
            assert hook.status_code == 202, hook.text
            assert client.get("/ready").json() == {"status": "ready"}

        if open_files[1] is not None:
            assert "leaves room for 156 connections at once, not BRYGGA_MAX_CONNECTIONS=1000" in process.log()
            oldest = half_sent[1]  # headers half-sent: the first to make room, with an answer
            assert _until_closed(oldest).startswith(b"HTTP/1.1 503 Service Unavailable")
        else:
            assert "leaves room" not in process.log()
            # (with the hard limit, a burst that asyncio accepts in one go can still meet EMFILE for a moment)
            assert "Traceback" not in process.log() and "Too many open files" not in process.log()
    assert _stored(project) == 1


def test_slow_headers_and_bodies_get_408_and_are_closed(start: Start, project: WebhookProject) -> None:
    process: ServeProcess = start(QUICK)
    port = process.port

    with _connect(port) as trickling:  # a header line every 0.2 s: each byte once reset uvicorn's timer
        trickling.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        deadline = time.monotonic() + WAIT
        answer = b""
        while time.monotonic() < deadline:
            try:
                trickling.sendall(b"X-Trickle: 1\r\n")
            except OSError:  # closed by the service
                break
            trickling.settimeout(0.2)
            try:
                answer += trickling.recv(65536)
                if answer.endswith(b"}"):
                    break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
        assert b"the request headers did not arrive within 1s" in answer

    with _connect(port) as silent:
        assert _until_closed(silent) == b"", "a connection that said nothing is closed without an answer"

    with _connect(port) as slow_body:
        slow_body.sendall(_head(port) + b'{"items": [')
        answer = _until_closed(slow_body)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
        assert b'{"detail":"the request body did not arrive within 1s' in answer
        assert b"connection: close" in answer.lower()

    with _connect(port) as trickling_body:
        trickling_body.sendall(_head(port, length=100))
        trickling_body.settimeout(0.2)
        answer = b""
        for _ in range(int(WAIT / 0.2)):
            try:
                trickling_body.sendall(b" ")
                answer += trickling_body.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if b"}" in answer:
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer

    with _connect(port) as unread:  # a route that never reads the body answers; the body may not go on forever
        unread.sendall(_head(port, "/health") + b"x")
        answer = _until_closed(unread)
        assert answer.startswith(b"HTTP/1.1 405"), answer

    assert _stored(project) == 0
    assert httpx.get(f"{process.url}/health", timeout=5).status_code == 200
    assert "Traceback" not in process.log()


def test_a_client_that_goes_away_mid_body_is_one_log_line(start: Start, project: WebhookProject) -> None:
    process: ServeProcess = start({})

    with _connect(process.port) as leaving:
        leaving.sendall(_head(process.port) + b'{"items": [{"id": 1')

    line = "went away before its request was complete (POST /webhooks/local): dropped"
    wait_until(lambda: line in process.log(), WAIT, "the log line of the client that went away")
    with httpx.Client(base_url=process.url, timeout=5) as client:
        assert client.get("/health").status_code == 200  # and nothing more is logged about it meanwhile
    assert process.log().count(line) == 1
    assert "Traceback" not in process.log() and "Exception in ASGI application" not in process.log()
    assert _stored(project) == 0


def test_clients_that_never_read_their_answers_are_cut_off_and_hold_no_seat(
    start: Start, project: WebhookProject
) -> None:
    process = start({**QUICK, "BRYGGA_MAX_CONNECTIONS": "20"})
    asset = "/docs/assets/swagger-ui-bundle.js"  # public, and large: the answers fill every buffer between
    assert len(httpx.get(f"{process.url}{asset}", timeout=WAIT).content) > 1_000_000
    request = f"GET {asset} HTTP/1.1\r\nHost: 127.0.0.1:{process.port}\r\n\r\n".encode()
    with ExitStack() as held:
        for _ in range(20):  # every seat, each asking for answers it never reads
            connection = held.enter_context(socket.socket())
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            connection.settimeout(WAIT)
            connection.connect(("127.0.0.1", process.port))
            connection.sendall(request * 8)

        cut_off = "read none of its answer for 1s: cut off"
        wait_until(lambda: process.log().count(cut_off) == 20, WAIT, "the clients that read nothing to be cut off")
        with httpx.Client(base_url=process.url, timeout=WAIT) as client:
            assert client.get("/health").status_code == 200  # their seats are free again
            hook = client.post("/webhooks/local", json={"items": [{"id": 7, "email": "p7@example.com"}]})
            assert hook.status_code == 202, hook.text
    assert "Traceback" not in process.log()
