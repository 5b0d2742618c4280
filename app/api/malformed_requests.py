"""Bytes that are no HTTP/1.1 request are answered as every other error is: ``{"detail": "..."}``.

uvicorn's h11 protocol answers a request it cannot parse (a request line that is not HTTP, a malformed
header, no ``Host``) itself, before any application sees it: a plain-text 400 "Invalid HTTP request
received.", the same whatever was wrong, h11's reason dropped. The protocol here keeps the reason h11
raised (:class:`RefusalKeepingConnection`) and answers with it in SPEC 7's shape, at the status h11 gives
it (400; 431 for a head past its limit; 501 for a transfer coding it does not take), and closes the
connection, as uvicorn does.
"""

from __future__ import annotations

import http
import json
import re
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

ADVICE = {
    "illegal request line": "send a request line such as GET /health HTTP/1.1",
    "illegal header line": "send each header as Name: value, the name without spaces, the value without control"
    " characters",
    "Missing mandatory Host: header": "send a Host header",
    "Receive buffer too long": "send a shorter request head",
}
"""What to do, by h11's reason."""
_QUOTED_BYTES = re.compile(r":\s*bytearray\(.*", re.DOTALL)
"""The bytes h11 quotes after its reason: the client's own, not said back."""


class RefusalKeepingConnection(h11.Connection):
    """An h11 connection that keeps the last error the client's bytes raised (uvicorn's protocol drops it)."""

    refused: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused = exc
            raise


class JsonAnswersH11Protocol(H11Protocol):
    """uvicorn's h11 protocol answering what it refuses itself in JSON, saying what was wrong."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        sized = {"max_incomplete_event_size": limit} if limit is not None else {}
        self.conn = RefusalKeepingConnection(h11.SERVER, **sized)

    def send_400_response(self, msg: str) -> None:
        """A request h11 could not parse (``msg`` is uvicorn's words for it): its reason, in JSON, then close."""
        refused = self.conn.refused if isinstance(self.conn, RefusalKeepingConnection) else None
        status = refused.error_status_hint if refused is not None else 400
        self._answer(status, refusal_detail(refused))
        self.transport.close()

    def _answer(self, status: int, detail: str) -> None:
        """Write a whole answer past h11 (which has no response to send while a request is half in, or after one
        it could not read): the connection closes right after, so its state does not matter any more."""
        body = json.dumps({"detail": detail}).encode()
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)


def refusal_detail(refused: h11.RemoteProtocolError | None) -> str:
    """``not a valid HTTP/1.1 request (illegal header line): send each header as …``."""
    reason = _QUOTED_BYTES.sub("", str(refused)) if refused is not None else ""
    advice = ADVICE.get(reason, "send a valid HTTP/1.1 request")
    return f"not a valid HTTP/1.1 request ({reason}): {advice}" if reason else f"not a valid HTTP/1.1 request: {advice}"
