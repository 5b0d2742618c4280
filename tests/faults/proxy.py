"""A scriptable HTTP fault proxy: sits on 127.0.0.1 between Brygga and a real HTTP server, passes
requests through, and plays the failures a test scripts, counting everything it saw.

Point a system's ``base_url`` at :attr:`FaultProxy.url` instead of the server's; then
:meth:`FaultProxy.add` a :class:`Rule` to make some of the requests fail:

- :class:`Answer`: answer a status (503, 429 with ``Retry-After``, …) without asking the server;
- :class:`ResetMidBody`: let the server act, send the head and part of the body, then reset the
  connection (``SO_LINGER 0``: an RST, not a clean close);
- :class:`CloseBeforeAnswer`: close the connection without a byte of answer (after the server
  acted, or before it saw anything);
- :class:`Stall`: hold the whole answer back for a while;
- :class:`Trickle`: send the answer one byte at a time, each byte well within any per-read
  timeout, the whole far beyond it;
- :class:`Moment`: tell the test that a request reached a stage (arrived, done by the server,
  answered), and hold it there until the test releases it: where a test kills a client.

A rule says which requests it applies to (method, path), how many matching requests it lets
through first (``skip``), and for how long it plays: ``times`` requests, or ``seconds`` from its
first play (an outage). Every request is kept as an :class:`Exchange`: what came, what the proxy
did, when it answered, and when the client gave up on it.

The proxy speaks just enough HTTP/1.1 for JSON APIs: keep-alive on both sides, requests with a
``Content-Length`` or chunked body, answers framed by ``Content-Length``, chunks or the end of
the connection (re-framed with a ``Content-Length`` towards the client). It runs its own event
loop in a daemon thread, so a test (or a process it starts) can block while it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

Headers = list[tuple[str, str]]
MAX_HEAD = 64 * 1024
HOLD_AT_MOST = 120.0
"""No fault holds a request longer than this, whatever the test forgot to release."""


@dataclass
class Reply:
    """An answer, whole, as the server gave it (or as a fault makes it up)."""

    status: int
    reason: str
    headers: Headers
    body: bytes

    def head(self) -> bytes:
        """Status line and headers, framed with a ``Content-Length`` for the client."""
        skip = {"content-length", "transfer-encoding", "connection", "keep-alive"}
        lines = [f"HTTP/1.1 {self.status} {self.reason}"]
        lines += [f"{name}: {value}" for name, value in self.headers if name.lower() not in skip]
        lines.append(f"content-length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def raw(self) -> bytes:
        return self.head() + self.body


@dataclass
class Exchange:
    """One request the proxy received, and what became of it."""

    number: int
    at: float
    """When its whole request had arrived (``time.monotonic``)."""
    method: str
    target: str
    """Path and query, as the client sent them."""
    body: bytes
    fault: str | None = None
    """The fault played on it (its class name), or ``None`` when it was passed through."""
    forwarded: bool = False
    """Whether the server got it (and so may have acted on it)."""
    status: int | None = None
    """The status sent to the client; ``None`` when no (whole) answer was sent."""
    answered_at: float | None = None
    """When the proxy was done with it: the answer's last byte sent, or the connection closed or reset."""
    abandoned_at: float | None = None
    """When the client hung up before the answer was complete (it gave up: a timeout, a kill)."""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def param(self, name: str) -> str | None:
        values = parse_qs(urlsplit(self.target).query, keep_blank_values=True).get(name)
        return values[0] if values else None


# --- faults ------------------------------------------------------------------------------


class Fault:
    """What the proxy does instead of passing a request through."""

    @property
    def name(self) -> str:
        return type(self).__name__

    async def play(self, call: Call) -> None:
        raise NotImplementedError


@dataclass
class Answer(Fault):
    """Answer ``status`` with ``headers`` and ``body``; the server never sees the request."""

    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error": "unavailable (fault proxy)"}'
    reason: str = "Fault"

    async def play(self, call: Call) -> None:
        headers = [("content-type", "application/json"), *self.headers.items()]
        await call.answer(Reply(self.status, self.reason, headers, self.body))


