"""What web pages may not do: reach a loopback service under another name, or change anything across sites.

A service on 127.0.0.1 without ``api.tokens`` trusts whoever can reach it, and a
browser on the same machine can: a page elsewhere may POST to it (a "simple"
``text/plain`` request needs no CORS preflight), or rename itself to 127.0.0.1
through DNS (rebinding) and read the answers too. So:

- bound to a loopback address, only loopback names are answered in ``Host``
  (``127.0.0.1``, ``localhost``, ``[::1]``, with any port), and those of
  ``BRYGGA_ALLOWED_HOSTS`` (a reverse proxy's); others get 421;
- a state-changing request to ``/api/`` from a page of another origin (its
  ``Origin`` header, or ``Sec-Fetch-Site: cross-site``/``same-site``) gets 403.
  Programs (curl, scripts, webhook senders) send neither header and are unaffected;
  ``/health``, ``/ready`` and ``/metrics`` are read-only and stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.engine import is_loopback

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": "80", "https": "443"}


class CrossSiteGuard:
    """ASGI middleware: refuses foreign ``Host`` names on a loopback service (421) and cross-site changes (403).

    :param host: the address the service listens on
    :param allowed_hosts: more ``Host`` names to answer (``name`` or ``name:port``)
    """

    def __init__(self, app: ASGIApp, host: str, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.host = host
        self.check_host = is_loopback(host)
        self.allowed = {name.strip().lower().rstrip(".") for name in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(scope, Headers(scope=scope))
            if problem is not None:
                status, detail = problem
                await JSONResponse({"detail": detail}, status, headers={"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        host = headers.get("host")
        if self.check_host and host is not None and not self._answers_to(host):
            return 421, (
                f"Host {_shown(host)} is not this service's: it listens on {self.host}, and answers only to "
                "127.0.0.1, localhost and [::1] (a web page renaming itself to this address looks like this). "
                "Behind a reverse proxy, add the name it sends to BRYGGA_ALLOWED_HOSTS"
            )
        if scope["method"] in SAFE_METHODS or not scope["path"].startswith("/api/"):
            return None
        site = headers.get("sec-fetch-site", "").lower()
        origin = headers.get("origin")
        if site in ("cross-site", "same-site") or (origin is not None and not _same_origin(origin, host)):
            return 403, (
                f"a web page of another site ({_shown(origin or site)}) may not change anything here: "
                "call the API from a program (curl, a script), or from a page this service serves"
            )
        return None

    def _answers_to(self, host: str) -> bool:
        name = host.strip().lower()
        if name in self.allowed:
            return True
        hostname = _hostname(name)
        return hostname is not None and (is_loopback(hostname) or hostname in self.allowed)


def _hostname(host: str) -> str | None:
    """The name in a ``Host`` value (``name``, ``name:port``, ``[v6]:port``); ``None`` where there is none."""
    try:
        hostname = urlsplit(f"//{host}").hostname
    except ValueError:  # an unclosed [
        return None
    return hostname.rstrip(".") if hostname else None


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) names the request's own ``Host``. The scheme is not
    compared (behind a TLS proxy the service sees http where the page has https): a port left out is the
    default of the origin's scheme on both sides."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return False
    if host is None or parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    return _netloc(parts.hostname, port, parts.scheme) == _host_netloc(host, parts.scheme)


def _host_netloc(host: str, scheme: str) -> str | None:
    try:
        parts = urlsplit(f"//{host.strip().lower()}")
        port = parts.port
    except ValueError:
        return None
    return _netloc(parts.hostname or "", port, scheme) if parts.hostname else None


def _netloc(hostname: str, port: int | None, scheme: str) -> str:
    shown = str(port) if port is not None else DEFAULT_PORTS.get(scheme, "")
    return f"{hostname}:{shown}"


def _shown(value: str) -> str:
    """A client's header in an answer: quoted, and cut short (it could be anything, of any length)."""
    return repr(value[:100] + ("…" if len(value) > 100 else ""))
