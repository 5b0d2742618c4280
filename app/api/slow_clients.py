"""Connections that never finish a request: bounded, so they cannot hold ``brygga serve``.

Why 300 half-sent requests starved ``/health`` and the webhooks: uvicorn's
HTTP/1.1 protocol arms no timer until its first answer, and its keep-alive
timer is cancelled by every byte that arrives, so a client that sends half a
request and waits (or trickles) holds its socket forever. Each holds a file
descriptor; with the common limit of 256 (macOS) or 1024 (many Linux services)
open files, a few hundred of them use all there are. ``accept()`` then fails
with EMFILE, asyncio stops accepting for a second at a time, and every new
connection (``/health``, a webhook sender) waits in the listen queue until it
times out. The event loop itself was never busy.

So, per connection (a subclass of uvicorn's h11 protocol, the one Brygga runs, by way of
:class:`~app.api.malformed_requests.JsonAnswersH11Protocol`, which answers what is no request in JSON):

- a request's headers must arrive within ``header_timeout`` of its first byte
  (of the connection, for its first request): then 408, closed. A connection
  that sent nothing at all is closed without an answer;
- a request whose body is still arriving ``header_timeout + body_timeout``
  after its headers is closed (the application answers 408 at
  ``body_timeout`` when it reads the body: :mod:`app.api.request_limits`; this
  catches bodies nobody reads);
- an answer the client does not read (its writes held back by flow control)
  for ``body_timeout`` is cut off: the connection is aborted, since closing
  it would wait for the unread bytes to be sent first;
- at most ``max_connections`` at once: a new connection beyond it closes the
  connection whose request has been arriving longest (503), else the one
  whose answer has gone unread longest, or, if there is none, is itself
  answered 503. A slow sender or reader can take a seat, never the last one;
- :func:`fit_open_files` raises the process's soft open-files limit so that
  ``max_connections`` fit, or lowers ``max_connections`` to what fits.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.api.malformed_requests import JsonAnswersH11Protocol

log = logging.getLogger("brygga.api")

RESERVED_FILES = 100
"""Open files kept for everything but client connections: databases, logs, outgoing HTTP."""


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int


def protocol_for(limits: ConnectionLimits) -> type[H11Protocol]:
    """The protocol class for uvicorn (``http=``): one per server, with its own register of connections."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"limits": limits, "arriving": {}, "unread": {}})


class BoundedH11Protocol(JsonAnswersH11Protocol):
    """uvicorn's h11 protocol with deadlines for arriving requests and a cap on connections."""

    limits: ClassVar[ConnectionLimits]
    arriving: ClassVar[dict[BoundedH11Protocol, None]]
    """Connections with a request still arriving, the one that started first first."""
    unread: ClassVar[dict[BoundedH11Protocol, None]]
    """Connections whose answer waits for the client to read it, the one waiting longest first."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._unread_since: asyncio.TimerHandle | None = None
        self._phase = ""
        self._bytes = False
        if len(self.connections) > self.limits.max_connections:
            self._make_room()
        if not self.transport.is_closing():
            self._expect("headers", self.limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        if not self._phase and self.conn.their_state is h11.IDLE:  # the first bytes of a next request
            self._expect("headers", self.limits.header_timeout)
        self._bytes = True
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle()
        self._read_again()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client reads nothing of the answer for now: it has ``body_timeout`` to start again."""
        super().pause_writing()
        if self._unread_since is None:
            self._unread_since = self.loop.call_later(self.limits.body_timeout, self._not_reading)
            self.unread[self] = None

    def resume_writing(self) -> None:
        self._read_again()
        super().resume_writing()

    def _read_again(self) -> None:
        if self._unread_since is not None:
            self._unread_since.cancel()
            self._unread_since = None
        self.unread.pop(self, None)

    def _not_reading(self) -> None:
        self._unread_since = None
        self.unread.pop(self, None)
        log.info("%s read none of its answer for %gs: cut off", self._who(), self.limits.body_timeout)
        self.transport.abort()

    def _follow(self) -> None:
        """Move the deadline along with the request: headers, then body, then none."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._expect("body", self.limits.header_timeout + self.limits.body_timeout)
            return
        self._settle()

    def _expect(self, phase: str, seconds: float) -> None:
        self._settle()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._too_slow)
        self.arriving[self] = None

    def _settle(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = ""
        self._bytes = False
        self.arriving.pop(self, None)

    def _too_slow(self) -> None:
        phase, started = self._phase, self._bytes
        self._deadline = None
        self._settle()
        if self.transport.is_closing():
            return
        if phase == "headers" and not started:
            self.transport.close()  # connected and said nothing: nothing to answer
            return
        seconds = self.limits.header_timeout + (self.limits.body_timeout if phase == "body" else 0)
        log.info("%s: its request was still arriving after %gs: closed", self._who(), seconds)
        if phase == "headers":
            self._answer(408, f"the request headers did not arrive within {seconds:g}s: send them at once")
        self.transport.close()

    def _make_room(self) -> None:
        """Over ``max_connections``: close the request that has been arriving longest, else cut off the answer
        unread longest, else refuse this one."""
        oldest = next((other for other in self.arriving if other is not self), None)
        busy = f"the service holds its limit of {self.limits.max_connections} connections"
        if oldest is None and self.unread:
            reader = next(iter(self.unread))
            log.warning("%s cut off to make room: %s, and its answer went unread longest", reader._who(), busy)
            reader._read_again()
            reader.transport.abort()
            return
        if oldest is None:
            log.warning("%s refused: %s, none of them slow", self._who(), busy)
            self._answer(503, f"{busy}: try again shortly")
            self.transport.close()
            return
        log.warning("%s closed to make room: %s, and its request was the slowest", oldest._who(), busy)
        if oldest._phase == "headers" and oldest._bytes:
            oldest._answer(503, f"{busy}: this request was the slowest to arrive")
        oldest._settle()
        oldest.transport.close()

    def _who(self) -> str:
        return f"client {self.client[0]}:{self.client[1]}" if self.client else "a client"


def fit_open_files(max_connections: int) -> int:
    """Raise the soft open-files limit (up to the hard one) so ``max_connections`` fit; the connections that
    fit after all. Where there are no such limits (Windows), ``max_connections``."""
    try:
        import resource  # noqa: PLC0415 - Unix only, and this module is imported on every platform
    except ImportError:  # pragma: no cover - not on Unix
        return max_connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, int(soft) - RESERVED_FILES))
