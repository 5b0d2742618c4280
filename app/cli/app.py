"""The Typer application and what every command shares: the config option, exit codes, opening a project.

This module is imported for every command, ``brygga --help`` included, so it imports nothing heavy at
its top: the config loader and the engine are imported in :func:`open_workspace`, when a command opens
its project.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from app import __version__
from app.cli.lazy import LazyGroup
from app.cli.output import output

if TYPE_CHECKING:
    from app.config import Needs
    from app.engine import Workspace

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

cli = typer.Typer(
    name="brygga",
    cls=LazyGroup,
    help="Keep business systems in sync: connectors, YAML field mappings, schedules with retries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CONFIG_HELP = "The project file. Default: $BRYGGA_CONFIG, else ./brygga.yaml."

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help=CONFIG_HELP + " Also accepted before the command.", show_default=False),
]


def project_file(config: Path | None) -> Path:
    """The project file: the command's ``-c``, else the one given before the command, else the default."""
    from app.config import find_project_file  # noqa: PLC0415 - the loader, only when a project is opened

    return find_project_file(config or _global_config())


_before_command: dict[str, Path | None] = {"config": None}
"""``brygga -c FILE COMMAND``: the ``-c`` given before the command's name, set by :func:`_root` at each call."""


def _global_config() -> Path | None:
    return _before_command["config"]


def open_workspace(config: Path | None, needs: Needs | None = None) -> Workspace:
    """The project, validated and compiled; on config errors, print them all and exit 2.

    :param needs: what the command uses: an unset ``${VAR}`` elsewhere is no error (SPEC 6); default everything
    """
    from app.config import EVERYTHING  # noqa: PLC0415 - the loader, only when a project is opened
    from app.engine import open_workspace  # noqa: PLC0415 - the engine, only when a project is opened
    from app.errors import ConfigError  # noqa: PLC0415

    path = project_file(config)
    try:
        workspace = open_workspace(path, needs=needs or EVERYTHING)
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


def _version(value: bool) -> None:
    if value:
        output.say(f"brygga {__version__}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help=CONFIG_HELP + " A command's own -c wins over this one.", show_default=False
        ),
    ] = None,
) -> None:
    """Keep business systems in sync."""
    _before_command["config"] = config
