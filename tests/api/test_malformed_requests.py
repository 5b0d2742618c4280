"""Bytes that are no HTTP/1.1 request, sent over a real socket to a real ``brygga serve`` (uvicorn, h11): each is
answered as every other error is, ``{"detail": "..."}`` saying what was wrong, not uvicorn's plain-text
"Invalid HTTP request received."; and paths that a client library would tidy up, sent as they are."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api.request_limits import HEADER_BLOCK_BYTES
from tests.api.serve_process import ServeProcess
from tests.webhooks.conftest import SERVE_ENV, WebhookProject, make_project

WAIT = 15.0
"""Every socket read gives up after this long: no test hangs."""

MALFORMED = {
    "not HTTP at all": (b"GARBAGE\r\n\r\n", 400, "(illegal request line): send a request line such as GET /health"),
    "a TLS hello to the plain port": (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n",
        400,
        "(illegal request line)",
    ),
    "a space in the path": (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "(illegal request line)"),
    "a header name with a space": (
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
        400,
        "(illegal header line): send each header as Name: value",
    ),
    "a NUL in a header value": (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        400,
        "(illegal header line)",
    ),
    "no Host": (b"GET /health HTTP/1.1\r\n\r\n", 400, "(Missing mandatory Host: header): send a Host header"),
    "two lengths": (
        b"POST /webhooks/local HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        400,
        "(conflicting Content-Length headers)",
    ),
    "a transfer coding h11 does not take": (
        b"POST /webhooks/local HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "(Only Transfer-Encoding: chunked is supported)",
    ),
}


@pytest.fixture
def project(tmp_path: Path) -> WebhookProject:
    return make_project(tmp_path / "project")


@pytest.fixture
def served(project: WebhookProject, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(project.file, {**SERVE_ENV, **project.secrets.env()}, tmp_path / "logs")
    yield process.start()
    process.stop()


def _exchange(port: int, *pieces: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``pieces`` one after another and read all that comes back until the service closes: the status,
    the headers (names in lower case) and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as connection:
        connection.settimeout(WAIT)
        for piece in pieces:
            connection.sendall(piece)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split(" ")[1]), headers, body


def test_bytes_that_are_no_request_are_answered_in_json_saying_what_was_wrong(served: ServeProcess) -> None:
    for name, (sent, status, reason) in MALFORMED.items():
        answered, headers, body = _exchange(served.port, sent)

        assert answered == status, (name, answered, body)
        assert headers["content-type"] == "application/json" and headers["connection"] == "close", (name, headers)
        detail = json.loads(body)["detail"]
        assert detail.startswith(f"not a valid HTTP/1.1 request {reason}"), (name, detail)
        assert "bytearray" not in detail and "GARBAGE" not in detail, "the client's bytes are not said back"

    assert _exchange(served.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")[0] == 200


def test_a_head_past_what_the_service_reads_whole_is_answered_431_in_json(served: ServeProcess) -> None:
    """Past :data:`HEADER_BLOCK_BYTES`, arriving in pieces, h11 refuses the head before the application sees it."""
    start = b"GET /health HTTP/1.1\r\nHost: x\r\n"
    padding = b"".join(f"x-h{n}: {'v' * 100}\r\n".encode() for n in range(HEADER_BLOCK_BYTES // 100))

    status, headers, body = _exchange(served.port, start, padding[: len(padding) // 2], padding[len(padding) // 2 :])

    assert status == 431 and headers["content-type"] == "application/json", body[:200]
    assert json.loads(body)["detail"].startswith("not a valid HTTP/1.1 request (Receive buffer too long)")


def test_paths_sent_as_they_are_name_only_their_own_route(served: ServeProcess, project: WebhookProject) -> None:
    """A client library removes ``..`` and ``.`` before it sends a path; a raw client need not."""
    head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {project.secrets.operator}\r\nConnection: close\r\n\r\n"
    answers = {
        path: _exchange(served.port, f"POST {path} HTTP/1.1\r\n{head}".encode())
        for path in (
            "/api/v1/syncs/../pause",
            "/api/v1/syncs/./pause",
            "/api/v1/syncs/local/pause%0A",
            "/api/v1/syncs/local%2Fpause",
        )
    }

    details = {path: (status, json.loads(body)["detail"]) for path, (status, _, body) in answers.items()}
    assert details == {
        "/api/v1/syncs/../pause": (404, "no sync named '..'"),
        "/api/v1/syncs/./pause": (404, "no sync named '.'"),
        "/api/v1/syncs/local/pause%0A": (404, "Not Found"),
        "/api/v1/syncs/local%2Fpause": (405, "Method Not Allowed"),
    }
    status, _, body = _exchange(served.port, f"GET /api/v1/syncs/local HTTP/1.1\r\n{head}".encode())
    assert status == 200 and json.loads(body)["paused"] is False
