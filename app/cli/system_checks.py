"""``brygga check``: whether each system answers, before a sync first runs (see :mod:`app.engine.system_check`)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.app import EXIT_FAILED, EXIT_OK, ConfigOption, check_sync_names, cli, open_workspace, plural
from app.cli.event_loop import run_async
from app.cli.output import output
from app.config import Needs, Project
from app.engine import SystemCheck, check_state, check_systems, streams_used


@cli.command("check")
def check_command(
    systems: Annotated[
        list[str] | None, typer.Argument(help="Systems to check; default every system a sync uses.", show_default=False)
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Connect to each system the syncs use and look at their streams; reads and writes no record."""
    workspace = open_workspace(config, Needs.checking())
    project = workspace.project
    used = streams_used(project)
    names = systems or [name for name in project.systems if name in used]
    check_sync_names(names, [name for name in project.systems if name in used], noun="system used by a sync")
    checks = run_async(_checks(project, names, state=not systems))
    for found in checks:
        _show(found)
    failed = sum(found.error is not None for found in checks)
    systems_ready = plural(sum(found.error is None and not found.state for found in checks), "system")
    output.say(
        f"{systems_ready} ready, {failed} not" if failed else f"{systems_ready} ready",
        style="bold red" if failed else "bold green",
    )
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


async def _checks(project: Project, names: list[str], *, state: bool) -> list[SystemCheck]:
    """The systems' checks, then the state database's where every system is checked."""
    return [*await check_systems(project, names), *([await check_state(project)] if state else [])]


def _show(found: SystemCheck) -> None:
    if found.error is not None:
        output.say(f"FAIL {found.system} ({found.kind}): {found.error}", style="bold red", one_line=True)
        return
    if found.state:
        shown = "not made yet: the first run makes it" if found.unmade else "answers, with this Brygga's schema"
    else:
        shown = ", ".join(found.streams) or "no streams"
    output.say(f"ok   {found.system} ({found.kind}): {shown}", style="green", one_line=True)
