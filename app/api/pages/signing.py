"""Signing in with a token, and out: the only place a token enters the dashboard.

The token comes in a form POST's body (never a URL), is checked against the
running config like a bearer token, and is kept in the server's session; the
browser gets only a new session id. Where no tokens are configured there is
nothing to sign in to: the pages send the browser to the overview.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.api.auth import caller_of
from app.api.pages.access import check_origin, form_of, needs_sign_in, service_of, sessions_of
from app.api.pages.rendering import page
from app.api.pages.sessions import clear_cookie, set_cookie

router = APIRouter(include_in_schema=False)


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    if not needs_sign_in(request):
        return RedirectResponse("/", status_code=303)
    return page(request, "sign_in.html")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    if not needs_sign_in(request):
        return RedirectResponse("/", status_code=303)
    check_origin(request)
    token = (await form_of(request)).get("token", "").strip(" \t")  # as a bearer token's: not every Unicode space
    if not token or caller_of(service_of(request).project, token) is None:
        return page(request, "sign_in.html", 401, problem="That token is not one of this service's api.tokens.")
    sessions = sessions_of(request)
    old = sessions.of(request)
    if old is not None:
        sessions.end(old)
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, request, sessions.start(token))
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session (no CSRF token needed: signing someone out is all a forged one could do, and the
    origin check stops that too)."""
    check_origin(request)
    sessions = sessions_of(request)
    session = sessions.of(request)
    if session is not None:
        sessions.end(session)
    response = RedirectResponse("/sign-in" if needs_sign_in(request) else "/", status_code=303)
    clear_cookie(response)
    return response
