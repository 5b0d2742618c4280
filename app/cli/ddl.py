"""``brygga ddl SYNC``: the CREATE TABLE a sync's SQL target needs, printed for the admin to review and run.

The statement is the engine's (:mod:`app.engine.ddl`); Brygga never runs it: tables in business systems
are the admin's (SPEC 4).
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.app import ConfigOption, check_sync_names, cli, open_workspace
from app.cli.output import output
from app.config import Needs


@cli.command()
def ddl(
    sync: Annotated[str, typer.Argument(help="The sync whose SQL target table to describe.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Print a CREATE TABLE for a sync's SQL target, for you to review and run: Brygga never runs it."""
    from app.engine import create_table_statement  # noqa: PLC0415 (SQLAlchemy only here)

    project = open_workspace(config, Needs.running([sync])).project
    check_sync_names([sync], project.syncs)
    output.say(create_table_statement(project, sync))  # NoTableToDescribe is a UsageError: main() exits 2
