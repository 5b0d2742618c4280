"""Commands whose modules are imported only when the command is run (issue 18).

``brygga --help`` used to import FastAPI, uvicorn, the store and the engine: every command module was
imported to register itself. Here a command is listed by name, module and one line of help, and
:class:`LazyGroup` imports the module only when that command is asked for. The module registers its
commands on the root Typer app as usual (``@cli.command()``), at import time; the group then builds
the click command from the app again. The top-level help lists the lazy commands from their line of
help alone, without importing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

import typer.core
import typer.main
from typer import _click as click  # the click that Typer builds on (a copy of its own since 0.22)


@dataclass(frozen=True)
class LazyCommand:
    """A command's name, the module that defines it, and its line of help for ``brygga --help``."""

    name: str
    module: str
    help: str


_COMMANDS: dict[str, LazyCommand] = {}
"""Every lazy command, in the order ``brygga --help`` lists them."""


def lazy_command(name: str, module: str, help: str) -> None:
    """Register command ``name``, defined (with ``@cli.command()``) in ``module``, imported when it is run.

    ``help`` is what ``brygga --help`` shows: the first line of the command's docstring
    (``tests/cli/test_startup.py`` checks that they agree).
    """
    _COMMANDS[name] = LazyCommand(name, module, help)


def lazy_commands() -> dict[str, LazyCommand]:
    """Every lazy command by name."""
    return dict(_COMMANDS)


class LazyGroup(typer.core.TyperGroup):
    """A Typer group that imports a lazy command's module when the command is resolved, not before."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in _COMMANDS if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        known = super().get_command(ctx, cmd_name)
        lazy = _COMMANDS.get(cmd_name)
        if known is not None or lazy is None:
            return known
        if self._listing:  # the top-level help: one line of help, no import
            return typer.core.TyperCommand(lazy.name, help=lazy.help, short_help=lazy.help)
        command = _load(lazy)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _load(lazy: LazyCommand) -> click.Command:
    """Import the command's module (which registers it on the root Typer app) and build its click command."""
    from app.cli.app import cli  # noqa: PLC0415 - the root app, whose module imports this one

    import_module(lazy.module)  # with no garbage collection, as all of start-up (app.cli.start_up)
    group = typer.main.get_group(cli)
    command = group.commands.get(lazy.name)
    if command is None:
        raise RuntimeError(f"module {lazy.module} does not define the command '{lazy.name}' (@cli.command())")
    return command
