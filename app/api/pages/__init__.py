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
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.api.pages import acting, reading, signing
from app.api.pages.access import SignInNeeded
from app.api.pages.rendering import ASSETS
from app.api.pages.sessions import Sessions

__all__ = ["ASSETS", "install"]


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
