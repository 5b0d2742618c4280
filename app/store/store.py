"""The state database: runs, record log, ID map, cursors and dead letters.

Each processed batch is committed in one transaction together with the
checkpoint it covers, so the stored cursor never runs ahead of what was
written and logged.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Text, any_, bindparam, case, delete, func, insert, null, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import StoreError
from app.record_checks import storable_text
from app.records import dumps, loads, shown_dumps
from app.store.bulk import insert_rows, stored_time, upsert_rows
from app.store.database import (
    database_errors,
    database_failure,
    empty_database,
    open_database,
    open_database_to_read,
    state_url,
)
from app.store.history import History
from app.store.leases import Leases
from app.store.letters_by_key import LettersByKey, write_retried
from app.store.models import (
    BatchChanges,
    Checkpoint,
    Counts,
    DeadLetterInfo,
    DirectedEntry,
    IdMapping,
    LogRow,
    Pair,
    RunInfo,
    dead_letter_info,
    run_info,
    storable_changes,
)
from app.store.states import SyncStates
from app.store.tables import (
    CURSORS,
    DEAD_LETTERS,
    DIRECTIONS,
    ID_MAP,
    LOG,
    ONE_WAY,
    RETRIED,
    RUNS,
    utc_now,
)
from app.store.task_lock import TaskLock
from app.store.webhook_inbox import WebhookInbox, record_progress

_IN_CHUNK = 4096  # SQLite keys per IN (...) list: well under its limit of 32,766 parameters


def _padded(keys: Sequence[str]) -> list[str]:
    """``keys``, the last repeated up to the next power of two (16 at least): a few IN list lengths, not
    one per count of keys. SQLite prepares a statement for each length (~650 KB of its memory for 4,000
    keys) and the driver keeps the last 128: a first load's look-ups, of a new count in every batch, grew
    a run by ~60 MB over 1,000,000 records. A key twice in an IN list changes nothing."""
    size = max(16, 1 << (len(keys) - 1).bit_length())
    return [*keys, *[keys[-1]] * (size - len(keys))]


Scrub = Callable[[str], str]


class StartedRuns(NamedTuple):
    """What :meth:`Store.start_runs` recorded: each sync's new run id, and its runs marked abandoned."""

    ids: dict[str, int]
    abandoned: Counter[str]


def _as_is(text: str) -> str:
    return text


def _dialect_insert(postgres: bool) -> Callable[..., Any]:
    """The dialect's ``insert`` (with ``on_conflict_do_update``) of the state database."""
    # Imported for the dialect in use only: the PostgreSQL dialect cost a SQLite run ~20 ms.
    if postgres:
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415

        return insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

    return sqlite_insert


