"""The Typer application and what every command shares: the config option, exit codes, opening a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from app.cli.output import output
from app.config import EVERYTHING, Needs, find_project_file
from app.engine.project import Workspace, open_project
from app.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

cli = typer.Typer(
    name="brygga",
    help="Keep business systems in sync: connectors, YAML field mappings, schedules with retries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="The project file. Default: $BRYGGA_CONFIG, else ./brygga.yaml.", show_default=False
    ),
]


def open_workspace(config: Path | None, needs: Needs = EVERYTHING) -> Workspace:
    """The project, validated and compiled; on config errors, print them all and exit 2.

    :param needs: what the command uses: an unset ``${VAR}`` elsewhere is no error (SPEC 6)
    """
    path = find_project_file(config)
    try:
        workspace = open_project(path, needs=needs)
    except ConfigError as exc:
        for issue in exc.issues:
            output.warn(str(issue))
        count = len(exc.issues)
        output.warn(f"{count} config error{'s' if count != 1 else ''}", style="bold red")
        raise typer.Exit(EXIT_CONFIG) from None
    output.secrets.update(workspace.project.secrets)
    return workspace


def usage_error(message: str) -> NoReturn:
    output.warn(f"error: {message}", style="red")
    raise typer.Exit(EXIT_CONFIG)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
