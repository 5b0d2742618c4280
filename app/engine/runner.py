"""The engine: runs a workspace's syncs, one run of a sync at a time across every process.

A run holds its sync's lease in the state database, renewed while it works;
the run itself (reading, writing, dead letters, mirror deletes) is
:class:`app.engine.one_way_run.OneWayRun`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from app.config import SyncConfig, TwoWaySyncConfig
from app.engine.connections import Connections
from app.engine.connector_calls import calling_sync
from app.engine.garbage_collection import collect_after_close, collect_after_runs, leaves_garbage
from app.engine.one_way_run import DeadLetterChoice, OneWayRun, Progress, RunOptions
from app.engine.pipeline import all_of
from app.engine.planning import SyncParts
from app.engine.retry import Sleep
from app.engine.run_log import log_finished
from app.engine.workspace import Workspace
from app.errors import BryggaError, ConflictError, RunStopped
from app.store import RunInfo, Store

if TYPE_CHECKING:
    from app.engine.settings import ServiceSettings
    from app.engine.two_way import TwoWayRun
    from app.store import SyncStateInfo

log = logging.getLogger("brygga.engine")

__all__ = ["DeadLetterChoice", "Engine", "Progress", "RunOptions", "RunResult", "RunStopped", "SyncBusyError"]


@dataclass(frozen=True)
class RunResult:
    """A finished run, and whether it counts as a failure of its sync (SPEC 8: failing)."""

    run: RunInfo
    events: int = 0
    """Webhook events the run processed."""
    stopped: bool = False
    """The run was asked to stop (the service shutting down, its lease lost): no failure of the sync."""

    @property
    def counts_as_failure(self) -> bool:
        """Whether the sync has failed once more (``failing`` after a few in a row, and backing off)."""
        return self.run.status == "failed" and not self.stopped


def holder_is_gone(holder: str) -> bool:
    """Whether a lease holder (``host:pid:token``) is a process of this machine that has ended."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SyncBusyError(ConflictError):
    """A run of this sync is going on already (here or in another process sharing the state database)."""

    def __init__(self, sync: str) -> None:
        self.sync = sync
        super().__init__(f"sync {sync} is running already: wait for that run to end")


def _two_way_run(engine: Engine, sync: TwoWaySyncConfig, run_id: int, options: RunOptions) -> TwoWayRun:
    """A two-way sync's run; its modules imported by the runs that need them only (start-up of one-way runs)."""
    from app.engine.two_way import TwoWayRun  # noqa: PLC0415

    return TwoWayRun(engine, sync, run_id, options)


