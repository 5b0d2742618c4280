"""The Typer application and what every command shares: the config option, exit codes, opening a project.

This module is imported for every command, ``brygga --help`` included, so it imports nothing heavy at
its top: the config loader and the engine are imported in :func:`open_workspace`, when a command opens
its project.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from app import __version__
from app.cli.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from app.cli.lazy import LazyGroup
from app.cli.output import output
from app.cli.start_up import start_up_ends
from app.errors import UsageError

if TYPE_CHECKING:
    from app.config import Needs
    from app.engine import ServiceSettings, Workspace

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "ConfigOption",
    "cli",
    "open_workspace",
    "plural",
    "project_file",
    "running_command",
    "service_settings",
    "usage_error",
]

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

    try:
        return find_project_file(config or _global_config())
    except FileNotFoundError:  # a relative path, from a working folder that was deleted or moved away
        usage_error(
            "the current folder no longer exists (deleted or moved while this shell was in it): "
            "cd into the project's folder again, or give the project file as a full path with -c"
        )


_before_command: dict[str, Path | None] = {"config": None}
"""``brygga -c FILE COMMAND``: the ``-c`` given before the command's name, set by :func:`_root` at each call."""


def _global_config() -> Path | None:
    return _before_command["config"]


def open_workspace(config: Path | None, needs: Needs | None = None) -> Workspace:
    """The project, validated and compiled.

    :raises ConfigError: with every config error (``main()`` prints them all and exits 2)

    :param needs: what the command uses: an unset ``${VAR}`` elsewhere is no error (SPEC 6); default everything
    """
    from app.config import EVERYTHING  # noqa: PLC0415 - the loader, only when a project is opened
    from app.engine import open_workspace  # noqa: PLC0415 - the engine, only when a project is opened

    workspace = open_workspace(project_file(config), needs=needs or EVERYTHING)
    output.secrets.update(workspace.project.secrets)
    start_up_ends()
    return workspace


def check_sync_names(names: Sequence[str], syncs: Collection[str], noun: str = "sync") -> None:
    """:raises UsageError: for the first of ``names`` that is no sync (or no ``noun``), with the closest one
    where there is one; a name of thousands of characters is shown cut (and compared with none: that alone
    takes seconds)."""
    for name in names:
        if name not in syncs:
            from app.config import closest  # noqa: PLC0415 - difflib, only for a name that is wrong

            shown = name if len(name) <= _SHOWN_NAME else name[: _SHOWN_NAME - 1] + "…"
            guess = closest(name, sorted(syncs)) if len(name) <= _SHOWN_NAME else None
            usage_error(f"no {noun} named '{shown}'" + (f" (did you mean '{guess}'?)" if guess else ""))


_SHOWN_NAME = 120
"""The most characters of a wrong sync name an error repeats."""


def usage_error(message: str) -> NoReturn:
    """:raises UsageError: always (``main()`` prints it and exits 2)"""
    raise UsageError(message)


def service_settings(**given: Any) -> ServiceSettings:
    """The service's settings from the ``BRYGGA_*`` environment and ``given``.

    :raises SettingsError: for a variable that does not parse (``main()`` prints it and exits 2)
    """
    from app.engine import ServiceSettings  # noqa: PLC0415 - the engine, only when a command needs it

    return ServiceSettings.from_environment(**given)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _version(value: bool) -> None:
    if value:
        output.say(f"brygga {__version__}")
        raise typer.Exit()


_running: dict[str, str | None] = {"command": None}
"""The command being run, set by :func:`_root`: ``main()`` maps an error by its type and this (SPEC 6)."""


def running_command() -> str | None:
    return _running["command"]


@cli.callback()
def _root(
    context: typer.Context,
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
    _running["command"] = context.invoked_subcommand
