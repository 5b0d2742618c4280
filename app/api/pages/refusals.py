"""What a dashboard address answers instead of its page: sign in first, not allowed, or not a page.

The caller is judged before the values: a visitor who is not signed in is sent
to sign in, and a viewer's or a forged action is refused, whatever the address's
query, path or form holds, as the API answers 401 and 403 before 422
(:func:`app.api.query_values.check_query`). Only a caller who may ask is told
what is wrong with a value, on a page in the dashboard's look.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from app.api import validation_answers
from app.api.pages.access import NotAllowed, SignInNeeded, Visit, action_of, visitor
from app.api.pages.rendering import page

SHOWN_PATH = 200
"""Characters of an address a page that fits no address shows: all 100 KB of one came back in it."""


def install(app: FastAPI, endpoints: set[object]) -> None:
    """Answer refusals on the dashboard's ``endpoints``, and their misfits with a page (the API's handler of
    misfits must be installed first: the API's addresses keep its JSON answer)."""
    api_answer = app.exception_handlers[RequestValidationError]

    async def refuse(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded | NotAllowed)
        return not_allowed(request, exc) if isinstance(exc, NotAllowed) else sign_in_first(request)

    async def answer(request: Request, exc: Exception) -> Response:
        if request.scope.get("endpoint") not in endpoints:
            answered = api_answer(request, exc)
            return answered if isinstance(answered, Response) else await answered
        assert isinstance(exc, RequestValidationError)
        try:
            visit = await _judged(request)
        except SignInNeeded:
            return sign_in_first(request)
        except NotAllowed as refusal:
            return not_allowed(request, refusal)
        return _misfit(request, exc, visit)

    app.add_exception_handler(SignInNeeded, refuse)
    app.add_exception_handler(NotAllowed, refuse)
    app.add_exception_handler(RequestValidationError, answer)


def sign_in_first(request: Request) -> Response:
    """The browser goes to sign in; the overview's refresh (``/ui/``) is told 401, and its script goes there."""
    if request.url.path.startswith("/ui/"):
        return Response(status_code=401)
    return RedirectResponse("/sign-in", status_code=303)


def not_allowed(request: Request, refusal: NotAllowed) -> Response:
    """A page saying why the action was refused: the person who sent the form reads it."""
    return page(request, "problem.html", refusal.status_code, title="Not allowed", detail=refusal.detail)


async def _judged(request: Request) -> Visit | None:
    """The caller of the route asked, judged by the route's own dependency where the app-wide query check
    found a problem before it ran; ``None`` for a route that judges no caller (signing in)."""
    route = request.scope.get("route")
    calls: set[object] = {sub.call for sub in route.dependant.dependencies} if isinstance(route, APIRoute) else set()
    if action_of in calls:
        return (await action_of(request)).visit
    if visitor in calls:
        return await visitor(request)
    return None


def _misfit(request: Request, exc: RequestValidationError, visit: Visit | None) -> Response:
    """A page saying this address shows nothing (``/runs/abc``: 404) or is no page (``?before=-1``: 400)."""
    in_path = any(problem.get("loc", ("",))[0] == "path" for problem in exc.errors())
    status, title = (404, "Not found") if in_path else (400, "Not a page")
    path = request.url.path  # the client's: cut short, as a name in it would be
    shown = path if len(path) <= SHOWN_PATH else f"{path[:SHOWN_PATH]}…"
    detail = f"{shown} shows nothing for this address ({validation_answers.summary(exc.errors())})."
    context = {"visit": visit} if visit is not None else {}
    return page(request, "problem.html", status, title=title, detail=detail, **context)
