"""One run of a sync: read → map → compare → write → log, batch by batch (SPEC 3, 8).

Dead letters are retried first (so a stale kept copy never overwrites a newer
record read later in the run), then the source is read from its stored
checkpoint; each batch's changes and its checkpoint are committed together
after the batch is written. ``mirror`` runs end by deleting the target
records whose source records are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from app.config import SyncConfig
from app.engine.by_key import records_by_key
from app.engine.connector_calls import prepare_stream, read_batches, scan_keys, write_batch
from app.engine.first_load import FirstLoad
from app.engine.pipeline import CommitQueue, ReadAhead, RecordsInFlight, WaitForBefore, all_of
from app.engine.planning import LET_GO, Action, Planned, SyncParts, keyless_key, plan_batch
from app.engine.read_twice import ReadTwice
from app.engine.retry import pause, with_retries, worth_retrying
from app.engine.run_letters import BatchLetters, RunLetters
from app.engine.writing import write_plan
from app.errors import ConnectorError, EarlierWriteFailed, RunStopped, StoreError, TransientError
from app.record_checks import UnfitKey
from app.records import Record
from app.store import BatchChanges, Checkpoint, Counts, IdMapping, LogEntry
from connectors.base import Batch, Connector, Originals, Write, WriteAction, retrying_as

if TYPE_CHECKING:
    from app.engine.hosts import RunHost

log = logging.getLogger("brygga.engine")

Progress = Callable[[Counts], None]

RECORDS_IN_FLIGHT = 10_000
"""Source records a run holds at most, read and not yet committed (see :class:`RecordsInFlight`): two
batches of 5,000, five of the default 1,000. Each takes ~2.5 KB here (the record read, its mapped copy,
then its state rows): ~25 MB, where a fixed two stages ahead of two writes held ~100 MB at batches of
5,000. Counted until committed, not written: a state database slower than the rest let written batches
wait for it while the source read on (three batches' state rows and two read ahead: ~10 MB more)."""

_CLAIMING = (Action.CREATE, Action.UPDATE)
WAITING_NOTED = 1000
"""Pending webhook events that a failed webhook run marks with its error, at most (the oldest first)."""
"""Actions of a record new to the ID map that write its target key (a skip or failure takes none)."""


DeadLetterChoice = Literal["due", "all"] | tuple[int, ...]


@dataclass
class RunOptions:
    """How one run goes.

    :param full: ignore the stored cursor and read everything
    :param trigger: what started it: ``manual``, ``schedule``, ``webhook`` or ``retry``
    :param progress: told the counts after every batch
    :param stop: when set, the run stops after the batch it is writing (shutdown, a lost lease)
    :param dead_letters: which dead letters to try again: those ``due`` (by ``retry.later_runs``),
        ``all`` of the sync's, or these ids
    :param read_source: read the source after the dead letters (a retry run only retries)
    """

    full: bool = False
    trigger: str = "manual"
    progress: Progress | None = None
    stop: asyncio.Event | None = None
    dead_letters: DeadLetterChoice = "due"
    read_source: bool = True
    webhook: bool = False
    """Process the sync's pending webhook events (and nothing else): a run whose trigger is ``webhook``."""


@dataclass
class _Writing:
    """A batch being written: its write task, its number in the run, the checkpoint to store after it,
    its plan (written again, should the write before it fail and take this one with it), the keys of its
    records that have a dead letter, what of it a retry of dead letters dealt with, and how many source
    records it holds in flight (see :data:`RECORDS_IN_FLIGHT`)."""

    task: asyncio.Task[BatchChanges]
    number: int
    checkpoint: Checkpoint | None
    plan: list[Planned]
    kept: frozenset[str]
    retried: list[tuple[str, str]]
    held: int = 0
    originals: Originals | None = None
    """The batch's source records again, by their place in ``plan``, where they were let go of once mapped."""
    settled: asyncio.Task[None] | None = None
    """Hands the batch's state to the commit queue once it is written (see :meth:`OneWayRun._settle`)."""


@dataclass
class _LookedUp:
    """A batch read from the source, with its ID-map rows looked up ahead of its planning.

    ``unsettled`` holds the keys of the batches not yet committed when the
    look-up began, and ``begun`` how many batches had begun: only a record
    among those, or in a batch begun since, can have changed its row since.
    """

    batch: Batch
    source_keys: list[str | None]
    keys: set[str]
    """The batch's source keys, those present."""
    known: dict[str, IdMapping]
    letters: BatchLetters
    """The dead letters of the batch's keys, looked up with its ID-map rows (and as long valid)."""
    unsettled: list[set[str]]
    begun: int
    unmet: bool = False
    """A first load had met none of the keys when the look-up began: no batch begun by then holds one."""

    def still_valid(self, keys: set[str], number: int) -> bool:
        """Whether the look-up holds for batch ``number`` with these keys."""
        return number == self.begun and (self.unmet or not _shares_keys(keys, self.unsettled))


def _askable(key: str | UnfitKey | None) -> bool:
    """Whether a source can be asked for the record of ``key`` (one read from a record, or ``None``)."""
    return key is not None and type(key) is not UnfitKey


def _failed(task: asyncio.Task[BatchChanges]) -> bool:
    """Whether ``task`` has ended with an error."""
    return task.done() and not task.cancelled() and task.exception() is not None


def _letter_keys(records: list[Record], source_keys: list[str | None], keys: set[str]) -> set[str]:
    """The keys a batch's dead letters would have: its records' keys, and a record without one its stand-in."""
    if None not in source_keys:
        return keys
    return keys | {keyless_key(record) for record, key in zip(records, source_keys, strict=True) if key is None}


def _let_go(plan: list[Planned], records: list[Record]) -> None:
    """Let go of a mapped batch's source records (the batch has them again, should one fail: ``originals``),
    those failed already aside: a batch waiting for the one before to be written then holds its mapped
    records alone, not both (a REST full load: 9 MB less at batches of 5,000)."""
    for item in plan:
        if item.action is not Action.FAIL:
            item.record = LET_GO
    records.clear()  # the batch's own list: the run reads its records no more


def _shares_keys(keys: set[str], batches: list[set[str]]) -> bool:
    """Whether any of ``keys`` is in one of these batches' keys."""
    return any(not keys.isdisjoint(batch) for batch in batches)


class OneWayRun:
    """One run of one sync, from its dead letters to its last batch; made and driven by the engine."""

    def __init__(self, engine: RunHost, sync: SyncConfig, run_id: int, options: RunOptions) -> None:
        self.engine = engine
        self.sync = sync
        self.run_id = run_id
        self.options = options
        self.store = engine.store
        self.counts = Counts()
        self.letters = RunLetters(self.store, sync.name, run_id)
        self.commits = CommitQueue(self.store.commits_at_once)
        self.begun = 0
        """Batches begun (planned or further): the next one's number."""
        self.unsettled: dict[int, set[str]] = {}
        """Source keys of each batch from its planning until its state is committed: their ID-map rows may change."""
        self.claimed: dict[int, dict[str, str]] = {}
        """Target key → source key of each uncommitted batch's records new to the ID map, where the key is converted."""
        self.first_load: FirstLoad | None = None
        """Set when the sync's ID map was empty as the run began."""
        self.events_done = 0
        self.writing: deque[_Writing] = deque()
        """Batches being written or settled, oldest first: one written at a time, or two where the target
        keeps their order."""
        self.writes_at_once = 1
        self.in_flight = RecordsInFlight(RECORDS_IN_FLIGHT)
        """The source's records read and not yet written: reading waits while too many are."""
        self.read_twice = ReadTwice(sync.name, run_id)

    async def execute(self) -> Counts:
        with retrying_as(self.sync.retry):  # connectors that retry requests themselves follow the sync's policy
            try:
                return await self._execute()
            except ConnectorError as exc:
                if self.options.webhook:  # the events wait for the next run: ops see why in the inbox
                    await self._note_waiting_events(str(exc))
                raise

    async def _note_waiting_events(self, error: str) -> None:
        waiting = await self.store.inbox.pending(self.sync.name, WAITING_NOTED)
        await self.store.inbox.note_error(self.sync.name, [event.id for event in waiting], error)

    async def _execute(self) -> Counts:
        source = await self.engine.connections.get(self.sync.source_system)
        retry, sleep = self.sync.retry, self.engine.sleep
        await all_of(  # the stream looks at its system (a table's columns: a few catalog queries) meanwhile
            with_retries(retry, lambda: prepare_stream(source, self.sync.source_stream), sleep),
            self._look_at_state(),
        )
        reading = await self._ask_source(source) if self._reads_source_first else None
        try:
            self.parts = await self._with_target(source)  # while the source answers
        except BaseException:
            if reading is not None:
                await reading.aclose()
            raise
        if self.parts.target.overlapping_writes(self.sync.target_stream):
            self.writes_at_once = 2  # the next batch is staged while the one before is moved in
        try:
            if self.options.webhook:
                from app.engine.webhook_run import process_events  # noqa: PLC0415 (webhook runs only: jinja2, signatures)

                await process_events(self)
                await self._drain()
                return self.counts
            if self.letters.any:
                await self._retry_dead_letters()
                await self._drain()
            if not self.options.read_source:
                return self.counts
            await self._read_source(reading or await self._ask_source(source))
            await self._drain()
            self.read_twice.warn()
            if self.sync.mode == "mirror":
                await self._delete_gone()
                await self._drain()
        finally:
            tasks = [task for writing in self.writing for task in (writing.settled, writing.task) if task]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            await self.commits.cancel()
            if reading is not None:  # closed already where the source was read to its end
                await reading.aclose()
            with contextlib.suppress(StoreError):  # left for the next run to clear: keyed by this run's id
                await self.letters.forget_retried()
        return self.counts

    async def _look_at_state(self) -> None:
        """What the state database says about the sync before the run: whether it has dead letters (each
        batch asks about its own), a first load."""
        if self.options.read_source and not self.options.webhook and not await self.store.has_id_map(self.sync.name):
            self.first_load = FirstLoad()  # only reading the source looks batches up ahead
        await self.letters.look()

    async def _process(
        self,
        records: list[Record],
        checkpoint: Checkpoint | None,
        *,
        retrying: bool = False,
        looked_up: _LookedUp | None = None,
    ) -> None:
        """Plan one batch while the previous one is written; then start writing this one.

        Each batch's state is committed (in the background) once its writes are done, in order.
        """
        if looked_up is not None:
            source_keys, keys = looked_up.source_keys, looked_up.keys
        else:
            source_keys = self.parts.mapping.source_keys(records)
            keys = {key for key in source_keys if key is not None}
        earlier = list(self.unsettled.values())
        number, self.begun = self.begun, self.begun + 1
        self.unsettled[number] = keys  # before any await: the next batch's look-up, made meanwhile, must see it
        if self.first_load is not None:
            self.first_load.meet(keys)
        valid = looked_up is not None and looked_up.still_valid(keys, number)
        known = looked_up.known if looked_up is not None and valid else None
        if known is None and _shares_keys(keys, earlier):
            await self._drain()  # some of these are being written or stored: plan on that outcome
        if looked_up is not None and valid:
            letters = looked_up.letters
        else:
            letters = await self.letters.of_batch(_letter_keys(records, source_keys, keys))
        claimed = self._claimed_before(number)
        settled = None if retrying else letters.settled
        judge = self.read_twice.judge if looked_up is not None else None  # the source's read, not dead letters
        plan = await plan_batch(self.parts, records, settled, source_keys, known, claimed=claimed, judge_repeats=judge)
        held = len(records) if looked_up is not None else 0  # read from the source: held until committed
        originals = looked_up.batch.originals if looked_up is not None else None
        if originals is not None:
            _let_go(plan, records)
        self._claim_targets(number, plan)
        retried: list[tuple[str, str]] = []
        if retrying:  # read again later in this run (the cursor re-reads its last value): leave it
            retried = self.letters.retried(plan)
        elif letters.retried:
            for item in plan:
                item.repeated = item.settled and item.source_key in letters.retried
        await self._finish_writing(leave=self.writes_at_once - 1)
        task = asyncio.ensure_future(write_plan(self.parts, plan, self.engine.sleep, self.run_id, originals))
        writing = _Writing(task, number, checkpoint, plan, letters.kept, retried, held, originals)
        before = self.writing[-1].settled if self.writing else None
        writing.settled = asyncio.ensure_future(self._settle(writing, before))
        self.writing.append(writing)
        task.add_done_callback(lambda _: self._written(writing))
        del records, plan, looked_up  # held by the write (and its records by the plan) from here on
        await asyncio.sleep(0)  # let the write begin before the next batch is planned

    def _claimed_before(self, number: int) -> dict[str, str] | None:
        """Target keys of records new to the ID map in the batches before ``number`` not yet committed."""
        if not self.claimed:
            return None
        earlier = [claims for batch, claims in self.claimed.items() if batch < number]
        return {key: source for claims in earlier for key, source in claims.items()}

    def _claim_targets(self, number: int, plan: list[Planned]) -> None:
        """Where two source records may name one target record (see :attr:`SyncParts.targets_may_be_shared`),
        the target keys this batch's new records take, until committed."""
        if not self.parts.targets_may_be_shared:
            return
        claim = self.parts.claim_key  # once per batch: each record's would ask the connector again
        claims = {
            claim(item.target_key): item.source_key
            for item in plan
            if item.target_key is not None and not item.mapped_before and item.action in _CLAIMING
        }
        if claims:
            self.claimed[number] = claims

    @staticmethod
    def _written(writing: _Writing) -> None:
        """A batch is written: its records are no longer needed (its plan is kept only to write it again,
        should its write have failed for the one before)."""
        if not _failed(writing.task):
            writing.plan = []

    async def _settle(self, writing: _Writing, before: asyncio.Task[None] | None) -> None:
        """Once the batch before has been handed on, wait for this batch's write and hand its state to the
        commit queue: at once, in the background, so that its records in flight are given back when its
        state is committed, whatever the run is doing meanwhile (the source waits for them to read on).

        A batch whose write failed for the one before it is written again here, in turn.
        """
        try:
            if before is not None:
                await before  # raises what it raised: nothing after a failed batch is committed
            try:
                changes = await writing.task
            except EarlierWriteFailed:  # the one before failed, then went through on a retry: this one's turn now
                changes = await write_plan(self.parts, writing.plan, self.engine.sleep, self.run_id, writing.originals)
            writing.plan, writing.originals = [], None
            changes.checkpoint, changes.retried = writing.checkpoint, writing.retried
            await self._commit(changes, writing.number, writing.kept, held=writing.held)
        except BaseException:
            self.in_flight.stop_waiting()  # the source reads on, so the run meets this error, not a standstill
            raise
        self.writing.popleft()  # the oldest: each waits for the one before

    async def _finish_writing(self, leave: int = 0) -> None:
        """Wait for the batches being written, oldest first, until ``leave`` are left under way, each
        one's state handed to the commit queue; raises what a write or hand-over raised.

        A batch whose write failed for the one before it is written again first: before any later batch
        begins, so batches reach the target in read order.
        """
        while len(self.writing) > leave or (self.writing and _failed(self.writing[0].task)):
            settled = self.writing[0].settled
            assert settled is not None
            await asyncio.shield(settled)  # a cancelled wait leaves the hand-over to the run's end

    async def _commit(
        self,
        changes: BatchChanges,
        number: int | None = None,
        kept: frozenset[str] | None = None,
        *,
        held: int = 0,
    ) -> None:
        """Queue ``changes`` for committing; ``number`` is that of the batch they come from, if any, ``kept``
        the keys of its records that had a dead letter, where they were looked up, and ``held`` its source
        records in flight, given back once committed."""
        changes.resolved = self.letters.to_clear(changes.resolved, kept)
        if changes.failures:
            self.letters.failed()

        async def commit(wait_for_before: WaitForBefore) -> None:
            try:
                await self.store.commit_batch(self.sync.name, self.run_id, changes, after=wait_for_before)
            except BaseException:
                self.in_flight.stop_waiting()
                raise
            self.in_flight.give_back(held)
            if number is not None:
                del self.unsettled[number]
                self.claimed.pop(number, None)
            self.counts.add(changes.counts)
            if self.options.progress is not None:
                self.options.progress(self.counts)

        await self.commits.submit(commit)

    async def _drain(self) -> None:
        """Everything written and committed."""
        await self._finish_writing()
        await self.commits.wait()

    # --- reading ----------------------------------------------------------------

    @property
    def _reads_source_first(self) -> bool:
        """Whether reading the source is the first thing the run does (not a webhook run's events, nor a
        retry of dead letters, nor a retry run's alone)."""
        return self.options.read_source and not self.options.webhook and not self.letters.any

    async def _ask_source(self, source: Connector) -> ReadAhead[Batch]:
        """The source's batches from the stored checkpoint, the first of them asked for now.

        Asked for before the target is opened where the run reads first: a REST API's first page takes it
        longer to answer than a database takes to connect and show a table's columns, done meanwhile.
        """
        checkpoint = None if self.options.full else await self.store.checkpoint(self.sync.name)
        return ReadAhead(self._batches(source, checkpoint))

    async def _with_target(self, source: Connector) -> SyncParts:
        """The sync's parts, its target opened and its stream looked at."""
        target = await self.engine.connections.get(self.sync.target_system)
        mapping = self.engine.workspace.mappings[self.sync.name]
        fields = list(mapping.field_names)
        await with_retries(
            self.sync.retry, lambda: prepare_stream(target, self.sync.target_stream, fields), self.engine.sleep
        )
        return SyncParts(self.sync, mapping, self.store, source, target)

    async def _read_source(self, batches: ReadAhead[Batch]) -> None:
        # Two stages ahead: the source is read while the batch before it is looked up, and that one
        # while the batch before it is planned and written (each a database's work, and a wait here).
        async with (
            contextlib.aclosing(batches),
            contextlib.aclosing(ReadAhead(self._looked_up(batches))) as ready,
        ):
            async for looked_up in ready:
                await self._stop_if_asked()
                await self._process(looked_up.batch.records, looked_up.batch.checkpoint, looked_up=looked_up)
                del looked_up  # each stage lets go of a batch once the next has it

    async def _looked_up(self, batches: AsyncIterator[Batch]) -> AsyncIterator[_LookedUp]:
        """Each batch with its ID-map rows, looked up while the batch before it is planned and written."""
        async for batch in batches:
            source_keys = self.parts.mapping.source_keys(batch.records)
            unsettled, begun = list(self.unsettled.values()), self.begun
            keys = wanted = {key for key in source_keys if key is not None}
            if self.first_load is not None and (maybe := self.first_load.maybe_mapped(keys)) is not None:
                wanted = maybe  # a first load: only keys it has met already can be in the ID map
            known = await self.store.id_map(self.sync.name, wanted) if wanted else {}
            letters = await self.letters.of_batch(_letter_keys(batch.records, source_keys, keys))
            yield _LookedUp(batch, source_keys, keys, known, letters, unsettled, begun, unmet=not wanted)
            del batch, source_keys, keys, wanted, known, letters

    async def _stop_if_asked(self) -> None:
        """Between batches: stop here when asked, once every batch before is written and committed.

        The batch being written is finished, not cut off: a write cancelled half way may still
        reach the target (a driver working in a thread), with no state to say it did.
        """
        if self.options.stop is not None and self.options.stop.is_set():
            await self._drain()
            raise RunStopped("stopped before it ended (the service is shutting down); the next run carries on")

    async def _batches(self, source: Connector, checkpoint: Checkpoint | None) -> AsyncIterator[Batch]:
        """The source's batches; a transient failure re-opens the read where the last batch left it.

        The failures are counted against the sync's ``retry.attempts`` until the read gets past where it
        failed: a batch whose checkpoint moves on. A read that starts over each time (a file, a full read:
        its checkpoint stays ``{}``) and fails at its end again was re-opened for ever, its batches
        resetting the count (a file another program writes on and on)."""
        failures = 0
        size = source.system.options.batch_size
        while True:
            try:
                async for batch in read_batches(source, self.sync.source_stream, checkpoint, size):
                    self.in_flight.take(len(batch.records))
                    yield batch
                    if batch.checkpoint != checkpoint:
                        checkpoint, failures = batch.checkpoint, 0
                    del batch
                    await self.in_flight.room_for(size)  # before the source reads on
                return
            except TransientError as exc:
                failures += 1
                if failures >= self.sync.retry.attempts or not worth_retrying(exc):
                    raise
                delay = pause(self.sync.retry, failures, exc)
                log.info("reading %s failed for a passing reason; again in %.1fs", self.sync.source, delay)
                await self.engine.sleep(delay)

    # --- dead letters -------------------------------------------------------------

    async def _retry_dead_letters(self) -> None:
        after = 0
        size = self.parts.source.system.options.batch_size
        choice = self.options.dead_letters
        later_runs = 1_000_000 if choice == "all" or isinstance(choice, tuple) else self.sync.retry.later_runs
        while True:
            await self._stop_if_asked()
            letters = await self.store.due_dead_letters(self.sync.name, self.run_id, later_runs, after, size)
            if not letters:
                return
            after = letters[-1].id
            if isinstance(choice, tuple):
                letters = [letter for letter in letters if letter.id in choice]
                if not letters:
                    continue
            records = await self._fresh_records({letter.source_key: letter.record for letter in letters})
            await self._process(records, None, retrying=True)

    async def _fresh_records(self, kept: dict[str, Record]) -> list[Record]:
        """The dead letters' records read again from the source where it can; else the kept copies (also of a
        key the source refuses to look up, one kept spelt out: a NUL byte, a lone surrogate, and a record that
        has no key: its dead letter's is a stand-in, ``(no key) …``, which no source holds, so asking for it
        took the record for gone and cleared its letter, and the read failed it again: counted twice)."""
        source_key = self.parts.mapping.source_key
        askable = [key for key, record in kept.items() if _askable(source_key(record))]
        try:
            looked_up = await records_by_key(
                self.parts.source, self.sync.source_stream, askable, self.sync.retry, self.engine.sleep
            )
        except NotImplementedError:
            return list(kept.values())
        fresh = looked_up.found | {key: kept[key] for key in kept if key not in askable or key in looked_up.refused}
        gone = [key for key in kept if key not in fresh]
        if gone:  # the source record was deleted: nothing left to retry
            changes = BatchChanges(
                resolved=gone, log=[LogEntry(key, None, "skipped", "gone from the source") for key in gone]
            )
            changes.counts.read = changes.counts.skipped = len(gone)
            await self._finish_writing()  # state is committed in read order
            await self._commit(changes)
        return list(fresh.values())

    # --- mirror -----------------------------------------------------------------

    async def _delete_gone(self) -> None:
        """Delete the target records whose source record no longer exists."""
        size = self.parts.source.system.options.batch_size
        async for keys in scan_keys(self.parts.source, self.sync.source_stream, size):
            await self.store.mark_seen(self.sync.name, self.run_id, keys)
        after: str | None = None
        while True:
            gone = await self.store.unseen(self.sync.name, self.run_id, after, size)
            if not gone:
                return
            after = gone[-1][0]
            await self._delete(gone)

    async def _delete(self, gone: list[tuple[str, str]], changes: BatchChanges | None = None) -> None:
        """Delete these target records (source key, target key), and commit that with ``changes``."""
        changes = changes or BatchChanges()
        if not gone:
            await self._commit(changes)
            return
        writes = [Write(WriteAction.DELETE, None, target_key) for _, target_key in gone]
        stream = self.sync.target_stream
        results = await with_retries(
            self.sync.retry, lambda: write_batch(self.parts.target, stream, writes), self.engine.sleep
        )
        for (source_key, target_key), result in zip(gone, results, strict=True):
            if result.ok:
                changes.unmapped.append(source_key)
                changes.log.append(LogEntry(source_key, target_key, "deleted"))
                changes.counts.deleted += 1
            else:
                changes.log.append(LogEntry(source_key, target_key, "failed", f"delete: {result.error}"))
                changes.counts.failed += 1
        await self._commit(changes)
