"""``brygga serve``: the HTTP API, webhooks and schedules, under uvicorn (SPEC 6, 7)."""

from __future__ import annotations

import logging
import socket
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from app.api.app import create_app
from app.api.redaction import watch_access_log
from app.api.request_limits import HEADER_BLOCK_BYTES
from app.api.slow_clients import ConnectionLimits, fit_open_files, protocol_for
from app.cli.app import ConfigOption, cli, open_workspace, project_file, service_settings
from app.cli.logs import configure_logging
from app.cli.output import output
from app.config import SecretValues
from app.engine import ServiceSettings, keep_large_blocks_apart, open_to_others, tune_garbage_collection
from app.errors import UsageError


@cli.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8000,
    config: ConfigOption = None,
) -> None:
    """Run the service: HTTP API, webhooks and schedules. SIGHUP reloads the config; SIGTERM stops cleanly."""
    workspace = open_workspace(config)
    if open_to_others(workspace.project, host) is not None:
        raise UsageError(
            f"refusing to listen on {host} without api.tokens in {workspace.project.file.name}: "
            "anyone who can reach it could run and change syncs. Add tokens, or listen on 127.0.0.1."
        )
    settings = service_settings(config=project_file(config), host=host, port=port)
    _check_listening(host, port)
    configure_logging(settings.log_level, settings.log_format)
    tune_garbage_collection()
    keep_large_blocks_apart()
    application = create_app(settings)
    watch_access_log(lambda: _running_secrets(application))
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,  # configure_logging's: uvicorn's lines go through the service's one handler
        log_level=settings.log_level,
        timeout_graceful_shutdown=1,  # API answers are quick; the runs get the shutdown grace
        lifespan="on",
        http=protocol_for(_connection_limits(settings)),
        # h11 refuses a header block over its limit (16 KiB) only when it arrives in pieces, with a close that
        # can reset the connection before the client reads the answer; up to this much, the request reaches
        # RequestLimits, which answers 431 saying what was too large (beyond it, app.api.malformed_requests)
        h11_max_incomplete_event_size=HEADER_BLOCK_BYTES,
    )


def _check_listening(host: str, port: int) -> None:
    """:raises UsageError: where the service could not listen (the port taken, a host that is no address of
    this machine): said once, before anything starts, not as uvicorn's log line and exit code 3."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise UsageError(
            f"cannot listen on {host}: {reason}: give --host as an address of this machine (::1 without brackets)"
        ) from None
    family, kind, protocol, _, address = found[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}: choose another --port, or stop what "
                "listens there (another brygga serve?)"
            ) from None


def _running_secrets(application: FastAPI) -> SecretValues:
    """The service's secret values (those of every config it has loaded), once it has started."""
    running = getattr(application.state, "service", None)
    return running.secrets if running is not None else output.secrets


def _connection_limits(settings: ServiceSettings) -> ConnectionLimits:
    """The limits on clients' connections, ``max_connections`` fitted to the open files this process may have."""
    fitting = fit_open_files(settings.max_connections)
    if fitting < settings.max_connections:
        logging.getLogger("brygga.api").warning(
            "the open-files limit (ulimit -n) leaves room for %d connections at once, not BRYGGA_MAX_CONNECTIONS=%d:"
            " raise the limit to serve more",
            fitting,
            settings.max_connections,
        )
    return ConnectionLimits(settings.header_timeout.total_seconds(), settings.body_timeout.total_seconds(), fitting)
