"""The service behind ``brygga serve``: schedules, runs in the background, status, alerts, reload.

The HTTP API calls this; it calls the engine. It keeps no state of its own
that another process could need: leases, pauses, failures, schedule slots
and announced statuses live in the state database, so several processes
sharing one (PostgreSQL) database behave as one service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from app.config import AnySync, Project, SecretValues, TwoWaySyncConfig
from app.engine.alerts import Alerts
from app.engine.connections import Connections
from app.engine.garbage_collection import collect_after_close
from app.engine.listening import open_to_others
from app.engine.loop_watch import LoopWatch
from app.engine.metrics import Metrics
from app.engine.order import followers
from app.engine.record_story import with_changes
from app.engine.runner import DeadLetterChoice, Engine, RunOptions, RunResult, SyncBusyError
from app.engine.scheduling import Schedules
from app.engine.settings import ServiceSettings
from app.engine.views import Facts, SyncView, status_of, view_of
from app.engine.webhook_receiver import WebhookReceiver
from app.engine.workspace import Workspace, open_workspace
from app.errors import BryggaError, ConfigError, NotFoundError
from app.store import DeadLetterInfo, LogRecord, RunInfo, Store, Story, SyncStateInfo

log = logging.getLogger("brygga.service")

ALERTS_GRACE = 2.0
"""Seconds a stopping service gives the alerts still waiting to be sent (an alert URL may never answer)."""

SHARE = 50
"""Scheduled syncs whose slots are claimed in one statement, at most: replicas firing the same syncs at
once each claim shares of their own, so their runs spread over both."""


@dataclass
class _Running:
    task: asyncio.Task[None]
    stop: asyncio.Event
    run_id: int


class Service:
    """Everything ``brygga serve`` does besides HTTP; start with :meth:`start`, end with :meth:`stop`."""

    def __init__(
        self,
        settings: ServiceSettings,
        environ: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        secrets: SecretValues | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets if secrets is not None else SecretValues()
        """Every secret value of every config this service has run: scrubbed from answers and logs."""
        self.environ = environ
        self.metrics = Metrics()
        self._client = client
        self._running: dict[str, _Running] = {}
        self._executions: dict[asyncio.Task[None], str] = {}
        """Every run task of this process with its sync's name, until its aftermath (which goes on after the
        run has ended) is done too."""
        self._run_engines: dict[str, Engine] = {}
        self._engines: list[Engine] = []
        self._reload_lock = asyncio.Lock()
        self._stopping = False
        self.loop_watch: LoopWatch | None = None
        """Once started: warns of code (a connector's ``time.sleep``) that holds the event loop, naming its sync."""

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Read the config, open the state database, start the schedules.

        :raises ConfigError: for a project with errors, or without ``api.tokens`` on a reachable address
        :raises StoreError: when the state database cannot be opened
        """
        self.workspace = open_workspace(self.settings.config, self.environ)
        project = self.workspace.project
        _log_warnings(project)
        exposed = open_to_others(project, self.settings.host)
        if exposed is not None:
            raise ConfigError([exposed])
        self.secrets.update(project.secrets)
        self.store = await Store.open(project.settings.state, project.root, self.secrets.redact)
        self.store.log_values = project.settings.record_log.values
        self.alerts = Alerts(self.store, self._client)
        self.engine = self._new_engine(self.workspace)
        self.schedules = Schedules(self._scheduled_many)
        self.schedules.plan(project.syncs)
        self.schedules.every("watch", self.settings.watch_every, self._watch)
        self.schedules.every("retention", self.settings.retention_every, self._purge_job)
        self.schedules.start()
        self.webhooks = WebhookReceiver(self, int(self.settings.max_webhook_bytes))
        await self.webhooks.catch_up()  # accepted before a restart, not yet processed
        await self._count_dead_letters()
        self.loop_watch = LoopWatch(asyncio.get_running_loop())
        self.loop_watch.start()
        log.info("serving %d syncs from %s", len(project.syncs), project.file)

    async def stop(self) -> None:
        """Stop the schedules; let running runs finish their batch (up to the grace time), then end them."""
        self._stopping = True
        await self.schedules.stop(self.settings.shutdown_grace)
        await self.webhooks.close()
        for run in self._running.values():
            run.stop.set()
        tasks = [task for task in self._executions if not task.done()]  # runs, and runs' aftermath
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace.total_seconds())
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._close_connectors_within(self.settings.shutdown_grace.total_seconds())
        await self.alerts.close(min(self.settings.shutdown_grace.total_seconds(), ALERTS_GRACE))
        await self.store.close()
        if self.loop_watch is not None:
            self.loop_watch.stop()

    async def _close_connectors_within(self, seconds: float) -> None:
        """Close every engine's connectors, giving up on those still closing after ``seconds``: a connector
        whose close hangs (its server gone quiet) holds a stopping service no longer than the grace time
        (its ``call_timeout`` is a backstop of an hour)."""
        closing = [asyncio.ensure_future(engine.connections.close()) for engine in self._engines]
        if not closing:
            return
        done, late = await asyncio.wait(closing, timeout=seconds)
        for task in late:
            task.cancel()
        if late:
            log.warning("stopping: a connector did not close within %g s (shutdown_grace); left open", seconds)
            await asyncio.wait(late, timeout=1)  # one that swallows its cancellation is not waited for
        for task in done:
            if task.exception() is not None:
                log.warning("stopping: closing a connector failed: %s", task.exception())

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def project(self) -> Project:
        return self.workspace.project

    async def reload(self) -> Workspace:
        """Read the config again; a valid one replaces the running one between runs.

        :raises ConfigError: with every problem; the running config stays. A config without ``api.tokens``
            is one, where the service listens on an address other machines can reach (as at start-up)
        """
        async with self._reload_lock:
            # In a worker thread: reading and compiling a large config takes seconds, and the event loop
            # answers /health, the API and webhooks meanwhile
            workspace = await asyncio.to_thread(open_workspace, self.settings.config, self.environ)
            if workspace.project.settings.state != self.project.settings.state:
                issue = workspace.project.origin.issue(("state",), "state: a new state database needs a restart")
                raise ConfigError([issue])
            exposed = open_to_others(workspace.project, self.settings.host)
            if exposed is not None:  # the rule start-up follows: a reload never opens a reachable service
                raise ConfigError([exposed])
            self.secrets.update(workspace.project.secrets)
            _log_warnings(workspace.project)
            self.store.log_values = workspace.project.settings.record_log.values
            self.workspace = workspace
            self.engine = self._new_engine(workspace)
            self.schedules.plan(workspace.project.syncs)
            await self._retire_engines()
            log.info("config reloaded: %d syncs", len(workspace.project.syncs))
            return workspace

    def _new_engine(self, workspace: Workspace) -> Engine:
        engine = Engine(workspace, self.store, Connections(workspace.project), lease_ttl=self.settings.lease_ttl)
        self._engines.append(engine)
        return engine

    async def _retire_engines(self) -> None:
        """Close the connectors of engines a reload replaced, once no run uses them."""
        in_use = {id(run_engine) for run_engine in self._run_engines.values()} | {id(self.engine)}
        retired = [engine for engine in self._engines if id(engine) not in in_use]
        for engine in retired:
            await engine.connections.close()
            self._engines.remove(engine)
        if retired:
            collect_after_close()

    # --- runs --------------------------------------------------------------------------

    def runs_here(self, name: str) -> bool:
        """Whether a run of ``name`` is under way in this process."""
        return name in self._running

    async def trigger(
        self,
        name: str,
        *,
        trigger: str = "manual",
        full: bool = False,
        dead_letters: DeadLetterChoice = "due",
        read_source: bool = True,
        webhook: bool = False,
    ) -> int:
        """Start a run of sync ``name`` in the background; its run id.

        :raises NotFoundError: for an unknown sync
        :raises SyncBusyError: when a run of it is going on already
        """
        self.sync(name)
        engine = self.engine
        options = RunOptions(
            full=full,
            trigger=trigger,
            stop=asyncio.Event(),
            dead_letters=() if webhook else dead_letters,
            read_source=read_source and not webhook,
            webhook=webhook,
        )
        run_id = await engine.begin(name, options)
        self._start(engine, run_id, name, options)
        return run_id

    def _start(self, engine: Engine, run_id: int, name: str, options: RunOptions) -> None:
        """Carry out a begun run in the background."""
        task = asyncio.ensure_future(self._execute(engine, run_id, name, options))
        self._executions[task] = name
        task.add_done_callback(self._forget_execution)
        assert options.stop is not None
        self._running[name] = _Running(task, options.stop, run_id)
        self._run_engines[name] = engine

    async def _execute(self, engine: Engine, run_id: int, name: str, options: RunOptions) -> None:
        try:
            result = await engine.execute(run_id, name, options)
        except Exception:
            log.exception("run %s of %s ended with an unexpected error", run_id, name)
            return
        finally:
            self._running.pop(name, None)
            self._run_engines.pop(name, None)
        try:
            await self._after_run(name, result)
        except BryggaError as exc:
            log.error("after run %s of %s: %s", run_id, name, exc)

    async def _after_run(self, name: str, result: RunResult) -> None:
        self.metrics.count_run(result.run)
        if result.events and name in self.project.syncs:
            system = self.project.syncs[name].source_system
            self.metrics.webhook_events.labels(system, "processed").inc(result.events)
        state = await self.engine.count_outcome(name, result.counts_as_failure, lambda: self.settings)
        if name in self.project.syncs:
            self.metrics.set_dead_letters({name: await self.store.dead_letter_count(name)}, [name])
            await self.alerts.status_is(self.project, name, await self._status_after_run(name, state), state)
        succeeded = result.run.status in ("succeeded", "partial")
        if succeeded:
            await self._run_after(name)
        if self.project.syncs.get(name) is not None and self.project.syncs[name].webhook and not self._stopping:
            await self.webhooks.after_run(name, succeeded)

    async def _run_after(self, name: str) -> None:
        """Start the syncs that run right after ``name`` (``after:``), unless paused or running."""
        if self._stopping:  # a run that ended while the service stops starts nothing new
            return
        for child in followers(self.project.syncs, name):
            if not (await self.store.states.get(child)).paused:
                with contextlib.suppress(SyncBusyError):
                    await self.trigger(child, trigger="schedule")

    async def _scheduled(self, name: str, slot: datetime) -> None:
        """A schedule fired: run, unless paused, backing off, or another process has this slot."""
        await self._scheduled_many({name: slot})

    async def _scheduled_many(self, due: dict[str, datetime]) -> None:
        """Schedules fired (sync → slot), all in the same moment: run each sync, unless paused, backing off,
        or another process has its slot.

        Their slots are claimed a share at a time, the shares in a random order (replicas firing the same
        syncs at once each get shares of their own), then the syncs claimed are begun together, and only
        then do their runs start: a run's own queries would otherwise queue before the next claims."""
        known = [name for name in due if name in self.project.syncs]
        shares = [known[start : start + SHARE] for start in range(0, len(known), SHARE)]
        random.shuffle(shares)
        claimed: set[str] = set()
        for share in shares:
            try:
                share_due = {name: due[name] for name in share}
                claimed |= await self.store.states.claim_due_many(share_due, datetime.now(UTC))
            except BryggaError as exc:
                log.error("syncs %s: scheduled runs did not start: %s", ", ".join(share), exc)
        if not claimed or self._stopping:
            return  # paused, backing off, another process has the slots, or the service is stopping
        names = [name for name in known if name in claimed]
        engine = self.engine
        try:
            begun = await engine.begin_many(names, "schedule")
        except BryggaError as exc:
            log.error("syncs %s: scheduled runs did not start: %s", ", ".join(names), exc)
            return
        for name in names:
            if name not in begun:
                log.info("sync %s: its schedule fired while it was still running; skipped", name)
                continue
            self._start(engine, begun[name], name, RunOptions(trigger="schedule", stop=asyncio.Event()))

    def _forget_execution(self, task: asyncio.Task[None]) -> None:
        self._executions.pop(task, None)

    async def wait_for(self, name: str) -> None:
        """Wait until this process's run of ``name`` (if any) has ended, and its aftermath is done."""
        for task in [task for task, sync in self._executions.items() if sync == name]:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    # --- housekeeping ----------------------------------------------------------------

    async def _watch(self) -> None:
        """Announce syncs whose run has stalled (and stalls that ended)."""
        try:
            held = await self.store.leases.held()
            for name in self.project.syncs:
                if name in held:
                    await self.alerts.status_is(self.project, name, await self._status(name))
            await self.webhooks.catch_up()
        except BryggaError as exc:
            log.error("watching runs: %s", exc)

    async def purge(self) -> tuple[int, int, int]:
        """Forget what is older than ``retention``; (runs, record-log entries, webhook events) forgotten.

        Webhook events follow ``retention.records``: an event's body is records' data, like the log's.
        """
        now = datetime.now(UTC)
        retention = self.project.settings.retention
        try:
            runs, records = await self.store.history.purge(now - retention.runs, now - retention.records)
            events = await self.store.inbox.purge(now - retention.records)
        except BryggaError as exc:
            log.error("retention purge failed: %s", exc)
            return 0, 0, 0
        if runs or records or events:
            log.info("retention: forgot %d runs, %d record-log entries and %d webhook events", runs, records, events)
        return runs, records, events

    async def _purge_job(self) -> None:
        await self.purge()

    async def _count_dead_letters(self) -> None:
        self.metrics.set_dead_letters(await self.store.dead_letter_counts(), list(self.project.syncs))

    async def ready(self) -> bool:
        """Whether the config is loaded and the state database answers."""
        try:
            await self.store.checkpoint("-")
        except BryggaError:
            return False
        return True

    # --- syncs ---------------------------------------------------------------------------

    def sync(self, name: str) -> AnySync:
        """:raises NotFoundError: for an unknown sync"""
        try:
            return self.project.syncs[name]
        except KeyError:
            raise NotFoundError(f"no sync named '{name}'") from None

    async def pause(self, name: str) -> SyncView:
        self.sync(name)
        await self.store.states.set_paused(name, True)
        return await self.view(name)

    async def resume(self, name: str) -> SyncView:
        sync = self.sync(name)
        await self.store.states.set_paused(name, False)
        if sync.webhook:
            self.webhooks.wake([name])  # events that waited while it was paused
        return await self.view(name)

    async def reset(self, name: str) -> SyncView:
        """Forget the stored cursor: the next run reads everything (the ID map stays)."""
        self.sync(name)
        await self.store.forget_checkpoint(name)
        return await self.view(name)

    async def views(self) -> list[SyncView]:
        facts = await Facts.gather(self.store)
        return [self._view(sync, facts) for sync in self.project.syncs.values()]

    async def view(self, name: str) -> SyncView:
        return self._view(self.sync(name), await Facts.of_one(self.store, name))

    async def _status(self, name: str) -> str:
        return (await self.view(name)).status

    async def _status_after_run(self, name: str, state: SyncStateInfo) -> str:
        """The sync's status (as :meth:`view` gives it) from its state as its run left it: only whether
        someone runs it now is read, and its newest run only then (to tell a stalled run)."""
        holder = await self.store.leases.holder(name)
        last = await self.store.last_run(name) if holder is not None else None
        return status_of(state.paused, state.failures, holder is not None, last, self.settings)

    def _view(self, sync: AnySync, facts: Facts) -> SyncView:
        return view_of(sync, facts, self.settings, self.schedules.next_run_at(sync.name))

    # --- history ------------------------------------------------------------------------

    async def runs(self, sync: str | None, status: str | None, before: int | None, limit: int) -> list[RunInfo]:
        """Runs, newest first, with ids below ``before``."""
        return await self.store.history.runs(sync, status, before, limit)

    async def run(self, run_id: int) -> RunInfo:
        """:raises NotFoundError: for an unknown run"""
        found = await self.store.run(run_id)
        if found is None:
            raise NotFoundError(f"no run with id {run_id}")
        return found

    async def run_log(self, run_id: int, after: int | None, limit: int, action: str | None = None) -> list[LogRecord]:
        """A run's record log, oldest first; only ``action``'s entries when given.

        :raises NotFoundError: for an unknown run
        """
        await self.run(run_id)
        return await self.store.history.log(run_id, after, limit, action)

    async def story(self, name: str, source_key: str) -> Story:
        """One source record's ID map entry and log entries.

        :raises NotFoundError: for an unknown sync, and for a key the sync never saw
        """
        self.sync(name)
        two_way = isinstance(self.sync(name), TwoWaySyncConfig)
        story = await self.store.history.story(name, source_key, two_way=two_way)
        if not story.seen:
            raise NotFoundError(
                f"sync '{name}' never saw a source record with key {source_key!r}: no ID map entry, log entry "
                "or dead letter has it (check the key as the source gives it; retention may have purged old entries)"
            )
        return with_changes(story)

    async def dead_letters(self, sync: str | None, after: int | None, limit: int) -> list[DeadLetterInfo]:
        return await self.store.history.dead_letters(sync, after, limit)

    # --- dead letters ----------------------------------------------------------------

    async def retry_dead_letter(self, letter_id: int) -> int:
        """Retry one dead letter now (fresh from the source where it can); the run's id.

        :raises NotFoundError: for an unknown dead letter
        :raises SyncBusyError: when its sync is running
        """
        letter = await self._dead_letter(letter_id)
        return await self.trigger(letter.sync, trigger="retry", dead_letters=(letter_id,), read_source=False)

    async def retry_dead_letters(self, name: str) -> int:
        """Retry every dead letter of sync ``name`` now; the run's id."""
        return await self.trigger(name, trigger="retry", dead_letters="all", read_source=False)

    async def discard_dead_letter(self, letter_id: int, by: str) -> None:
        """Delete a dead letter; logged in its record's story as skipped, with who discarded it."""
        if await self.store.history.discard(letter_id, f"dead letter discarded by {by}") is None:
            raise NotFoundError(f"no dead letter with id {letter_id}")
        await self._count_dead_letters()

    async def _dead_letter(self, letter_id: int) -> DeadLetterInfo:
        letter = await self.store.history.dead_letter(letter_id)
        if letter is None:
            raise NotFoundError(f"no dead letter with id {letter_id}")
        return letter


def _log_warnings(project: Project) -> None:
    """What ``brygga validate`` shows as warnings (a short token, a deprecated form), said once as the
    service takes the config: whoever reads the service's log sees them without running validate."""
    for warning in project.warnings:
        log.warning("%s", warning)
