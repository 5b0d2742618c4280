"""A sender the headers alone prove wrong (no token, no signature headers, a stale timestamp) is answered before
its body is read: it holds no share of the service's budget for arriving bodies (``BRYGGA_MAX_WEBHOOK_BYTES``),
so anyone who can reach the port cannot fill it with bodies sent as fast as the network takes them and turn the
real senders away with 503."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.webhooks.conftest import Served, WebhookProject

LARGE = 900_000
"""The Content-Length announced, and never sent."""

NOT_PROVEN = [
    ("tokened", {"authorization": "Bearer not-the-token"}),
    ("tokened", {}),
    ("signed", {"webhook-id": "msg_1"}),
    ("signed", {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()) - 3600), "webhook-signature": "v1,x"}),
    ("hub", {"x-github-delivery": "d1"}),
    *(
        ("signed", {"webhook-id": "msg_1", "webhook-timestamp": stamp, "webhook-signature": "v1,x"})
        for stamp in ("nan", "1e400", "-1", "9" * 400)
    ),
]
NAMES = ["bad token", "no token", "unsigned", "stale", "hub", "nan time", "time past floats", "before 1970", "huge"]


@pytest.mark.parametrize(("system", "headers"), NOT_PROVEN, ids=NAMES)
def test_an_unproven_sender_is_answered_401_without_its_body(
    serve: Callable[[WebhookProject], Served], project: WebhookProject, system: str, headers: dict[str, str]
) -> None:
    served = serve(project)
    address = urlsplit(served.process.url)
    lines = [f"POST /webhooks/{system} HTTP/1.1", f"Host: {address.netloc}", "Content-Type: application/json",
             f"Content-Length: {LARGE}", *(f"{name}: {value}" for name, value in headers.items())]  # fmt: skip

    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())  # the headers, then not a byte of body
        connection.settimeout(20)  # the service waits 30 s for a body it reads: an answer before is one without
        answer = connection.recv(4096).decode("latin-1")

    assert answer.startswith("HTTP/1.1 401"), answer
    assert served.events() == []