@dataclass
class ResetMidBody(Fault):
    """The server acts; the client gets the head and ``keep`` bytes of the body (default half), then an RST."""

    keep: int | None = None

    async def play(self, call: Call) -> None:
        reply = await call.forward()
        keep = len(reply.body) // 2 if self.keep is None else self.keep
        await call.send(reply.head() + reply.body[:keep])
        await call.reset()


@dataclass
class CloseBeforeAnswer(Fault):
    """The connection is closed without a byte of answer; with ``forward``, after the server acted."""

    forward: bool = True

    async def play(self, call: Call) -> None:
        if self.forward:
            await call.forward()
        await call.close()


@dataclass
class Stall(Fault):
    """The server acts; its answer is held back ``seconds`` (or until the client gives up), then sent."""

    seconds: float = 30.0

    async def play(self, call: Call) -> None:
        reply = await call.forward()
        if not await call.client_gone(self.seconds):
            await call.answer(reply)


@dataclass
class Trickle(Fault):
    """The server acts; its answer goes out one byte every ``interval`` seconds, and after ``most``
    seconds of that the connection is reset (the test stays bounded whatever the client does)."""

    interval: float = 0.5
    most: float = 30.0

    async def play(self, call: Call) -> None:
        reply = await call.forward()
        data, ends = reply.raw(), time.monotonic() + self.most
        for index in range(len(data)):
            if time.monotonic() > ends:
                await call.reset()
                return
            if not await call.send(data[index : index + 1]) or await call.client_gone(self.interval):
                return
        call.exchange.status = reply.status


Stage = Literal["arrived", "done", "answered"]


@dataclass
class Moment(Fault):
    """Tells the test (:attr:`reached`) that a request got to ``stage``, and holds it there until
    :meth:`release` (or the client hangs up, or :data:`HOLD_AT_MOST` passed):

    - ``arrived``: the request came; the server has not seen it;
    - ``done``: the server acted on it; its answer is held back;
    - ``answered``: the answer was sent; nothing is held.
    """

    stage: Stage = "done"
    reached: threading.Event = field(default_factory=threading.Event)
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self._released.set()

    async def play(self, call: Call) -> None:
        if self.stage == "answered":
            await call.answer(await call.forward())
            self.reached.set()
            return
        reply = await call.forward() if self.stage == "done" else None
        self.reached.set()
        ends = time.monotonic() + HOLD_AT_MOST
        while not self._released.is_set() and time.monotonic() < ends:
            if await call.client_gone(0.01):
                return
        if reply is None:
            reply = await call.forward()
        await call.answer(reply)


# --- rules -------------------------------------------------------------------------------


@dataclass
class Rule:
    """Where and for how long a fault plays.

    :param method: only requests with this method (``None``: any)
    :param path: only requests to this path, query left aside (``None``: any)
    :param skip: let this many matching requests through first
    :param times: play on this many requests (the default is one, unless ``seconds`` is given)
    :param seconds: play on every matching request for this long from the first play
    """

    fault: Fault
    method: str | None = None
    path: str | None = None
    skip: int = 0
    times: int | None = None
    seconds: float | None = None
    played: list[Exchange] = field(default_factory=list)
    started_at: float | None = None
    """When it first played; with ``seconds``, it plays until ``started_at + seconds``."""
    over: bool = False
    """Ended by :meth:`end`."""

    def __post_init__(self) -> None:
        if self.times is None and self.seconds is None:
            self.times = 1

    def matches(self, exchange: Exchange) -> bool:
        return (self.method is None or exchange.method == self.method) and (
            self.path is None or exchange.path == self.path
        )

    def take(self, exchange: Exchange, now: float) -> bool:
        """Whether it plays on ``exchange`` (which matches it), counting it."""
        if self.spent(now):
            return False
        if self.skip:
            self.skip -= 1
            return False
        if self.started_at is None:
            self.started_at = now
        self.played.append(exchange)
        return True

    def end(self) -> None:
        """Play no more (the system is back)."""
        self.over = True

    def spent(self, now: float) -> bool:
        if self.over:
            return True
        if self.times is not None and len(self.played) >= self.times:
            return True
        return self.seconds is not None and self.started_at is not None and now >= self.started_at + self.seconds

    @property
    def ended_at(self) -> float | None:
        """With ``seconds``: when its time is (or was) up."""
        if self.seconds is None or self.started_at is None:
            return None
        return self.started_at + self.seconds


