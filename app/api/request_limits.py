"""Limits on what one request may take: header size, and the time its body takes to arrive.

A slow sender holds a connection, a task and a buffer for as long as it likes
unless something ends it. Header *time* is bounded before the application
sees the request (:mod:`app.api.slow_clients`); here, once the headers are in:

- headers over 16 KiB or 100 fields are answered 431 (uvicorn bounds them only
  while they are incomplete: a large block that arrives at once gets through);
- the body must arrive within ``body_timeout`` of the headers, or the request is
  answered 408 and the connection closed;
- a request answered with an error before its body was read (413, a webhook
  flood's 503) has the rest of its body read and dropped first, up to 1 MiB, so
  that the client gets the answer rather than a reset connection;
- a client that goes away before its body is complete is logged in one line
  (the request is simply dropped: nothing of it was stored), not as a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("brygga.api")

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100
DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 1.0
"""The longest an answered request's unread body is waited for: a body that is on its way arrives in far
less; one that is not (a ``Content-Length`` of 2**63, a sender that stopped) is not waited for until the
body's deadline, which held every such error answer back for 30 s."""
HEADER_BLOCK_BYTES = 256 * 1024
"""The largest header block read whole, to be answered 431 here; beyond it the HTTP parser refuses it (431 too,
said by :mod:`app.api.malformed_requests`)."""


class BodyTooSlow(HTTPException):
    """The body did not arrive in time (HTTP 408). An ``HTTPException``, so that whatever reads the body
    (a route, FastAPI's own parsing) lets it through to the answer unchanged."""

    def __init__(self, seconds: float) -> None:
        detail = f"the request body did not arrive within {seconds:g}s: send it at once, or in fewer pauses"
        super().__init__(408, detail, headers={"Connection": "close"})


class RequestLimits:
    """ASGI middleware: 431 for oversized headers, 408 for a body that takes too long, one log line for a
    client that went away mid-request.

    :param body_timeout: seconds a request's body may take, from the moment its headers are in
    """

    def __init__(self, app: ASGIApp, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _ArrivingBody(scope, receive, self.body_timeout)
        problem = _header_problem(scope["headers"])
        if problem is not None:
            await body.drain()
            await JSONResponse({"detail": problem}, 431, headers={"Connection": "close"})(scope, receive, send)
            return

        async def send_when_read(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                await body.drain()  # answered before its body was read: a 413, a webhook flood's 503
            await send(message)

        try:
            await self.app(scope, body.receive, send_when_read)
        except ClientDisconnect:
            log.info("%s went away before its request was complete (%s): dropped", _client(scope), _request(scope))


class _ArrivingBody:
    """A request's body as the application reads it: the whole of it within ``seconds`` of the headers.

    What the application does not read before it answers with an error is read and dropped first (up to
    ``DRAIN_BYTES``, within the same time): closing a connection with unread data in it makes the kernel
    reset it, and the client may then lose the answer that says what was wrong (uvicorn closes it after
    the answer when the client asked for ``Connection: close``).
    """

    def __init__(self, scope: Scope, receive: Receive, seconds: float) -> None:
        self.scope = scope
        self._receive = receive
        self.seconds = seconds
        self.deadline = asyncio.get_running_loop().time() + seconds
        self.whole = False
        """Whether the last of the body has been received."""

    async def receive(self) -> Message:
        """The next message, bounded: the whole body within ``seconds``; after it, as it comes.

        :raises BodyTooSlow: when the body is not all in by the deadline (408)
        """
        if self.whole:
            return await self._receive()
        try:
            if asyncio.get_running_loop().time() >= self.deadline:
                raise TimeoutError
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            log.info("%s sent too slow a body (%s): answered 408", _client(self.scope), _request(self.scope))
            raise BodyTooSlow(self.seconds) from None
        self.whole = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    async def drain(self) -> None:
        """Read and drop what is left of the body, up to ``DRAIN_BYTES`` and for at most ``DRAIN_SECONDS``
        (never past the body's deadline); nothing where the request says its body is longer than that."""
        if self.whole or _declared_length(self.scope) > DRAIN_BYTES:
            return
        taken = 0
        until = min(self.deadline, asyncio.get_running_loop().time() + DRAIN_SECONDS)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(until):
                while not self.whole and taken <= DRAIN_BYTES:
                    message = await self._receive()
                    self.whole = message["type"] != "http.request" or not message.get("more_body", False)
                    taken += len(message.get("body", b""))


def _declared_length(scope: Scope) -> int:
    """The body's length as its ``Content-Length`` says (0 where it says nothing readable)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _header_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    if len(headers) > MAX_HEADERS:
        return f"the request has more than {MAX_HEADERS} headers: send fewer"
    if sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEADER_BYTES:
        return f"the request's headers are larger than {MAX_HEADER_BYTES // 1024} KiB: send smaller ones"
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"client {client[0]}:{client[1]}" if client else "a client"


def _request(scope: Scope) -> str:
    """The request in a log line: its method and route path, cut short (the path is the client's)."""
    path = str(scope.get("path", ""))
    return f"{scope.get('method', '')} {path[:200]}{'…' if len(path) > 200 else ''}"
