"""What a run sees of the engine that runs it, the webhook receiver of the service that owns it, and a
webhook run of the one-way run it works for.

The engine (``runner.py``) makes runs (``one_way_run.py``, ``two_way.py``), the service
(``service.py``) makes its webhook receiver (``webhook_receiver.py``), and a one-way run hands itself
to :func:`app.engine.webhook_run.process_events`; each keeps a reference to the other. Typed with each
other's classes, the two modules would import each other. They are typed with these protocols
instead, so imports point one way: maker → made → ``hosts.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.config import Project, SyncConfig
    from app.engine.connections import Connections
    from app.engine.metrics import Metrics
    from app.engine.pipeline import CommitQueue
    from app.engine.planning import SyncParts
    from app.engine.retry import Sleep
    from app.engine.workspace import Workspace
    from app.store import BatchChanges, Store


class RunHost(Protocol):
    """The engine as a run sees it (:class:`app.engine.runner.Engine`)."""

    workspace: Workspace
    store: Store
    connections: Connections
    sleep: Sleep


class ReceiverHost(Protocol):
    """The service as its webhook receiver sees it (:class:`app.engine.service.Service`)."""

    metrics: Metrics

    @property
    def store(self) -> Store: ...

    @property
    def project(self) -> Project: ...

    @property
    def stopping(self) -> bool: ...

    def runs_here(self, name: str) -> bool:
        """Whether a run of ``name`` is under way in this process."""
        ...

    async def trigger(self, name: str, *, trigger: str = "manual", webhook: bool = False) -> int:
        """Start a run of sync ``name`` in the background; its run id."""
        ...


class EventsRun(Protocol):
    """A one-way run as the webhook run inside it sees it (:class:`app.engine.one_way_run.OneWayRun`)."""

    engine: RunHost
    sync: SyncConfig
    run_id: int
    store: Store
    parts: SyncParts
    commits: CommitQueue
    events_done: int

    async def _commit(self, changes: BatchChanges, number: int | None = None) -> None: ...

    async def _delete(self, gone: list[tuple[str, str]], changes: BatchChanges | None = None) -> None: ...

    async def _stop_if_asked(self) -> None: ...