# --- one request -------------------------------------------------------------------------


class Call:
    """One request on one client connection: what faults act with."""

    def __init__(self, connection: _Connection, exchange: Exchange, request: bytes) -> None:
        self.connection = connection
        self.exchange = exchange
        self.request = request
        self.closed = False

    async def forward(self) -> Reply:
        """Send the request to the server and return its whole answer."""
        self.exchange.forwarded = True
        return await self.connection.upstream.exchange(self.request, self.exchange.method)

    async def answer(self, reply: Reply) -> None:
        if await self.send(reply.raw()):
            self.exchange.status = reply.status

    async def send(self, data: bytes) -> bool:
        """Send bytes to the client; whether it was still there."""
        writer = self.connection.writer
        if writer.is_closing():
            return False
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            self._abandoned()
            return False
        return True

    async def reset(self) -> None:
        """End the connection with an RST: whatever the client reads next fails."""
        sock = self.connection.writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.writer.transport.abort()
        self.closed = True

    async def close(self) -> None:
        self.connection.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.connection.writer.wait_closed()
        self.closed = True

    async def client_gone(self, seconds: float) -> bool:
        """Wait up to ``seconds``; whether the client hung up meanwhile (it sends nothing while it waits
        for an answer, so anything it does now is hanging up)."""
        try:
            data = await asyncio.wait_for(self.connection.reader.read(1), seconds)
        except TimeoutError:
            return False
        except (ConnectionError, OSError):
            data = b""
        if data:
            raise AssertionError("the client sent more before its answer came (pipelining is not supported)")
        self._abandoned()
        return True

    def _abandoned(self) -> None:
        if self.exchange.abandoned_at is None:
            self.exchange.abandoned_at = time.monotonic()
        self.closed = True


class _Upstream:
    """The server connection of one client connection, opened when first needed and kept alive."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes, method: str) -> Reply:
        for attempt in range(2):  # a kept-alive connection the server closed meanwhile is opened again
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            try:
                self.writer.write(request)
                await self.writer.drain()
                reply, keep = await _read_reply(self.reader, method)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
                continue
            if not keep:
                await self.close()
            return reply
        raise AssertionError("unreachable")

    async def close(self) -> None:
        writer = self.writer
        self.close_now()
        if writer is not None:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def close_now(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()


class _Connection:
    """One client connection: requests read one after the other, each passed through or faulted."""

    def __init__(self, proxy: FaultProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.reader, self.writer = reader, writer
        self.upstream = _Upstream(*proxy.upstream)

    async def serve(self) -> None:
        try:
            while (request := await _read_request(self.reader)) is not None:
                method, target, raw, body, keep = request
                exchange = self.proxy._arrived(method, target, body)
                call = Call(self, exchange, raw)
                rule = self.proxy._rule_for(exchange)
                try:
                    if rule is None:
                        await call.answer(await call.forward())
                    else:
                        exchange.fault = rule.fault.name
                        await rule.fault.play(call)
                finally:
                    exchange.answered_at = time.monotonic()
                    self.proxy._changed()
                if call.closed or not keep:
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away, or sent what is not HTTP: this connection ends
        finally:
            # both closed before any wait: a stop cancels this task, and a cancelled wait would leave one open
            self.upstream.close_now()
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await self.writer.wait_closed()


# --- HTTP framing ------------------------------------------------------------------------


def _parse_head(head: bytes) -> tuple[str, Headers]:
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _header(headers: Headers, name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


async def _read_body(reader: asyncio.StreamReader, headers: Headers, to_end: bool) -> bytes:
    if (_header(headers, "transfer-encoding") or "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                await _skip_trailers(reader, chunk)
                return b"".join(chunks)
            chunks.append(chunk[:-2])
    length = _header(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    return await reader.read() if to_end else b""


async def _skip_trailers(reader: asyncio.StreamReader, first: bytes) -> None:
    line = first
    while line != b"\r\n":
        line = await reader.readuntil(b"\r\n")


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes, bytes, bool] | None:
    """The next request: method, target, the bytes to forward, its body, whether the client keeps alive."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ConnectionError("a request head over the proxy's limit") from exc
    start, headers = _parse_head(head)
    method, target, _ = start.split(" ", 2)
    body = await _read_body(reader, headers, to_end=False)
    keep = (_header(headers, "connection") or "").lower() != "close"
    framed = [(name, value) for name, value in headers if name.lower() not in ("transfer-encoding", "content-length")]
    if body or method in ("POST", "PUT", "PATCH"):
        framed.append(("content-length", str(len(body))))
    lines = [start, *(f"{name}: {value}" for name, value in framed)]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return method, target, raw, body, keep


