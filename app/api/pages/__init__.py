"""The dashboard (SPEC 7.1): pages for ops staff, served by ``brygga serve`` itself at ``/``.

Server-side Jinja2 templates, one stylesheet and one small script shipped in
this package: no build step and no file from another host. Modules:
``sessions`` (who is signed in), ``access`` (roles, CSRF and origin checks),
``signing`` (sign in, sign out), ``reading`` (the pages), ``acting`` (what
operators do), ``refusals`` (sign in first, not allowed, not a page: the
caller judged before the values), ``chart`` (runs as SVG), ``rendering``
(templates, headers).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.pages import acting, reading, refusals, signing
from app.api.pages.rendering import ASSETS
from app.api.pages.sessions import Sessions

__all__ = ["ASSETS", "install"]


def install(app: FastAPI) -> None:
    """Serve the pages and their files on ``app``, after the API (its handler of misfits is kept for its own)."""
    app.state.sessions = Sessions()
    app.mount(ASSETS, StaticFiles(directory=str(Path(str(files("app.api.pages") / "static")))), name="ui-assets")
    modules = (signing, reading, acting)
    for module in modules:
        app.include_router(module.router)
    refusals.install(app, {route.endpoint for module in modules for route in module.router.routes})