class Store:
    """The state database behind a project. Open with :meth:`open`; every method is a short transaction.

    :param scrub: applied to every error message before it is stored (the project's secrets, SPEC 2):
        what is kept is shown later, by the API and ``brygga status``, maybe after a secret has changed
        and the old one is no longer known to be secret
    """

    def __init__(self, engine: AsyncEngine, scrub: Scrub = _as_is) -> None:
        self.engine = engine
        self.scrub = scrub
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = _dialect_insert(self._postgres)
        # SQLite has one writer at a time, and a connection that finds the file locked sleeps in its busy
        # handler (1 ms, then 2, 5, … up to 100 ms a time): under load, most of a transaction's time. This
        # process's transactions take turns instead, each woken the moment the one before it ends.
        self._turns = None if self._postgres else TaskLock()
        self._closed = False
        self._kept: AsyncConnection | None = None
        self.log_values = True
        """Whether the record log keeps the values written (the project's ``record_log.values``)."""
        self.lock_timeout_ms = 60_000
        """How long a batch's commit waits for a row lock while the batch before it commits."""
        self.found = True
        """Whether the database was there: ``False`` for :meth:`open_to_read` of one not made yet."""
        self.commits_at_once = 2 if self._postgres else 1
        """Batches whose state a run may be storing at once: on PostgreSQL a batch's rows are written while
        the one before commits (see :meth:`commit_batch`); SQLite takes one writer at a time, and a second
        batch queued behind the first only held its record-log texts and ID-map rows meanwhile (a REST full
        load of 100,000 records: 4 MB more at its peak, no faster)."""
        self.leases = Leases(self)
        self.states = SyncStates(self)
        self.history = History(self)
        self.inbox = WebhookInbox(self)
        self.letters = LettersByKey(self)

    @classmethod
    async def open(cls, url: str, root: Path, scrub: Scrub = _as_is) -> Store:
        """:raises StoreError: when the database cannot be reached or migrated"""
        return cls(await open_database(state_url(url, root)), scrub)

    @classmethod
    async def open_to_read(cls, url: str, root: Path, scrub: Scrub = _as_is) -> Store:
        """The state database, for reading only (``brygga preview``): nothing is created, migrated or
        written; a project that has no state database yet gets an empty one in memory.

        :raises StoreError: when the database cannot be reached, or its schema needs upgrading first
        """
        engine = await open_database_to_read(state_url(url, root))
        store = cls(engine if engine is not None else await empty_database(), scrub)
        store.found = engine is not None
        return store

    def scrubbed(self, error: str | None) -> str | None:
        return None if error is None else self.scrub(error)

    async def close(self) -> None:
        self._closed = True
        kept, self._kept = self._kept, None
        if kept is not None:
            with contextlib.suppress(SQLAlchemyError):
                await kept.close()
        await self.engine.dispose()

    async def _kept_connection(self) -> AsyncConnection:
        """SQLite: the connection this process's transactions take turns on, kept open. A connection of
        the pool is rolled back again each time it goes back (after its commit): one more trip to the
        database's thread per transaction, some ten per run of a sync."""
        kept = self._kept
        if kept is None or kept.closed or kept.invalidated:
            if kept is not None:
                with contextlib.suppress(SQLAlchemyError):
                    await kept.close()
            self._kept = kept = await self.engine.connect()
        return kept

    # --- runs -----------------------------------------------------------------

    async def start_run(self, sync: str, trigger: str) -> int:
        now = utc_now()
        async with self._begin() as connection:
            result = await connection.execute(
                insert(RUNS)
                .values(
                    sync=sync, trigger=trigger, status="running", started_at=now, progress_at=now, **Counts().as_dict()
                )
                .returning(RUNS.c.id)
            )
            return int(result.scalar_one())

    async def start_runs(self, syncs: Sequence[str], trigger: str, abandoned: str) -> StartedRuns:
        """Record a new run of each of ``syncs`` (whose leases the caller holds), in one transaction; first
        mark their runs left ``running`` by a process that stopped as failed, with the error ``abandoned``.

        :meth:`start_run` and :meth:`History.abandon` for a whole batch of scheduled runs: two statements
        where each sync took two transactions. What the retries of dead letters of those syncs' earlier runs
        dealt with is forgotten too: a run forgets its own as it ends, but one that was killed (or lost the
        state database as it ended) left its own behind, never read again (they are kept by that run's id)
        nor cleared until a later run retried a letter; with the caller holding the leases, no run of these
        syncs is going on."""
        now = utc_now()
        rows = [
            {"sync": sync, "trigger": trigger, "status": "running", "started_at": now, "progress_at": now}
            | Counts().as_dict()
            for sync in syncs
        ]
        abandon = (
            update(RUNS)
            .where(RUNS.c.sync.in_(syncs), RUNS.c.status == "running")
            .values(status="failed", error=abandoned, finished_at=now)
            .returning(RUNS.c.sync)
        )
        record = insert(RUNS).returning(RUNS.c.id, RUNS.c.sync)
        async with self._begin() as connection:
            left = list((await connection.execute(abandon)).scalars())
            await connection.execute(delete(RETRIED).where(RETRIED.c.sync.in_(syncs)))
            ids = {str(sync): int(run_id) for run_id, sync in (await connection.execute(record, rows)).all()}
        return StartedRuns(ids, Counter(left))

    async def finish_run(self, run_id: int, status: str, error: str | None = None) -> RunInfo:
        error = storable_text(error) if error is not None else None  # it may quote a hostile record
        statement = (
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(status=status, error=self.scrubbed(error), finished_at=utc_now())
            .returning(*RUNS.c)
        )
        async with self._begin() as connection:
            row = (await connection.execute(statement)).mappings().one()
        return run_info(row)

    async def run(self, run_id: int) -> RunInfo | None:
        async with self._begin() as connection:
            row = (await connection.execute(select(RUNS).where(RUNS.c.id == run_id))).mappings().first()
        return run_info(row) if row is not None else None

    async def last_runs(self) -> dict[str, RunInfo]:
        """Every sync's newest run, by sync name."""
        newest = select(func.max(RUNS.c.id)).group_by(RUNS.c.sync)
        async with self._begin() as connection:
            rows = (await connection.execute(select(RUNS).where(RUNS.c.id.in_(newest)))).mappings().all()
        return {row["sync"]: run_info(row) for row in rows}

    async def last_run(self, sync: str) -> RunInfo | None:
        """The sync's newest run, if any: one row, where :meth:`last_runs` reads every sync's."""
        query = select(RUNS).where(RUNS.c.sync == sync).order_by(RUNS.c.id.desc()).limit(1)
        async with self._begin() as connection:
            row = (await connection.execute(query)).mappings().first()
        return run_info(row) if row is not None else None

    # --- checkpoints ------------------------------------------------------------

    async def checkpoint(self, sync: str) -> Checkpoint | None:
        async with self._begin() as connection:
            text = (await connection.execute(select(CURSORS.c.checkpoint).where(CURSORS.c.sync == sync))).scalar()
        return loads(text) if text is not None else None

    async def forget_checkpoint(self, sync: str) -> None:
        async with self._begin() as connection:
            await connection.execute(delete(CURSORS).where(CURSORS.c.sync == sync))

    # --- ID map -----------------------------------------------------------------

    async def has_id_map(self, sync: str) -> bool:
        """Whether the sync's ID map holds any entry."""
        async with self._begin() as connection:
            found = await connection.execute(select(ID_MAP.c.sync).where(ID_MAP.c.sync == sync).limit(1))
            return found.first() is not None

    async def id_map(self, sync: str, source_keys: Collection[str]) -> dict[str, IdMapping]:
        """The ID map entries of these source keys, those that exist."""
        found: dict[str, IdMapping] = {}
        map_ = ID_MAP.c
        columns = (map_.source_key, map_.target_key, map_.hash, map_.seen_run, map_.repeat_hashes)
        async with self._begin() as connection:
            for keys in self._key_in(map_.source_key, list(source_keys)):
                query = select(*columns).where(map_.sync == sync, keys)
                for source_key, target_key, digest, seen_run, repeat_hashes in await connection.execute(query):
                    found[source_key] = IdMapping(target_key, digest, None, seen_run, repeat_hashes)
        return found

    async def pairs(self, sync: str, keys: Collection[str], *, side: str = "a") -> dict[str, Pair]:
        """A two-way sync's pairs whose ``side``'s key (``a``: the source key, ``b``: the target key) is among
        ``keys``, by that key. A pair whose create is under way (no b key yet) is found by a's key only."""
        column = ID_MAP.c.source_key if side == "a" else ID_MAP.c.target_key
        found: dict[str, Pair] = {}
        async with self._begin() as connection:
            for among in self._key_in(column, list(keys)):
                query = select(ID_MAP.c.source_key, ID_MAP.c.target_key, ID_MAP.c.base, ID_MAP.c.gone_from).where(
                    ID_MAP.c.sync == sync, among
                )
                for a_key, b_key, base, gone_from in await connection.execute(query):
                    pair = Pair(a_key, b_key, loads(base) if base is not None else {}, gone_from)
                    found[a_key if side == "a" else b_key] = pair
        return found

    async def pairs_after(self, sync: str, after: str | None, limit: int, *, bases: bool = True) -> list[Pair]:
        """A two-way sync's linked pairs in a's key order, after a's key ``after``: how deletes are found.

        :param bases: ``False`` leaves each pair's base out (empty): looking for gone records needs keys only
        """
        query = (
            select(ID_MAP.c.source_key, ID_MAP.c.target_key, ID_MAP.c.base if bases else null(), ID_MAP.c.gone_from)
            .where(ID_MAP.c.sync == sync, ID_MAP.c.target_key.is_not(None))
            .order_by(ID_MAP.c.source_key)
            .limit(limit)
        )
        if after is not None:
            query = query.where(ID_MAP.c.source_key > after)
        async with self._begin() as connection:
            rows = (await connection.execute(query)).all()  # at once: a fetchone a row costs ~2 µs
            return [
                Pair(a_key, b_key, loads(base) if base is not None else {}, gone) for a_key, b_key, base, gone in rows
            ]

    async def target_keys(self, requests: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """For ``lookup``: the target key each (sync, source key) became, where it has one."""
        by_sync: dict[str, list[str]] = defaultdict(list)
        for sync, source_key in requests:
            by_sync[sync].append(source_key)
        found: dict[tuple[str, str], str] = {}
        async with self._begin() as connection:
            for sync, keys in by_sync.items():
                for among in self._key_in(ID_MAP.c.source_key, keys):
                    query = select(ID_MAP.c.source_key, ID_MAP.c.target_key).where(
                        ID_MAP.c.sync == sync, among, ID_MAP.c.target_key.is_not(None)
                    )
                    for source_key, target_key in await connection.execute(query):
                        found[(sync, source_key)] = target_key
        return found

    async def source_keys(self, requests: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """For a reverse ``lookup``: the source key each (sync, target key) is linked with, where one is (by the
        ID map's index on sync and target key). Where several source records became one target, the least key."""
        by_sync: dict[str, list[str]] = defaultdict(list)
        for sync, target_key in requests:
            by_sync[sync].append(target_key)
        found: dict[tuple[str, str], str] = {}
        async with self._begin() as connection:
            for sync, keys in by_sync.items():
                for among in self._key_in(ID_MAP.c.target_key, keys):
                    query = (
                        select(ID_MAP.c.target_key, ID_MAP.c.source_key)
                        .where(ID_MAP.c.sync == sync, among)
                        .order_by(ID_MAP.c.source_key.desc())
                    )
                    for target_key, source_key in await connection.execute(query):
                        found[(sync, target_key)] = source_key
        return found

    async def record_intents(self, sync: str, run_id: int, source_keys: Sequence[str]) -> None:
        """Note that creates of these source records are about to be sent: ID map entries without a target
        key, committed before the creates, so that after a crash the next run checks before creating again."""
        if not source_keys:
            return
        now = utc_now()
        statement = self._insert(ID_MAP).on_conflict_do_nothing(index_elements=[ID_MAP.c.sync, ID_MAP.c.source_key])
        rows = [{"sync": sync, "source_key": key, "target_key": None, "hash": None, "seen_run": run_id,
                 "updated_at": now} for key in source_keys]  # fmt: skip
        async with self._begin() as connection:
            await connection.execute(statement, rows)

    async def mark_seen(self, sync: str, run_id: int, source_keys: Sequence[str]) -> None:
        """For ``mirror``: these source records still exist at this run."""
        async with self._begin() as connection:
            for keys in self._key_in(ID_MAP.c.source_key, list(source_keys)):
                await connection.execute(update(ID_MAP).where(ID_MAP.c.sync == sync, keys).values(seen_run=run_id))

    async def unseen(self, sync: str, run_id: int, after: str | None, limit: int) -> list[tuple[str, str]]:
        """For ``mirror``: (source key, target key) of records not seen at this run, in key order."""
        query = (
            select(ID_MAP.c.source_key, ID_MAP.c.target_key)
            .where(
                ID_MAP.c.sync == sync,
                ID_MAP.c.target_key.is_not(None),
                or_(ID_MAP.c.seen_run.is_(None), ID_MAP.c.seen_run != run_id),
            )
            .order_by(ID_MAP.c.source_key)
            .limit(limit)
        )
        if after is not None:
            query = query.where(ID_MAP.c.source_key > after)
        async with self._begin() as connection:
            return [(row[0], row[1]) for row in await connection.execute(query)]

    # --- one batch ----------------------------------------------------------------

    async def commit_batch(
        self, sync: str, run_id: int, changes: BatchChanges, after: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Store everything a batch changed, and its checkpoint, in one transaction.

        :param after: waits for the commit of the batch before, which may still be under way. On
            PostgreSQL this batch's ID-map and log rows are written meanwhile (the engine never has two
            batches with a key in common under way), and its counts, checkpoint and COMMIT follow that
            commit; SQLite takes one writer at a time, so there it is awaited first.
        """
        if after is not None and not self._postgres:
            await after()
            after = None
        storable_changes(changes)
        now = utc_now()
        async with self._begin() as connection:
            if after is not None:
                # While this batch waits for the one before (here, not in the database), a lock it
                # holds that the one before needs would be waited for for ever. The engine never has two
                # batches with a key in common under way; should that ever slip, this makes it an error.
                await connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{self.lock_timeout_ms}ms'")
            at = stored_time(now.replace(tzinfo=None), connection)
            await self._write_id_map(connection, sync, run_id, changes, at)
            await insert_rows(
                connection,
                "record_log",
                ("run_id", "sync", "source_key", "target_key", "action", "error", "at", "detail"),
                self._log_rows(sync, run_id, changes.log, at),
            )
            await self._write_pairs(connection, sync, run_id, changes, at)
            await self._write_dead_letters(connection, sync, run_id, changes, now)
            await write_retried(connection, self, sync, run_id, changes.retried)
            events = [(event_id, self.scrubbed(error)) for event_id, error in changes.events]
            await record_progress(connection, sync, run_id, events)
            if after is not None:
                await after()  # what follows is stored on top of the batch before, and committed after it
            counts: dict[str, Any] = {name: RUNS.c[name] + value for name, value in changes.counts.as_dict().items()}
            if changes.conflicts:
                counts["conflicts"] = RUNS.c.conflicts + changes.conflicts
            if changes.by_direction is not None:
                counts["by_direction"] = dumps({name: part.as_dict() for name, part in changes.by_direction.items()})
            await connection.execute(update(RUNS).where(RUNS.c.id == run_id).values(progress_at=now, **counts))
            if changes.checkpoint is not None:
                statement = self._insert(CURSORS).values(
                    sync=sync, checkpoint=dumps(changes.checkpoint), updated_at=now
                )
                await connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[CURSORS.c.sync],
                        set_={"checkpoint": statement.excluded.checkpoint, "updated_at": statement.excluded.updated_at},
                    )
                )

    async def _write_id_map(
        self, connection: AsyncConnection, sync: str, run_id: int, changes: BatchChanges, at: Any
    ) -> None:
        columns = ("sync", "source_key", "target_key", "hash", "seen_run", "updated_at")
        for rows, kept in ((changes.mapped, ()), (changes.rehashed, ("target_key",))):
            await upsert_rows(
                connection,
                "id_map",
                columns,
                ("sync", "source_key"),
                [(sync, source_key, target_key, digest, run_id, at) for source_key, target_key, digest in rows],
                kept=kept,
            )
        await insert_rows(
            connection,
            "id_map",
            columns,
            [(sync, key, target_key, digest, run_id, at) for key, target_key, digest in changes.new_mappings],
        )
        for keys in self._key_in(ID_MAP.c.source_key, changes.unmapped):
            await connection.execute(delete(ID_MAP).where(ID_MAP.c.sync == sync, keys))
        await self._write_repeats(connection, sync, run_id, changes)

    async def _write_repeats(self, connection: AsyncConnection, sync: str, run_id: int, changes: BatchChanges) -> None:
        """What a batch learnt of keys read twice in a run: rare, so a statement or two where there is any."""
        for keys in self._key_in(ID_MAP.c.source_key, changes.touched):
            await connection.execute(update(ID_MAP).where(ID_MAP.c.sync == sync, keys).values(seen_run=run_id))
        if changes.repeats:
            statement = (
                update(ID_MAP)
                .where(ID_MAP.c.sync == sync, ID_MAP.c.source_key == bindparam("key"))
                .values(repeat_hashes=bindparam("hashes"))
            )
            rows = [{"key": key, "hashes": hashes} for key, hashes in changes.repeats]
            await connection.execute(statement, rows)

    async def _write_pairs(
        self, connection: AsyncConnection, sync: str, run_id: int, changes: BatchChanges, at: Any
    ) -> None:
        """A two-way batch's pairs (ID map rows with their bases) and its directed record-log entries."""
        if changes.pairs:
            await upsert_rows(
                connection,
                "id_map",
                ("sync", "source_key", "target_key", "hash", "base", "gone_from", "seen_run", "updated_at"),
                ("sync", "source_key"),
                [
                    (sync, pair.a_key, pair.b_key, None, dumps(pair.base), pair.gone_from, run_id, at)
                    for pair in changes.pairs
                ],
            )
        if changes.directed:
            await insert_rows(
                connection,
                "record_log",
                ("run_id", "sync", "source_key", "target_key", "action", "error", "at", "direction", "detail"),
                [
                    (
                        run_id,
                        sync,
                        storable_text(entry.source_key),
                        None if entry.target_key is None else storable_text(entry.target_key),
                        entry.action,
                        None if entry.error is None else self.scrub(storable_text(entry.error)),
                        at,
                        entry.direction,
                        self._detail_text(entry),
                    )
                    for entry in changes.directed
                ],
            )

    def _log_rows(self, sync: str, run_id: int, log: Sequence[LogRow], at: Any) -> list[tuple[Any, ...]]:
        """A batch's record-log rows, values as :meth:`logged_values` keeps them: one comprehension, and the
        engine's entries carry that text already (a first load logs every record it reads)."""
        scrub, logged = self.scrub, self.logged_values
        return [
            (
                run_id,
                sync,
                key,
                target,
                action,
                None if error is None else scrub(error),
                at,
                values if values is None or isinstance(values, str) else logged(values),
            )
            for key, target, action, error, values in log
        ]

    def logged_values(self, values: dict[str, Any] | None) -> str | None:
        """A written record's values as the log keeps them: JSON with the project's secrets scrubbed (as
        errors are), or nothing where the project keeps no values.

        The engine makes this text when a record is written, for its :class:`LogEntry`: a batch waiting
        for its commit then holds a short text per record, not the record (a REST full load's peak: 8 MB
        less at 100,000 records).
        """
        if values is None or not self.log_values:
            return None
        return self.scrub(shown_dumps(values))  # JSON spells out NUL bytes and lone surrogates: storable as is

    def _detail_text(self, entry: DirectedEntry) -> str | None:
        if entry.action == "conflict":
            return None if entry.detail is None else storable_text(dumps(entry.detail))
        return self.logged_values(entry.detail)

    async def _write_dead_letters(
        self, connection: AsyncConnection, sync: str, run_id: int, changes: BatchChanges, now: Any
    ) -> None:
        for keys in self._key_in(DEAD_LETTERS.c.source_key, changes.resolved):  # every direction's, by the index
            await connection.execute(
                delete(DEAD_LETTERS).where(DEAD_LETTERS.c.sync == sync, DEAD_LETTERS.c.direction.in_(DIRECTIONS), keys)
            )
        by_direction: dict[str, list[str]] = defaultdict(list)
        for direction, key in changes.resolved_directed:
            by_direction[direction].append(key)
        for direction, directed in by_direction.items():
            for keys in self._key_in(DEAD_LETTERS.c.source_key, directed):
                await connection.execute(
                    delete(DEAD_LETTERS).where(DEAD_LETTERS.c.sync == sync, DEAD_LETTERS.c.direction == direction, keys)
                )
        if not changes.failures:
            return
        statement = self._insert(DEAD_LETTERS)
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[DEAD_LETTERS.c.sync, DEAD_LETTERS.c.direction, DEAD_LETTERS.c.source_key],
                set_={
                    "record": statement.excluded.record,
                    "error": statement.excluded.error,
                    "reason": statement.excluded.reason,
                    # one attempt a run: a record failing again in the run that failed it (read twice) is no new try
                    "attempts": case(
                        (DEAD_LETTERS.c.run_id == statement.excluded.run_id, DEAD_LETTERS.c.attempts),
                        else_=DEAD_LETTERS.c.attempts + 1,
                    ),
                    "run_id": statement.excluded.run_id,
                    "last_failed_at": statement.excluded.last_failed_at,
                    "discarded_at": None,  # failing anew: a dead letter again
                    "hash": statement.excluded.hash,
                },
            ),
            [
                {
                    "sync": sync,
                    "source_key": failure.source_key,
                    "record": dumps(failure.record),
                    "error": self.scrub(failure.error),
                    "reason": failure.reason,
                    "attempts": 1,
                    "run_id": run_id,
                    "first_failed_at": now,
                    "last_failed_at": now,
                    "direction": failure.direction or ONE_WAY,
                    "hash": failure.hash,
                }
                for failure in changes.failures
            ],
        )

    # --- dead letters -------------------------------------------------------------

    async def due_dead_letters(
        self, sync: str, run_id: int, later_runs: int, after_id: int, limit: int
    ) -> list[DeadLetterInfo]:
        """Dead letters to try again at this run: those waiting for a lookup, and the
        others while they have failed at most ``later_runs`` times; in id order after ``after_id``."""
        query = (
            select(DEAD_LETTERS)
            .where(
                DEAD_LETTERS.c.sync == sync,
                DEAD_LETTERS.c.id > after_id,
                DEAD_LETTERS.c.discarded_at.is_(None),
                or_(DEAD_LETTERS.c.run_id.is_(None), DEAD_LETTERS.c.run_id != run_id),
                or_(DEAD_LETTERS.c.reason == "lookup", DEAD_LETTERS.c.attempts <= later_runs),
            )
            .order_by(DEAD_LETTERS.c.id)
            .limit(limit)
        )
        async with self._begin() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [dead_letter_info(row) for row in rows]

    async def dead_letters(self, sync: str | None = None, *, discarded: bool = False) -> list[DeadLetterInfo]:
        """Dead letters in id order; with ``discarded``, those an operator discarded too."""
        query = select(DEAD_LETTERS).order_by(DEAD_LETTERS.c.id)
        if not discarded:
            query = query.where(DEAD_LETTERS.c.discarded_at.is_(None))
        if sync is not None:
            query = query.where(DEAD_LETTERS.c.sync == sync)
        async with self._begin() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [dead_letter_info(row) for row in rows]

    async def dead_letter_keys(self, sync: str, direction: str, keys: Collection[str]) -> set[str]:
        """Those of ``keys`` (source keys of a two-way ``direction``) that a dead letter of ``sync`` holds,
        discarded ones too: how a record without a key, read again, is told from one failing for the first time
        (its dead letter's key is a stand-in made from the record)."""
        found: set[str] = set()
        async with self._begin() as connection:
            for among in self._key_in(DEAD_LETTERS.c.source_key, list(keys)):
                query = select(DEAD_LETTERS.c.source_key).where(
                    DEAD_LETTERS.c.sync == sync, DEAD_LETTERS.c.direction == direction, among
                )
                found.update(await connection.scalars(query))
        return found

    async def dead_letter_counts(self) -> dict[str, int]:
        query = (
            select(DEAD_LETTERS.c.sync, func.count())
            .where(DEAD_LETTERS.c.discarded_at.is_(None))
            .group_by(DEAD_LETTERS.c.sync)
        )
        async with self._begin() as connection:
            return {sync: int(count) for sync, count in await connection.execute(query)}

    async def dead_letter_count(self, sync: str) -> int:
        """The sync's dead letters not discarded: one count, where :meth:`dead_letter_counts` counts every sync's."""
        query = select(func.count()).where(DEAD_LETTERS.c.sync == sync, DEAD_LETTERS.c.discarded_at.is_(None))
        async with self._begin() as connection:
            return int((await connection.execute(query)).scalar() or 0)

    async def log_entries(self, run_id: int) -> list[dict[str, Any]]:
        query = select(LOG).where(LOG.c.run_id == run_id).order_by(LOG.c.id)
        async with self._begin() as connection:
            return [dict(row) for row in (await connection.execute(query)).mappings().all()]

    def _key_in(self, column: Any, keys: Sequence[str]) -> Iterable[ColumnElement[bool]]:
        """``column`` among ``keys``: one array parameter on PostgreSQL, IN lists in chunks on SQLite."""
        if not keys:
            return
        if self._postgres:
            from sqlalchemy.dialects.postgresql import ARRAY  # noqa: PLC0415 - loaded with the PostgreSQL dialect

            yield column == any_(bindparam("keys", list(keys), type_=ARRAY(Text)))
            return
        for start in range(0, len(keys), _IN_CHUNK):
            yield column.in_(_padded(keys[start : start + _IN_CHUNK]))

    def _begin(self) -> _Transaction:
        if self._closed:  # the engine would quietly open a new connection, which nothing would ever close
            raise StoreError("the state database was used after it was closed; this is a bug in Brygga")
        return _Transaction(self)