async def _read_reply(reader: asyncio.StreamReader, method: str) -> tuple[Reply, bool]:
    """The server's answer, and whether its connection may be used again."""
    head = await reader.readuntil(b"\r\n\r\n")
    start, headers = _parse_head(head)
    _, status_text, *reason = start.split(" ", 2)
    status = int(status_text)
    bodiless = method == "HEAD" or status in (204, 304) or 100 <= status < 200
    framed = _header(headers, "content-length") is not None or _header(headers, "transfer-encoding") is not None
    body = b"" if bodiless else await _read_body(reader, headers, to_end=True)
    keep = (_header(headers, "connection") or "").lower() != "close" and (bodiless or framed)
    return Reply(status, reason[0] if reason else "", headers, body), keep


# --- the proxy ---------------------------------------------------------------------------


class FaultProxy:
    """The proxy in front of ``upstream_url`` (its scheme, host and port; :attr:`url` keeps its path).

    :param upstream_url: the real server, such as ``http://127.0.0.1:8123/api``
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.scheme == "http" and parts.hostname and parts.port, upstream_url
        self.upstream = (parts.hostname, parts.port)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(256)
        port = self._socket.getsockname()[1]
        self.url = urlunsplit(("http", f"127.0.0.1:{port}", parts.path, "", ""))
        self._rules: list[Rule] = []
        self._exchanges: list[Exchange] = []
        self._changes = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- scripting and watching (any thread) ---

    def add(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        times: int | None = None,
        seconds: float | None = None,
    ) -> Rule:
        """Play ``fault`` on matching requests from now on (see :class:`Rule`); the first rule that
        matches a request and is not spent plays."""
        rule = Rule(fault, method, path, skip, times, seconds)
        with self._changes:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule and exchange (between tests)."""
        with self._changes:
            self._rules.clear()
            self._exchanges.clear()

    def exchanges(self, method: str | None = None, path: str | None = None) -> list[Exchange]:
        """What arrived so far, in order of arrival."""
        with self._changes:
            return [
                exchange
                for exchange in self._exchanges
                if (method is None or exchange.method == method) and (path is None or exchange.path == path)
            ]

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``check()`` holds (it is asked after every request the proxy finishes); fail
        naming ``what`` after ``timeout`` seconds."""
        ends = time.monotonic() + timeout
        with self._changes:
            while not check():
                left = ends - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
                self._changes.wait(min(left, 0.5))

    # --- life ---

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shut(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            assert not self._thread.is_alive(), "the fault proxy did not stop within 10 s"
        self._loop.close()
        self._socket.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, sock=self._socket, limit=MAX_HEAD)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await _Connection(self, reader, writer).serve()
        finally:
            self._tasks.discard(task)

    async def _shut(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # --- the proxy's own side (its loop) ---

    def _arrived(self, method: str, target: str, body: bytes) -> Exchange:
        with self._changes:
            exchange = Exchange(len(self._exchanges) + 1, time.monotonic(), method, target, body)
            self._exchanges.append(exchange)
            self._changes.notify_all()
            return exchange

    def _rule_for(self, exchange: Exchange) -> Rule | None:
        with self._changes:
            for rule in self._rules:
                if rule.matches(exchange) and rule.take(exchange, exchange.at):
                    return rule
        return None

    def _changed(self) -> None:
        with self._changes:
            self._changes.notify_all()


@contextlib.contextmanager
def running_proxy(upstream_url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of ``upstream_url`` until the block ends."""
    proxy = FaultProxy(upstream_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
