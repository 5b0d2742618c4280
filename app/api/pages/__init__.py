"""The dashboard (SPEC 7.1): pages for ops staff, served by ``brygga serve`` itself at ``/``.

Server-side Jinja2 templates, one stylesheet and one small script shipped in
this package: no build step and no file from another host. Modules:
``sessions`` (who is signed in), ``access`` (roles, CSRF and origin checks),
``signing`` (sign in, sign out), ``reading`` (the pages), ``acting`` (what
operators do), ``chart`` (runs as SVG), ``rendering`` (templates, headers).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.api import validation_answers
from app.api.pages import acting, reading, signing
from app.api.pages.access import SignInNeeded
from app.api.pages.rendering import ASSETS, page
from app.api.pages.sessions import Sessions

__all__ = ["ASSETS", "install"]

SHOWN_PATH = 200
"""Characters of an address a page that fits no address shows: all 100 KB of one came back in it."""


def install(app: FastAPI) -> None:
    """Serve the pages and their files on ``app``."""
    app.state.sessions = Sessions()
    app.mount(ASSETS, StaticFiles(directory=str(Path(str(files("app.api.pages") / "static")))), name="ui-assets")
    for module in (signing, reading, acting):
        app.include_router(module.router)

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/ui/"):  # the overview's refresh: its script goes to sign in
            return Response(status_code=401)
        return RedirectResponse("/sign-in", status_code=303)

    app.add_exception_handler(SignInNeeded, sign_in_first)
    _answer_misfits_with_a_page(app)


def _answer_misfits_with_a_page(app: FastAPI) -> None:
    """A page address that fits no page (``/runs/abc``, ``?before=-1``) is answered with a page saying so, as
    an unknown run is; the API's JSON answer stays the API's. The API's handler must be installed first."""
    ours = {route.endpoint for module in (signing, reading, acting) for route in module.router.routes}
    api_answer = app.exception_handlers[RequestValidationError]

    async def answer(request: Request, exc: Exception) -> Response:
        if request.scope.get("endpoint") not in ours:
            answered = api_answer(request, exc)
            return answered if isinstance(answered, Response) else await answered
        assert isinstance(exc, RequestValidationError)
        in_path = any(problem.get("loc", ("",))[0] == "path" for problem in exc.errors())
        status, title = (404, "Not found") if in_path else (400, "Not a page")
        path = request.url.path  # the client's: cut short, as a name in it would be
        shown = path if len(path) <= SHOWN_PATH else f"{path[:SHOWN_PATH]}…"
        detail = f"{shown} shows nothing for this address ({validation_answers.summary(exc.errors())})."
        return page(request, "problem.html", status, title=title, detail=detail)

    app.add_exception_handler(RequestValidationError, answer)
