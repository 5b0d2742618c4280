"""A request's path reaches the route it names, matched whole and as the client escaped it.

Routes are matched against the decoded path, and two of its characters made a path reach a route that it
does not name:

- a line end: route patterns end in ``$``, which also matches just before a path's last line end, so
  ``POST /api/v1/syncs/crm/pause%0A`` paused the sync crm, and ``GET /health%0A`` answered;
- a slash: ``%2F`` is decoded to ``/``, so ``/api/v1/syncs/crm%2Fpause`` paused crm too, though it names a
  sync ``crm/pause`` (a proxy in front, which reads path segments as the URL writes them, saw no pause).

So the path routes see keeps ``%0A`` and ``%2F`` escaped, and ``%`` itself as ``%25``, so that the text
``%2F`` and an escaped slash stay apart. Such a path names no route, sync, system or id (404); a record's
key, the one part of a path that may hold all three, is decoded by its own convertor (:mod:`app.api.key_paths`).
The layers outside this one see the path as the server gave it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

_ESCAPED_SLASH = re.compile("%2F", re.IGNORECASE)
_KEPT = re.compile("%2F|%25|%0A")
_MEANT = {"%2F": "/", "%25": "%", "%0A": "\n"}


def routed_path(raw_path: bytes | None, path: str) -> str:
    """The path to route on: decoded as the server decodes it (``path``), but for ``%2F``, ``%`` and line ends.

    Without the raw path (a server that gives none), or with bytes no server decodes, ``path``: its slashes
    are all slashes then.
    """
    if raw_path is None or not raw_path.isascii():
        return _kept_escaped(path)
    return "%2F".join(_kept_escaped(unquote(piece)) for piece in _ESCAPED_SLASH.split(raw_path.decode("ascii")))


def _kept_escaped(text: str) -> str:
    return text.replace("%", "%25").replace("\n", "%0A")


def decoded(text: str) -> str:
    """A part of a :func:`routed_path` as the client meant it: ``%2F`` a slash, ``%25`` a percent sign, ``%0A``
    a line end."""
    return _KEPT.sub(lambda found: _MEANT[found.group()], text)


class WholePaths:
    """Routes each request on its :func:`routed_path`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "path": routed_path(scope.get("raw_path"), scope["path"])}
        await self.app(scope, receive, send)