class Engine:
    """Runs a workspace's syncs against its state database, one run of a sync at a time.

    :param holder: who this process is, in the leases it takes
    :param lease_ttl: how long a lease lasts without renewal (renewed every third of it)
    """

    def __init__(
        self,
        workspace: Workspace,
        store: Store,
        connections: Connections,
        sleep: Sleep = asyncio.sleep,
        *,
        holder: str | None = None,
        lease_ttl: timedelta = timedelta(seconds=60),
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.connections = connections
        self.sleep = sleep
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl = lease_ttl
        self._large_run_ended = False
        """A large run ended since the last collection: the next run begins with one (see collect_after_runs)."""

    async def run(self, name: str, options: RunOptions | None = None) -> RunInfo:
        """Run sync ``name`` now and return its finished run.

        The run is ``succeeded``, ``partial`` (some records failed: they are
        dead letters) or ``failed`` (it stopped: its error says why; what was
        committed stays, and the next run carries on from there).

        :raises SyncBusyError: when a run of the sync is going on already
        """
        options = options or RunOptions()
        run_id = await self.begin(name, options)
        return (await self.execute(run_id, name, options)).run

    async def count_outcome(self, name: str, failed: bool, settings: Callable[[], ServiceSettings]) -> SyncStateInfo:
        """Count a finished run of ``name`` towards its status (SPEC 8): ``failing`` and backing off after
        ``failing_after`` failed runs in a row, by the service or the CLI alike; a run that got through clears
        both. ``settings`` are asked for only when the run failed (``brygga run`` reads none otherwise). The
        sync's state after it."""
        if not failed:
            return await self.store.states.after_run(name, False, 0, timedelta(0), timedelta(0))
        s = settings()
        return await self.store.states.after_run(name, True, s.failing_after, s.backoff, s.max_backoff)

    async def begin(self, name: str, options: RunOptions) -> int:
        """Take the sync's lease and record a new run; the run's id.

        :raises SyncBusyError: when a run of the sync is going on already
        """
        begun = await self.begin_many([name], options.trigger)
        if name not in begun:
            raise SyncBusyError(name)
        return begun[name]

    async def begin_many(self, names: list[str], trigger: str) -> dict[str, int]:
        """:meth:`begin` for a batch of syncs (those a schedule fires in the same second): take their leases
        in one statement, record their runs in one transaction; each sync begun → its run's id.

        A sync left out is busy (a run of it is going on, here or in another process)."""
        if self._large_run_ended:  # here, not as that run ended: an engine closed next collects anyway
            self._large_run_ended = False
            collect_after_runs()
        taken = await self.store.leases.acquire_many(names, self.holder, self.lease_ttl)
        for name in names:
            if name not in taken and await self._take_over(name):
                taken.add(name)
        begun = [name for name in names if name in taken]
        if not begun:
            return {}
        try:
            started = await self.store.start_runs(begun, trigger, "abandoned: the process running it stopped")
        except BaseException:
            await self.store.leases.release_many(begun, self.holder)
            raise
        for name, count in started.abandoned.items():
            log.warning("sync %s: %d run(s) left running by a process that stopped are marked failed", name, count)
        return started.ids

    async def execute(self, run_id: int, name: str, options: RunOptions) -> RunResult:
        """Carry out run ``run_id`` (from :meth:`begin`), renewing the lease, and release it at the end."""
        sync = self.workspace.project.syncs[name]
        stop = options.stop = options.stop or asyncio.Event()
        heartbeat = asyncio.ensure_future(self._keep_lease(name, stop))
        calling = calling_sync.set(name)  # the loop watch names the sync whose connector holds the loop
        try:
            work: OneWayRun | TwoWayRun = (
                _two_way_run(self, sync, run_id, options)
                if isinstance(sync, TwoWaySyncConfig)
                else OneWayRun(self, sync, run_id, options)
            )
            counts = await work.execute()
        except RunStopped as exc:
            log.info("run %s of %s stopped: %s", run_id, name, exc)
            return RunResult(await self._finish(run_id, "failed", str(exc)), stopped=True)
        except BryggaError as exc:
            log.warning("run %s of %s failed: %s", run_id, name, exc)
            return RunResult(await self._finish(run_id, "failed", str(exc)))
        except Exception as exc:  # a defect, not the data's fault: the run fails visibly, the service goes on
            log.error("run %s of %s failed unexpectedly", run_id, name, exc_info=True)
            error = f"an unexpected error ({type(exc).__name__}: {exc}); the service log has its details"
            return RunResult(await self._finish(run_id, "failed", error))
        except BaseException as exc:
            await asyncio.shield(self._finish(run_id, "failed", f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            calling_sync.reset(calling)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await asyncio.shield(self.store.leases.release(name, self.holder))
        self._large_run_ended |= leaves_garbage(counts.read)
        status = "partial" if counts.failed else "succeeded"
        return RunResult(await self._finish(run_id, status), events=work.events_done)

    async def _finish(self, run_id: int, status: str, error: str | None = None) -> RunInfo:
        """Record run ``run_id`` as finished, and write its line to the log (one per run, for ops)."""
        finished = await self.store.finish_run(run_id, status, error)
        log_finished(finished)
        return finished

    async def _take_over(self, name: str) -> bool:
        """Take the lease of a process on this machine that no longer exists (killed, say) at once,
        rather than waiting for it to expire."""
        previous = await self.store.leases.holder(name)
        if previous is None or not holder_is_gone(previous):
            return False
        log.warning("sync %s: taking over from %s, which no longer runs", name, previous)
        return await self.store.leases.take_over(name, previous, self.holder, self.lease_ttl)

    async def _keep_lease(self, name: str, stop: asyncio.Event) -> None:
        """Renew the lease while the run goes on; if it was lost, stop the run."""
        while True:
            await asyncio.sleep(self.lease_ttl.total_seconds() / 3)
            try:
                kept = await self.store.leases.renew(name, self.holder, self.lease_ttl)
            except BryggaError as exc:
                log.warning("sync %s: could not renew its lease: %s", name, exc)
                continue
            if not kept:
                log.error("sync %s: its lease was taken over; stopping this run", name)
                stop.set()
                return

    async def failures(self, run_id: int, most: int) -> list[tuple[str, str]]:
        """(source key, error) of the first ``most`` records that failed in run ``run_id``: only those are
        read (all of a run's entries, read to find them, held a 100,000-record run's log in memory)."""
        entries = await self.store.history.log(run_id, None, most, action="failed")
        return [(entry.source_key, entry.error or "") for entry in entries]

    async def parts(self, sync: SyncConfig) -> SyncParts:
        source = await self.connections.get(sync.source_system)
        target = await self.connections.get(sync.target_system)
        return SyncParts(sync, self.workspace.mappings[sync.name], self.store, source, target)


@asynccontextmanager
async def open_engine(
    workspace: Workspace, sleep: Sleep = asyncio.sleep, *, to_read: bool = False, last: bool = False
) -> AsyncIterator[Engine]:
    """An engine on the project's state database; connectors open as syncs need them and close at the end.

    :param to_read: open the state database only to read it (``preview``): it is neither created nor
        upgraded, and the engine cannot run a sync (its first write fails)
    :param last: the process ends once this engine is closed (``brygga run``): what the connectors leave
        is not collected (see :func:`collect_after_close`), for no later run would be slowed by it, and a
        full collection over what the run imported cost a run with little to do ~15–20 ms of CPU
    :raises StoreError: when the state database cannot be opened
    """
    project = workspace.project
    open_store = Store.open_to_read if to_read else Store.open
    store = await open_store(project.settings.state, project.root, project.secrets.redact)
    store.log_values = project.settings.record_log.values
    connections = Connections(project)
    try:
        yield Engine(workspace, store, connections, sleep)
    finally:
        try:
            await all_of(connections.close(), store.close())  # each waits for its server to hang up
        finally:
            if not last:
                collect_after_close()
