"""Headers every answer carries that the pages set for themselves already: the API's JSON and the API
documentation pages get them too.

- ``X-Content-Type-Options: nosniff``: an answer echoes input (a 404 naming the sync asked for); a browser
  must never take it for HTML.
- ``Cache-Control: no-store`` on the API: its answers hold records' data and errors, for no cache to keep.
- ``X-Frame-Options: DENY`` everywhere: no page of the service is for another site to frame.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
_API = ((b"cache-control", b"no-store"),)


class AnswerHeaders:
    """ASGI middleware: adds :data:`_ALWAYS` (and on ``/api/`` :data:`_API`) where an answer lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = _ALWAYS + _API if scope["path"].startswith("/api/") else _ALWAYS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
