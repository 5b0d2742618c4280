"""A small JSON API under uvicorn in a thread: the REST system the connector's tests talk to.

Everything lives under ``/api`` (so ``base_url`` has a path, as real ones do):

- ``/link/contacts``, ``/pages/contacts``, ``/offsets/contacts``, ``/cursors/contacts``,
  ``/next/contacts``: :attr:`ApiState.contacts` in each pagination style, filtered by
  ``updated_since`` (inclusive), in id order (not cursor order);
- ``/repeat/…``: pagination that goes round in a circle;
- ``/auth/{kind}/contacts`` and ``POST /oauth/token``: each kind of credentials;
- ``/w/contacts`` (``GET ?email=``, ``POST``) and ``/w/contacts/{id}`` (``GET``, ``PATCH``,
  ``DELETE``): a writable collection whose ids the server assigns;
- ``/raw/{name}``: the bytes of :attr:`ApiState.raw` ``[name]``, as they are (hostile answers);
- ``/slow/contacts``: :attr:`ApiState.raw` ``["slow"]`` a byte at a time, one every
  :attr:`ApiState.trickle` seconds, until it is all sent or the client hangs up;
- ``/endless/contacts``: a page of one record, and a ``Link`` to the next page, forever;
- every request is noted (arrival time, method, path, query, headers, body), and
  :meth:`ApiState.fault` scripts failures: a status (with headers), or a dropped
  connection, before or after the request is handled.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BEARER_TOKEN = "bearer-secret-9f3a"
BASIC_USER, BASIC_PASSWORD = "ann", "basic-secret-77c1"
HEADER_KEY = "header-secret-51d0"
QUERY_KEY = "query/secret+4e2b"
CLIENT_ID, CLIENT_SECRET = "brygga", "client-secret-0c8d"


@dataclass
class Seen:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""
    """The path as sent, before the server decodes it (``/api/w/contacts/a%2Fb``)."""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    """A scripted failure for the next request to a path.

    :param kind: answer with ``status`` (and ``headers``), or ``drop`` the connection mid-answer
    :param after: handle the request first (its effects happen), then fail the answer
    :param skip: let this many matching requests through before this one fails
    :param body: answer with these bytes (as ``text/html``) instead of a JSON error
    """

    method: str
    path: str
    kind: Literal["status", "drop"]
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False
    skip: int = 0
    body: bytes | None = None


@dataclass
class ApiState:
    """What the API holds and saw; reset before each test."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    store: dict[int, dict[str, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    total_bonus: int = 0
    """Added to every stated total: a server that claims more than it serves."""
    not_found_past_end: bool = False
    """``/pages/contacts`` answers 404 for a page past the last, as some APIs do."""
    max_limit: int = 1000
    """The most records the offset endpoint returns, whatever ``limit`` asks."""
    ignore_filter: bool = False
    """``GET /w/contacts?email=`` lists everything, as an API ignoring an unknown parameter does."""
    token_lifetime: int = 3600
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    delay: float = 0.0
    raw: dict[str, bytes] = field(default_factory=dict)
    """Bodies ``/raw/{name}`` answers with as they are."""
    raw_type: str = "application/json"
    """The ``Content-Type`` of ``/raw/…`` and ``/slow/…`` answers."""
    raw_headers: dict[str, str] = field(default_factory=dict)
    """More headers of ``/raw/…`` answers (a ``Content-Encoding`` their bytes are in)."""
    trickle: float = 0.05
    """Seconds between two bytes of ``/slow/contacts``."""
    in_flight: int = 0
    most_in_flight: int = 0
    idle: threading.Event = field(default_factory=threading.Event)
    """Set while no request is being answered."""
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def reset(self) -> None:
        """Forget everything, once requests left over from an earlier test (say, of a killed client)
        have been answered: they would count as in flight in this one."""
        assert self.wait_idle(10), "the test API still answers requests of an earlier test after 10 s"
        fresh = ApiState()
        for name in self.__dataclass_fields__:
            if name not in ("in_flight", "idle"):
                setattr(self, name, getattr(fresh, name))

    def wait_idle(self, timeout: float) -> bool:
        return self.in_flight == 0 or self.idle.wait(timeout)

    def fault(self, method: str, path: str, kind: Literal["status", "drop"] = "status", **options: Any) -> None:
        self.faults.append(Fault(method, path, kind, **options))

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and path == fault.path:
                if fault.skip:
                    fault.skip -= 1
                    return None
                self.faults.remove(fault)
                return fault
        return None

    def requests(self, path: str | None = None, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if (path is None or s.path == path) and (method is None or s.method == method)]

    def revoke_tokens(self) -> None:
        self.tokens.clear()


