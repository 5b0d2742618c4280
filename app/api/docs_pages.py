"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with their scripts, styles and icon from the service.

FastAPI's own pages load these from public CDNs (and ReDoc its fonts from
Google): offline, or on a network that blocks them, the pages are blank. The
files come from the ``fastapi-offline`` package instead, mounted at
:data:`ASSETS`, and the pages name only paths of the service itself. Their
:data:`POLICY` holds them to that: ReDoc's script still loads its makers' logo
from their host, and the policy refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
"""Where the pages' files are served: files of an installed package, the same for every service."""

SWAGGER_PARAMETERS = {"validatorUrl": None}
"""Swagger UI would send the description to validator.swagger.io for a badge: not from here."""

POLICY = (
    "default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""The pages' Content-Security-Policy: scripts of the service only, and each page's own inline script by its
hash (Swagger UI is started by one); styles inline too, as both set them from their scripts. A script
slipped into the description (a sync's name, say) would run nowhere, and nothing is sent to another host."""
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their files; ``app`` must be made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=_asset_folder()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _with_policy(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
                oauth2_redirect_url=None,
                swagger_ui_parameters=SWAGGER_PARAMETERS,
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _with_policy(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """``page`` with :data:`POLICY`, its inline scripts allowed by their SHA-256 hashes."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body).decode())
    ]
    page.headers["Content-Security-Policy"] = POLICY.format(scripts=" ".join(["'self'", *hashes]))
    return page


def _asset_folder() -> str:
    """The folder of Swagger UI's and ReDoc's files in the installed ``fastapi-offline`` package."""
    return str(Path(str(files("fastapi_offline") / "static")))


def _root(request: Request) -> str:
    """The path the service is mounted under behind a reverse proxy (``--root-path``); usually empty."""
    return str(request.scope.get("root_path", "")).rstrip("/")
