"""Dashboard sessions: a random id in an HttpOnly, SameSite=Strict cookie, everything else kept here.

The token a person signed in with stays in this process's memory, never in the
browser (a cookie the browser keeps is only the session id) and never in a URL.
Each request asks the running config who the token is (:func:`app.api.auth.caller_of`),
so a token removed or demoted by a reload takes effect on the next page. Each
session has its own CSRF token, put in every form and checked on every action.
A restart ends every session: signing in again is the price of keeping no
secret on disk.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "brygga_session"
IDLE_LIMIT = 8 * 3600.0
"""Seconds a session lasts without a request: a working day, then sign in again."""
MAX_SESSIONS = 10_000
"""Sessions kept at once; beyond that the longest idle is ended (sign-ins cannot fill the memory)."""


@dataclass
class Session:
    """One browser's visit: the token it signed in with (``None`` where no tokens are configured)."""

    id: str
    token: str | None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = field(default_factory=time.monotonic)
    notice: str | None = None
    """A message for the next page (what an action did), shown once."""

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        return notice

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), given.encode())


class Sessions:
    """The sessions of this process, by id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def of(self, request: Request) -> Session | None:
        """The live session whose id the request's cookie carries; ``None`` for none or an ended one."""
        given = request.cookies.get(COOKIE)
        session = self._by_id.get(given) if given else None
        if session is None:
            return None
        now = time.monotonic()
        if now - session.seen > IDLE_LIMIT:
            del self._by_id[session.id]
            return None
        session.seen = now
        return session

    def start(self, token: str | None) -> Session:
        """A new session (with a fresh id: one known before signing in is never promoted)."""
        if len(self._by_id) >= MAX_SESSIONS:
            oldest = min(self._by_id.values(), key=lambda session: session.seen)
            del self._by_id[oldest.id]
        session = Session(secrets.token_urlsafe(32), token)
        self._by_id[session.id] = session
        return session

    def end(self, session: Session) -> None:
        self._by_id.pop(session.id, None)


def set_cookie(response: Response, request: Request, session: Session) -> None:
    """Hand the session's id to the browser: HttpOnly (no script reads it), SameSite=Strict (no other site's
    page sends it), Secure where the page came over HTTPS."""
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=_over_https(request),
        path="/",
    )


def _over_https(request: Request) -> bool:
    """Whether the browser's page came over HTTPS: here, or (behind a proxy that ends TLS, which uvicorn
    trusts only from 127.0.0.1) as the proxy's ``X-Forwarded-Proto`` or ``Forwarded`` says. Believing a
    client that claims it costs nothing: Secure only keeps the cookie off plain HTTP, for that client."""
    if request.url.scheme == "https":
        return True
    forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded = request.headers.get("forwarded", "").split(",")[0].lower().replace(" ", "")
    return forwarded_proto == "https" or "proto=https" in forwarded.split(";")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
