"""Every sync's last run and dead-letter count, straight from the state database."""

from __future__ import annotations

from app.engine.project import Workspace
from app.store import RunInfo, Store


async def read_status(workspace: Workspace) -> tuple[dict[str, RunInfo], dict[str, int]]:
    """(last run by sync, dead letters by sync); syncs that never ran are absent."""
    project = workspace.project
    store = await Store.open(project.settings.state, project.root)
    try:
        return await store.last_runs(), await store.dead_letter_counts()
    finally:
        await store.close()
