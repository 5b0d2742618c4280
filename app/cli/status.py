"""``brygga status``: every sync's status word, last run and dead letters, from the state database."""

from __future__ import annotations

import asyncio

from app.cli.app import ConfigOption, cli, open_workspace, service_settings
from app.cli.output import output
from app.cli.tables import PlainTable
from app.config import Needs
from app.engine import read_status


@cli.command()
def status(config: ConfigOption = None) -> None:
    """Every sync's last run and dead-letter count, from the state database."""
    workspace = open_workspace(config, Needs.state_only())
    views = asyncio.run(read_status(workspace, service_settings()))
    table = PlainTable("sync", "status", "last run", "counts", "dead letters")
    table.columns[0].overflow = "fold"
    for view in views:
        run_info = view.last_run
        if run_info is None:
            table.add_row(view.name, view.status, "never", "", str(view.dead_letters))
            continue
        finished = f"{run_info.finished_at:%Y-%m-%d %H:%M}" if run_info.finished_at else "running"
        done = [f"{value} {key}" for key, value in run_info.counts.as_dict().items() if value]
        last = f"{run_info.status} ({finished})"
        table.add_row(view.name, view.status, last, ", ".join(done) or "nothing read", str(view.dead_letters))
    output.show(table)
