"""Commands that check a project without touching any system: validate, test."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.app import EXIT_FAILED, EXIT_OK, ConfigOption, check_sync_names, cli, open_workspace, plural
from app.cli.output import output
from app.config import DIRECTIONS, Needs, TwoWaySyncConfig
from app.engine import Workspace
from app.mapping import CaseResult, run_tests


@cli.command()
def validate(config: ConfigOption = None) -> None:
    """Check the project file and every sync, connectors' options included, without connecting."""
    workspace = open_workspace(config)
    project = workspace.project
    for warning in project.warnings:
        output.warn(str(warning), style="yellow")
    output.say(
        f"ok: {plural(len(project.systems), 'system')}, {plural(len(project.syncs), 'sync')} ({project.file.name})",
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
    workspace = open_workspace(config, Needs.testing(syncs or None))
    names = syncs or list(workspace.project.syncs)
    check_sync_names(names, workspace.project.syncs)
    passed = failed = 0
    for name in names:
        results = _results(workspace, name)
        if not results:
            output.say(f"  -  {name}: no tests", style="dim", one_line=True)
        for result in results:
            # one line each, whatever a test's or field's name holds: "x\nPASS y" printed a PASS of its own
            if result.passed:
                passed += 1
                output.say(f"PASS {name} › {result.name}", style="green", one_line=True)
                continue
            failed += 1
            output.say(f"FAIL {name} › {result.name}", style="bold red", one_line=True)
            for line in result.failures:
                output.say(f"     {line}", one_line=True)
    output.say(f"{passed} passed, {failed} failed", style="bold red" if failed else "bold green")
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


def _results(workspace: Workspace, name: str) -> list[CaseResult]:
    """The sync's test results; a two-way sync's tests each run the direction they name."""
    sync = workspace.project.syncs[name]
    if not isinstance(sync, TwoWaySyncConfig):
        return run_tests(sync, workspace.mappings[name])
    compiled = workspace.directions[name]
    return [result for direction in DIRECTIONS for result in run_tests(sync.direction(direction), compiled[direction])]
