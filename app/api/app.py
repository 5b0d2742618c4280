"""The FastAPI application of ``brygga serve``: ``create_app(settings)``.

The service (schedules, runs, alerts) starts and stops with the app's
lifespan; SIGHUP reloads the config, as ``POST /api/v1/config/reload`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Mapping

import httpx
from fastapi import Depends, FastAPI

from app import __version__
from app.api import docs_pages, errors, pages, validation_answers
from app.api.answer_headers import AnswerHeaders
from app.api.cross_site import CrossSiteGuard
from app.api.head_requests import HeadAsGet
from app.api.query_values import check_query
from app.api.redaction import RedactSecrets
from app.api.request_limits import RequestLimits
from app.api.routes import dead_letters, runs, service, syncs, webhooks
from app.api.whole_paths import WholePaths
from app.config import RedactingFilter, SecretValues
from app.engine import Service, ServiceSettings
from app.errors import ConfigError

log = logging.getLogger("brygga.api")

DESCRIPTION = """Watch and steer Brygga's syncs: status, runs, the record log, dead letters.

Lists are pages: `{"items": [...], "next": CURSOR}`; pass `?cursor=CURSOR` for the next page,
and `?limit=` (default 50, at most 500). With `api.tokens` configured, every `/api` route needs
`Authorization: Bearer <token>`: a viewer token reads, an operator token also runs, pauses,
resumes, resets, retries and discards. Errors are `{"detail": "..."}`."""


def create_app(
    settings: ServiceSettings, environ: Mapping[str, str] | None = None, client: httpx.AsyncClient | None = None
) -> FastAPI:
    """The HTTP API, with the service it steers started in its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = Service(settings, environ, client)
        log_filter = RedactingFilter(running.secrets)  # the service's own set: starting and reloads fill it
        handlers = _log_handlers()
        for handler in handlers:
            handler.addFilter(log_filter)
        try:
            await running.start()
            app.state.service = running
            undo = _reload_on_sighup(running)
            try:
                yield
            finally:
                undo()
                await running.stop()
        finally:
            for handler in handlers:
                handler.removeFilter(log_filter)

    app = FastAPI(
        title="Brygga",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by docs_pages, with their files: FastAPI's own load them from CDNs
        redoc_url=None,
        dependencies=[Depends(check_query)],  # every route's query read one way, before the route reads it
    )
    # Webhook deliveries first: a request is matched against each route in turn, and they are the many
    for module in (webhooks, syncs, runs, dead_letters, service):
        app.include_router(module.router)
    errors.install(app)
    validation_answers.install(app)
    docs_pages.install(app)
    pages.install(app)  # the dashboard (SPEC 7.1), after the API: its routes are matched last
    unscrubbed = (docs_pages.ASSETS, pages.ASSETS)  # files of installed packages: no secret of ours is in them
    app.add_middleware(WholePaths)  # the innermost: the others see the path as the server gave it
    app.add_middleware(RedactSecrets, secrets=lambda: _secrets_of(app), unscrubbed=unscrubbed)
    app.add_middleware(CrossSiteGuard, host=settings.host, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(RequestLimits, body_timeout=settings.body_timeout.total_seconds())
    app.add_middleware(AnswerHeaders)
    app.add_middleware(HeadAsGet)  # the outermost: every layer sees the GET it stands for
    return app


def _secrets_of(app: FastAPI) -> SecretValues | None:
    """The running service's secret values; ``None`` before it has started."""
    running: Service | None = getattr(app.state, "service", None)
    return running.secrets if running is not None else None


def _log_handlers() -> list[logging.Filterer]:
    """Where log records pass: the root logger and its handlers, and uvicorn's handler of server errors
    (tracebacks of failed requests), which does not propagate to the root. The access log's handler is left
    alone: its formatter needs the record's arguments, and it only shows what clients sent."""
    root, server = logging.getLogger(), logging.getLogger("uvicorn")
    return [root, *root.handlers, *(handler for handler in server.handlers if handler not in root.handlers)]


def _reload_on_sighup(running: Service) -> Callable[[], None]:
    """Reload on SIGHUP, where this thread can take signals; the function that stops it."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        return lambda: None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(_reload(running)))

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo


async def _reload(running: Service) -> None:
    try:
        await running.reload()
    except ConfigError as exc:
        log.error("SIGHUP: the config has errors; the running one stays:\n%s", exc)
