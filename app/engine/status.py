"""Every sync as ops staff see it, straight from the state database: for ``brygga status``.

The status word comes from :func:`app.engine.views.view_of`, as the API's does, so the CLI and the API
tell the same story; the thresholds (``BRYGGA_FAILING_AFTER``, ``BRYGGA_STALLED_AFTER``) are read from
the environment as the service reads them.
"""

from __future__ import annotations

from app.engine.settings import ServiceSettings
from app.engine.views import Facts, SyncView, view_of
from app.engine.workspace import Workspace
from app.store import Store


async def read_status(workspace: Workspace, settings: ServiceSettings | None = None) -> list[SyncView]:
    """Every sync of the project, in its order, with its status word, last run and dead letters.

    There is no scheduler in this process, so ``next_run_at`` is None.

    :raises ValueError: for a ``BRYGGA_*`` threshold that does not parse
    """
    settings = ServiceSettings.from_environment() if settings is None else settings
    project = workspace.project
    store = await Store.open(project.settings.state, project.root)
    try:
        facts = await Facts.gather(store)
    finally:
        await store.close()
    return [view_of(sync, facts, settings, None) for sync in project.syncs.values()]