class _Transaction:
    """``async with store._begin() as connection``: one transaction; database errors become StoreError.

    On SQLite, where this process's transactions take turns, a turn's transaction runs on the one
    connection the store keeps open (:meth:`Store._kept_connection`); one begun inside a turn (a read
    within a transaction) takes a connection of the pool, as every transaction on PostgreSQL does."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._turns = store._turns
        self._context: AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> AsyncConnection:
        if self._turns is not None:
            await self._turns.take()
        try:
            if self._turns is not None and self._turns.outermost:
                connection = await self._store._kept_connection()
                self._context = connection.begin()
                await self._context.__aenter__()
                return connection
            self._context = self._store.engine.begin()
            return await self._context.__aenter__()
        except BaseException as exc:
            if self._turns is not None:
                self._turns.give_back()
            if isinstance(exc, SQLAlchemyError):
                raise database_failure(exc, self._store.engine.url) from exc
            raise

    async def __aexit__(self, kind: Any, error: Any, traceback: Any) -> None:
        assert self._context is not None
        try:
            await self._context.__aexit__(kind, error, traceback)
        except SQLAlchemyError as exc:
            raise database_failure(exc, self._store.engine.url) from exc
        finally:
            if self._turns is not None:
                self._turns.give_back()
        if isinstance(error, database_errors()):  # asyncpg's own too: from COPY, sent to the driver itself
            raise database_failure(error, self._store.engine.url) from error
