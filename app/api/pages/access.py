"""Who looks at a page, and whether they may act: the API's roles, through a session instead of a header.

A page request carries the session cookie; the session's token is checked
against the running config exactly as the API checks a bearer token
(:func:`app.api.auth.caller_of`), and actions need the same ``operator`` role
(:func:`app.api.auth.require_role`). An action must also come from a page of
this service: its form's CSRF token matches the session's, and its ``Origin``
(which browsers send with every form POST) is this service's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, HTTPException, Request, status

from app.api.auth import Caller, caller_of, require_role
from app.api.pages.sessions import Session, Sessions
from app.engine import Service

MAX_FORM_BYTES = 16 * 1024
"""The largest form an action or sign-in takes: a token, a CSRF token and a path."""


class SignInNeeded(Exception):
    """No valid session where tokens are configured: the page sends the browser to sign in."""


class NotAllowed(Exception):
    """An action refused (from another site, by a viewer, without the session's CSRF token, a form too large):
    answered with a page saying why."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


@dataclass(frozen=True)
class Visit:
    """A page request's caller and session."""

    caller: Caller
    session: Session
    signed_in: bool
    """Whether the session is a signed-in one (``False`` where no tokens are configured: nobody signs in)."""

    @property
    def operator(self) -> bool:
        return self.caller.role == "operator"


def sessions_of(request: Request) -> Sessions:
    found: Sessions = request.app.state.sessions
    return found


def service_of(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def needs_sign_in(request: Request) -> bool:
    return bool(service_of(request).project.settings.api.tokens)


def visit_of(request: Request) -> Visit:
    """The caller of a page request.

    :raises SignInNeeded: where tokens are configured and the session is missing, ended, or its token is no
        longer in the config
    """
    sessions = sessions_of(request)
    session = sessions.of(request)
    if not needs_sign_in(request):  # loopback only, every caller an operator (as the API); a session for CSRF
        if session is None or session.token is not None:
            session = sessions.start(None)
        return Visit(Caller("anonymous", "operator"), session, signed_in=False)
    if session is None or session.token is None:
        raise SignInNeeded
    caller = caller_of(service_of(request).project, session.token)
    if caller is None:
        sessions.end(session)
        raise SignInNeeded
    return Visit(caller, session, signed_in=True)


async def form_of(request: Request) -> dict[str, str]:
    """The urlencoded form a page posted (the last value of each field).

    :raises HTTPException: 413 for a form larger than :data:`MAX_FORM_BYTES`
    """
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            # 413 Content Too Large: Starlette's constant for it changed name between versions
            raise HTTPException(413, "the form is too large: a sign-in or an action posts a few hundred bytes")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def check_origin(request: Request) -> None:
    """:raises HTTPException: 403 unless the request comes from a page of this service (its ``Origin``, or
    where a browser sends none, its ``Sec-Fetch-Site``)"""
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    host = request.headers.get("host", "")
    if origin is not None:
        if origin == "null" or _netloc(origin) != host.lower():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this form was sent from a page of another site")
    elif site not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "send this form from the dashboard's own page")


def _netloc(origin: str) -> str | None:
    """The host and port an ``Origin`` names; ``None`` for one that is no URL (``http://[``): no page of ours."""
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:
        return None


@dataclass(frozen=True)
class Action:
    """An operator's action, checked: who acts, and the form they sent."""

    visit: Visit
    form: dict[str, str]


async def visitor(request: Request) -> Visit:
    """Every page's dependency: who asks (:func:`visit_of`). FastAPI reads a route's path and query after its
    dependencies, so a stranger is sent to sign in before a value of theirs is looked at, and learns nothing
    of a page's parameters. Judged once a request: the answer to a misfit asks again (``refusals``).

    :raises SignInNeeded: without a valid session
    """
    judged = getattr(request.state, "visit", None)
    if not isinstance(judged, Visit):
        judged = request.state.visit = visit_of(request)
    return judged


async def action_of(request: Request) -> Action:
    """Every action's dependency: its caller, checked as the API checks it (``operator``), and its form.

    Who acts is judged before what they sent: this service's page, a session, the role, and only then the
    form (its size, its CSRF token), and after all of them (FastAPI's order) the address's values. Judged
    once a request, as :func:`visitor`: the form can be read once.

    :raises SignInNeeded: without a valid session
    :raises NotAllowed: 403 from another site, for a viewer, or without the session's CSRF token; 413 for a
        form larger than :data:`MAX_FORM_BYTES`
    """
    judged = getattr(request.state, "action", None)
    if isinstance(judged, Action):
        return judged
    try:
        check_origin(request)
        visit = visit_of(request)
        require_role(visit.caller, "operator")
        form = await form_of(request)
    except HTTPException as exc:  # a viewer's too (require_role's Forbidden)
        raise NotAllowed(exc.status_code, str(exc.detail)) from exc
    if not visit.session.csrf_matches(form.get("csrf", "")):
        raise NotAllowed(
            status.HTTP_403_FORBIDDEN, "the form's CSRF token is missing or stale: reload the page and try again"
        )
    judged = request.state.action = Action(visit, form)
    return judged


Visitor = Annotated[Visit, Depends(visitor)]
"""A page's caller, judged before the page's values."""
Acting = Annotated[Action, Depends(action_of)]
"""An action's operator and form, judged before the action's values."""


def back_to(form: dict[str, str], default: str = "/") -> str:
    """Where an action sends the browser afterwards: the page it came from, a path of this service only."""
    target = form.get("back", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