def contacts(count: int, *, start: int = 1) -> list[dict[str, Any]]:
    """``count`` contacts; ``updated_at`` runs against the id order, so a read's greatest is not its last."""
    return [
        {
            "id": number,
            "name": f"Contact {number}",
            "email": f"c{number}@example.com",
            "updated_at": f"2024-05-{1 + (number * 11) % 28:02d}T12:00:00Z",
        }
        for number in range(start, start + count)
    ]


# --- the app ----------------------------------------------------------------------------


def _int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    return int(value) if value is not None else default


def _listed(state: ApiState, request: Request) -> list[dict[str, Any]]:
    since = request.query_params.get("updated_since")
    rows = state.contacts
    return [row for row in rows if row["updated_at"] >= since] if since else list(rows)


def build_app(state: ApiState) -> Starlette:
    async def link(request: Request) -> Response:
        rows, page, size = _listed(state, request), _int(request, "page", 1), _int(request, "per_page", 10)
        chunk = rows[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(rows):
            base = str(request.url.include_query_params(page=page + 1))
            headers["Link"] = f'<{base}>; rel="next", <{request.url.include_query_params(page=1)}>; rel="first"'
        return JSONResponse(chunk, headers=headers)

    async def pages(request: Request) -> Response:
        rows, page, size = _listed(state, request), _int(request, "page", 1), _int(request, "size", 10)
        chunk = rows[(page - 1) * size : page * size]
        if not chunk and page > 1 and state.not_found_past_end:
            return JSONResponse({"error": "no such page"}, status_code=404)
        return JSONResponse(chunk, headers={"X-Total-Count": str(len(rows) + state.total_bonus)})

    async def offsets(request: Request) -> Response:
        rows, offset = _listed(state, request), _int(request, "offset", 0)
        limit = min(_int(request, "limit", 100), state.max_limit)
        chunk = rows[offset : offset + limit]
        return JSONResponse({"items": chunk, "meta": {"total": len(rows) + state.total_bonus}})

    async def cursors(request: Request) -> Response:
        rows, size = _listed(state, request), _int(request, "per_page", 10)
        start = int(request.query_params.get("cursor", "c0")[1:])
        chunk = rows[start : start + size]
        following = f"c{start + size}" if start + size < len(rows) else None
        return JSONResponse({"data": chunk, "meta": {"next_cursor": following, "total": len(rows)}})

    async def next_url(request: Request) -> Response:
        rows, after = _listed(state, request), _int(request, "after", 0)
        chunk = [row for row in rows if row["id"] > after][:10]
        more = chunk and any(row["id"] > chunk[-1]["id"] for row in rows)
        following = f"/api/next/contacts?after={chunk[-1]['id']}" if more else None
        return JSONResponse({"results": chunk, "links": {"next": following}})

    async def repeat_pages(request: Request) -> Response:
        return JSONResponse(state.contacts[:10])

    async def repeat_cursor(request: Request) -> Response:
        start = 10 if request.query_params.get("cursor") else 0
        return JSONResponse({"data": state.contacts[start : start + 10], "meta": {"next_cursor": "again"}})

    async def repeat_link(request: Request) -> Response:
        page = _int(request, "page", 1)
        chunk = state.contacts[(page - 1) * 10 : page * 10]
        return JSONResponse(chunk, headers={"Link": f'<{request.url.include_query_params(page=2)}>; rel="next"'})

    async def raw(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in state.raw:
            return JSONResponse({"error": "no such raw body"}, status_code=404)
        return Response(state.raw[name], headers={"Content-Type": state.raw_type, **state.raw_headers})

    async def endless(request: Request) -> Response:
        page = _int(request, "page", 1)
        return JSONResponse(
            [{"id": page}], headers={"Link": f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'}
        )

    async def auth_contacts(request: Request) -> Response:
        if not _authorized(state, request.path_params["kind"], request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse(state.contacts[:3])

    async def token(request: Request) -> Response:
        state.token_requests += 1
        form = parse_qs((await request.body()).decode())
        if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [CLIENT_SECRET]:
            return JSONResponse({"error": "invalid_client", "error_description": "unknown client"}, status_code=401)
        issued = f"tok-{state.token_requests}-{'x' * 12}"
        state.tokens[issued] = time.monotonic() + state.token_lifetime
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": state.token_lifetime})

    async def writable(request: Request) -> Response:
        if request.method == "POST":
            record = json.loads(await request.body())
            if "@" not in str(record.get("email", "")):
                return JSONResponse({"error": "email is not valid"}, status_code=400)
            number = next(state.ids)
            state.store[number] = {**record, "id": number}
            return JSONResponse({"data": state.store[number]}, status_code=201)
        email = request.query_params.get("email")
        rows = list(state.store.values())
        if email is not None and not state.ignore_filter:
            rows = [row for row in rows if str(row.get("email", "")).lower() == email.lower()]
        return JSONResponse({"data": rows})

    async def one(request: Request) -> Response:
        number = int(request.path_params["id"])
        if number not in state.store:
            return JSONResponse({"error": "not found"}, status_code=404)
        if request.method == "DELETE":
            del state.store[number]
            return Response(status_code=204)
        if request.method in ("PATCH", "PUT"):
            state.store[number] = {**state.store[number], **json.loads(await request.body()), "id": number}
        return JSONResponse({"data": state.store[number]})

    routes = [
        Route("/link/contacts", link),
        Route("/pages/contacts", pages),
        Route("/offsets/contacts", offsets),
        Route("/cursors/contacts", cursors),
        Route("/next/contacts", next_url),
        Route("/repeat/pages", repeat_pages),
        Route("/repeat/cursor", repeat_cursor),
        Route("/repeat/link", repeat_link),
        Route("/raw/{name}", raw),
        Route("/endless/contacts", endless),
        Route("/auth/{kind}/contacts", auth_contacts),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/w/contacts", writable, methods=["GET", "POST"]),
        Route("/w/contacts/{id}", one, methods=["GET", "PATCH", "PUT", "DELETE"]),
    ]
    return Starlette(routes=[Mount("/api", routes=routes)])


def _authorized(state: ApiState, kind: str, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if kind == "bearer":
        return header == f"Bearer {BEARER_TOKEN}"
    if kind == "basic":
        return header == "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    if kind == "header":
        return request.headers.get("x-api-key") == HEADER_KEY
    if kind == "query":
        return request.query_params.get("api_key") == QUERY_KEY
    if kind == "oauth":
        expires = state.tokens.get(header.removeprefix("Bearer "))
        return expires is not None and time.monotonic() < expires
    return False


class Recorder:
    """ASGI middleware: notes every request, counts those in flight, and plays scripted faults."""

    def __init__(self, app: Starlette, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived = time.monotonic()
        body = await _whole_body(receive)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        query = parse_qs(scope["query_string"].decode(), keep_blank_values=True)
        raw_path = scope.get("raw_path", b"").decode("latin-1")
        state.seen.append(Seen(arrived, scope["method"], scope["path"], query, headers, body, raw_path))
        state.in_flight += 1
        state.idle.clear()
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            if state.delay:
                await asyncio.sleep(state.delay)
            if scope["path"] == "/api/slow/contacts":
                await _trickle(state, receive, send)
            else:
                await self._answer(scope, _replay(body, receive), send)
        finally:
            state.in_flight -= 1
            if state.in_flight == 0:
                state.idle.set()

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.state.take_fault(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.after:
            await self.app(scope, receive, _discard)
        if fault.kind == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            await send({"type": "http.response.body", "body": b"[", "more_body": True})
            raise ConnectionAbortedError("the test server drops this connection on purpose")
        if fault.body is not None:
            await Response(fault.body, fault.status, headers=fault.headers, media_type="text/html")(
                scope, receive, send
            )
            return
        await JSONResponse({"error": "scripted"}, fault.status, headers=fault.headers)(scope, receive, send)


async def _whole_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """The body already read, once; then what the connection says (``http.disconnect`` when it closes)."""
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return await then()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _trickle(state: ApiState, receive: Receive, send: Send) -> None:
    """``state.raw["slow"]`` a byte at a time, each after ``state.trickle`` seconds; it stops as soon as
    the client hangs up (waiting for that is the pause between bytes)."""
    body = state.raw.get("slow", b"[]")
    headers = [(b"content-type", state.raw_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for index in range(len(body)):
        try:
            message = await asyncio.wait_for(receive(), state.trickle)
        except TimeoutError:
            message = {}
        if message.get("type") == "http.disconnect":
            return
        await send({"type": "http.response.body", "body": body[index : index + 1], "more_body": index < len(body) - 1})


async def _discard(message: Message) -> None:
    return None


class ApiServer:
    """The app under uvicorn in a daemon thread, on a socket bound before it starts (no wait for a port)."""

    def __init__(self) -> None:
        self.state = ApiState()
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it
        # every answer waits ~40 ms for a delayed ACK.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(128)
        port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api"
        config = uvicorn.Config(
            Recorder(build_app(self.state), self.state),
            lifespan="off",
            ws="none",
            http="h11",
            log_level="critical",
            access_log=False,
            date_header=False,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
        assert not self.thread.is_alive(), "the test API did not stop within 10 s"

    def fresh(self) -> ApiState:
        """The API's state, reset for a new test."""
        self.state.reset()
        return self.state


@contextmanager
def running_api() -> Iterator[ApiServer]:
    """A test API serving until the block ends (for a fixture of any scope)."""
    server = ApiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
