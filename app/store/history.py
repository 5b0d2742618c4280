"""Reading back what happened, page by page, and forgetting it when it is old (SPEC 7, retention)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import and_, delete, func, insert, literal_column, or_, select, update

from app.records import loads
from app.store.models import DeadLetterInfo, IdMapping, RunInfo, dead_letter_info, run_info
from app.store.tables import DEAD_LETTERS, ID_MAP, LOG, RUNS, utc_now

if TYPE_CHECKING:
    from app.store.access import StoreAccess


NO_RUN = 0
"""The run id of a record-log entry that no run made (an operator's discard of a dead letter): no run has it."""


class FieldChange(NamedTuple):
    """One field a written record changed: its value before (``None`` when it had none) and after."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class LogRecord:
    """One record-log entry as the API shows it."""

    id: int
    run_id: int
    sync: str
    source_key: str
    target_key: str | None
    action: str
    error: str | None
    at: datetime
    direction: str | None = None
    conflict: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    """A created or updated record's values as written, where the project keeps them (``record_log.values``)."""
    changes: list[FieldChange] | None = None
    """In a record's story, the fields this entry changed (from the entry before it); ``None`` where unknown."""


@dataclass(frozen=True)
class Story:
    """One source record's story: where it went, and every log entry about it."""

    id_map: IdMapping | None
    updated_at: datetime | None
    entries: list[LogRecord]
    dead_letter: bool = False
    """A dead letter of it is kept (retried, or discarded): retention may have purged its log entries."""
    two_way: bool = False
    """The story of a two-way pair, looked up by a's key: its ID map entry is the pair's."""

    @property
    def seen(self) -> bool:
        """Whether Brygga ever met this source record: an ID map entry, a log entry or a dead letter."""
        return self.id_map is not None or bool(self.entries) or self.dead_letter


class History:
    """The store's queries for the HTTP API, and its retention purge."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store

    async def runs(self, sync: str | None, status: str | None, before: int | None, limit: int) -> list[RunInfo]:
        """Runs, newest first, with ids below ``before``."""
        query = select(RUNS).order_by(RUNS.c.id.desc()).limit(limit)
        if sync is not None:
            query = query.where(RUNS.c.sync == sync)
        if status is not None:
            query = query.where(RUNS.c.status == status)
        if before is not None:
            query = query.where(RUNS.c.id < before)
        async with self.store._begin() as connection:
            return [run_info(row) for row in (await connection.execute(query)).mappings().all()]

    async def running(self) -> list[RunInfo]:
        return await self.runs(None, "running", None, 10_000)

    async def abandon(self, sync: str, error: str) -> int:
        """Mark ``sync``'s runs left running by a process that stopped as failed; how many there were."""
        statement = (
            update(RUNS)
            .where(RUNS.c.sync == sync, RUNS.c.status == "running")
            .values(status="failed", error=error, finished_at=utc_now())
        )
        async with self.store._begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)

    async def log(self, run_id: int, after: int | None, limit: int, action: str | None = None) -> list[LogRecord]:
        """A run's record log, oldest first, with ids above ``after``; only ``action``'s entries when given.

        On PostgreSQL the entries are ordered by ``id + 0``, not ``id``: asked for the first page of a run in
        ``id`` order, the planner walks the table's primary key from its oldest entry, expecting the run's
        rows among the first it meets, and read every older run's (2,000,000 entries before the run: 0.33 s a
        page, growing with the log). Ordered by an expression, it takes the run's rows by their run-id index
        and sorts them (30 ms for a run of 100,000, whatever the log before it). SQLite's run-id index
        already holds each run's entries in id order.
        """
        order = LOG.c.id + literal_column("0") if self.store._postgres else LOG.c.id
        query = select(LOG).where(LOG.c.run_id == run_id).order_by(order).limit(limit)
        if after is not None:
            query = query.where(LOG.c.id > after)
        if action is not None:
            query = query.where(LOG.c.action == action)
        return await self._log(query)

    async def story(self, sync: str, source_key: str, limit: int = 1000, *, two_way: bool = False) -> Story:
        """The ID map entry of one source record and its log entries, newest first.

        :param two_way: the sync is two-way and ``source_key`` is a's key: entries of the direction
            ``to_a`` name b's record as their source and a's as their target, and belong to the story too
        """
        entry_query = select(ID_MAP).where(ID_MAP.c.sync == sync, ID_MAP.c.source_key == source_key)
        about = LOG.c.source_key == source_key
        if two_way:
            about = or_(about, and_(LOG.c.target_key == source_key, LOG.c.direction == "to_a"))
        log_query = select(LOG).where(LOG.c.sync == sync, about).order_by(LOG.c.id.desc()).limit(limit)
        letter_query = select(DEAD_LETTERS.c.id).where(
            DEAD_LETTERS.c.sync == sync, DEAD_LETTERS.c.source_key == source_key
        )
        async with self.store._begin() as connection:
            row = (await connection.execute(entry_query)).mappings().first()
            dead_letter = (await connection.execute(letter_query.limit(1))).first() is not None
        mapping = IdMapping(row["target_key"], row["hash"], row["gone_from"]) if row is not None else None
        updated_at = row["updated_at"] if row is not None else None
        return Story(mapping, updated_at, await self._log(log_query), dead_letter, two_way)

    async def dead_letter(self, letter_id: int) -> DeadLetterInfo | None:
        query = select(DEAD_LETTERS).where(DEAD_LETTERS.c.id == letter_id, DEAD_LETTERS.c.discarded_at.is_(None))
        async with self.store._begin() as connection:
            row = (await connection.execute(query)).mappings().first()
        return dead_letter_info(row) if row is not None else None

    async def dead_letters(self, sync: str | None, after: int | None, limit: int) -> list[DeadLetterInfo]:
        query = (
            select(DEAD_LETTERS).where(DEAD_LETTERS.c.discarded_at.is_(None)).order_by(DEAD_LETTERS.c.id).limit(limit)
        )
        if sync is not None:
            query = query.where(DEAD_LETTERS.c.sync == sync)
        if after is not None:
            query = query.where(DEAD_LETTERS.c.id > after)
        async with self.store._begin() as connection:
            return [dead_letter_info(row) for row in (await connection.execute(query)).mappings().all()]

    async def discard(self, letter_id: int, note: str) -> DeadLetterInfo | None:
        """Discard a dead letter: no longer retried or listed, and logged as skipped with ``note``, in the
        record's story under run :data:`NO_RUN`. It is kept (marked), so the same record read again unchanged
        is left alone. ``None`` for an unknown or discarded one: of two discards at the same moment, one
        discards it and logs it, once.

        Not in the run that failed it last: that run is over, and its record log would disagree with its
        counts (one more ``skipped`` entry than it counted). Nor in a run of its own: a discard reads and
        writes nothing, and a run made for it would stand as the sync's newest (hiding a run under way)."""
        letter = await self.dead_letter(letter_id)
        if letter is None:
            return None
        now = utc_now()
        still_there = and_(DEAD_LETTERS.c.id == letter_id, DEAD_LETTERS.c.discarded_at.is_(None))
        async with self.store._begin() as connection:
            marked = await connection.execute(update(DEAD_LETTERS).where(still_there).values(discarded_at=now))
            if marked.rowcount == 0:  # discarded since it was read
                return None
            entry = {"run_id": NO_RUN, "sync": letter.sync, "source_key": letter.source_key}
            await connection.execute(insert(LOG).values(**entry, target_key=None, action="skipped", error=note, at=now))
        return letter

    async def purge(self, runs_before: datetime, records_before: datetime) -> tuple[int, int]:
        """Forget finished runs started before ``runs_before`` and log entries made before ``records_before``."""
        async with self.store._begin() as connection:
            # Entries made before the cut-off are of runs started before it: the run-id index narrows the search
            # to those (run ids grow with time; there is no index on the entries' time, which every insert paid for).
            first_kept = select(func.min(RUNS.c.id)).where(RUNS.c.started_at >= records_before)
            bound = await connection.scalar(first_kept)
            old = delete(LOG).where(LOG.c.at < records_before)
            records = await connection.execute(old if bound is None else old.where(LOG.c.run_id < bound))
            runs = await connection.execute(
                delete(RUNS).where(RUNS.c.started_at < runs_before, RUNS.c.status != "running")
            )
        return int(runs.rowcount), int(records.rowcount)

    async def _log(self, query: Any) -> list[LogRecord]:
        async with self.store._begin() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_log_record(row) for row in rows]


def _log_record(row: Any) -> LogRecord:
    """A ``record_log`` row: its ``detail`` is a conflict's, or a written record's values."""
    detail = loads(row["detail"]) if row["detail"] is not None else None
    conflict = detail if row["action"] == "conflict" else None
    values = detail if row["action"] in ("created", "updated") else None
    return LogRecord(row["id"], row["run_id"], row["sync"], row["source_key"], row["target_key"], row["action"],
                     row["error"], row["at"], row["direction"], conflict, values)  # fmt: skip
