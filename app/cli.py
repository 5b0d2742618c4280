"""The ``brygga`` command line (SPEC 6).

Exit codes: 0 all well, 1 a test or record failed, 2 a config or usage error.
Everything printed passes through the project's secret scrubber.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from app import __version__
from app.config import SecretValues, find_project_file
from app.config.kinds import installed_kinds
from app.config.schema import project_schema, sync_schema
from app.config.validation import closest
from app.engine.project import Workspace, open_project
from app.errors import ConfigError
from app.mapping.testing import run_tests

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


class Output:
    """Prints to stdout and stderr with every secret value scrubbed."""

    def __init__(self) -> None:
        self.secrets = SecretValues()
        self._out = Console(highlight=False, soft_wrap=True)
        self._err = Console(stderr=True, highlight=False, soft_wrap=True)

    def say(self, text: str, style: str | None = None) -> None:
        self._out.print(self.secrets.redact(text), style=style, markup=False)

    def warn(self, text: str, style: str | None = None) -> None:
        self._err.print(self.secrets.redact(text), style=style, markup=False)


output = Output()


def _open(config: Path | None) -> Workspace:
    path = find_project_file(config)
    try:
        workspace = open_project(path)
    except ConfigError as exc:
        for issue in exc.issues:
            output.warn(str(issue))
        count = len(exc.issues)
        output.warn(f"{count} config error{'s' if count != 1 else ''}", style="bold red")
        raise typer.Exit(EXIT_CONFIG) from None
    output.secrets.update(workspace.project.secrets)
    return workspace


def _usage_error(message: str) -> NoReturn:
    output.warn(f"error: {message}", style="red")
    raise typer.Exit(EXIT_CONFIG)


@cli.command()
def validate(config: ConfigOption = None) -> None:
    """Check the project file and every sync, connectors' options included, without connecting."""
    workspace = _open(config)
    project = workspace.project
    output.say(
        f"ok: {len(project.systems)} system{'s' if len(project.systems) != 1 else ''},"
        f" {len(project.syncs)} sync{'s' if len(project.syncs) != 1 else ''} ({Path(project.file).name})",
        style="green",
    )


@cli.command("test")
def test_command(
    syncs: Annotated[
        list[str] | None, typer.Argument(help="Syncs to test; default every sync.", show_default=False)
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the syncs' mapping tests; print each failure with expected and actual."""
    workspace = _open(config)
    names = syncs or list(workspace.project.syncs)
    for name in names:
        if name not in workspace.project.syncs:
            guess = closest(name, list(workspace.project.syncs))
            _usage_error(f"no sync named '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""))
    passed = failed = 0
    for name in names:
        results = run_tests(workspace.project.syncs[name], workspace.mappings[name])
        if not results:
            output.say(f"  -  {name}: no tests", style="dim")
        for result in results:
            if result.passed:
                passed += 1
                output.say(f"PASS {name} › {result.name}", style="green")
                continue
            failed += 1
            output.say(f"FAIL {name} › {result.name}", style="bold red")
            for line in result.failures:
                output.say(f"     {line}")
    output.say(f"{passed} passed, {failed} failed", style="bold red" if failed else "bold green")
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


class SchemaKind(StrEnum):
    project = "project"
    sync = "sync"


@cli.command()
def schema(
    kind: Annotated[
        SchemaKind, typer.Argument(help="project (brygga.yaml) or sync (a mappings/ file).")
    ] = SchemaKind.project,
) -> None:
    """Print the JSON Schema of brygga.yaml or of a sync file, for editor completion."""
    document = project_schema() if kind is SchemaKind.project else sync_schema()
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@cli.command("connectors")
def list_connectors() -> None:
    """List the installed connector kinds."""
    for kind in installed_kinds():
        output.say(kind)


def _version(value: bool) -> None:
    if value:
        output.say(f"brygga {__version__}")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Keep business systems in sync."""


def main() -> None:
    """The console-script entry point."""
    cli()
