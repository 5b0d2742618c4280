"""``brygga serve``: the HTTP API, webhooks and schedules, under uvicorn (SPEC 6, 7)."""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from app.api.app import create_app
from app.api.redaction import watch_access_log
from app.cli.app import EXIT_CONFIG, ConfigOption, cli, open_workspace
from app.cli.output import output
from app.config import SecretValues, find_project_file
from app.engine.process import tune_garbage_collection
from app.engine.settings import ServiceSettings

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8000,
    config: ConfigOption = None,
) -> None:
    """Run the service: HTTP API, webhooks and schedules. SIGHUP reloads the config; SIGTERM stops cleanly."""
    workspace = open_workspace(config)
    if not is_loopback(host) and not workspace.project.settings.api.tokens:
        output.warn(
            f"error: refusing to listen on {host} without api.tokens in {workspace.project.file.name}: "
            "anyone who can reach it could run and change syncs. Add tokens, or listen on 127.0.0.1.",
            style="red",
        )
        raise typer.Exit(EXIT_CONFIG)
    try:
        settings = ServiceSettings.from_environment(config=find_project_file(config), host=host, port=port)
    except ValueError as exc:
        output.warn(f"error: {exc}", style="red")
        raise typer.Exit(EXIT_CONFIG) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tune_garbage_collection()
    application = create_app(settings)
    watch_access_log(lambda: _running_secrets(application))
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=1,  # API answers are quick; the runs get the shutdown grace
        lifespan="on",
    )


def _running_secrets(application: FastAPI) -> SecretValues:
    """The service's secret values (those of every config it has loaded), once it has started."""
    running = getattr(application.state, "service", None)
    return running.secrets if running is not None else output.secrets
