"""Writing a batch: one native upsert (and delete) per batch, in one transaction.

Every mapped value is converted to its column's type first; a value that does
not convert fails its own record only (:mod:`.operations`). Creates and updates are one upsert
(``INSERT … ON CONFLICT (key) DO UPDATE`` on PostgreSQL and SQLite, ``INSERT …
ON DUPLICATE KEY UPDATE`` on MariaDB/MySQL; :mod:`.statements`), so a batch retried whole writes
the same rows again. When the database refuses the batch for a reason of the
data (a constraint, a value too long), each row is written on its own, so
only the rows it refuses fail; when it fails for a passing reason, the whole
batch is a :class:`~app.errors.TransientError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import ConnectorError, PermanentError, Turn, Write, WriteResult, format_key
from connectors.sql.applying import COPY_FROM, Applier
from connectors.sql.columnar import column_rows, results
from connectors.sql.databases import Backend
from connectors.sql.errors import is_transient, translate, translated_types
from connectors.sql.many import execute_rows
from connectors.sql.operations import Operation, Operations, Upsert, columns_of, rounds, shown_key
from connectors.sql.packet_size import PacketLimit
from connectors.sql.pg_copy import copies, copy_upsert_tuples
from connectors.sql.statements import WriteStatements
from connectors.sql.streams import StreamShape
from connectors.sql.whole_table import table_refused


def batch_failures() -> tuple[type[Exception], ...]:
    """What a failed batch raises: the database's errors, and a driver refusing a value it was handed."""
    return (*translated_types(), ValueError, TypeError, OverflowError)


class StreamWriter:
    """Writes one stream's batches into its table."""

    def __init__(self, shape: StreamShape, table: Table, copy: bool, report_created: bool = False) -> None:
        self.shape = shape
        self.table = table
        self.where = shape.where
        self.copy = copy
        self.report_created = report_created
        """Every upsert goes by COPY and says which rows were new (see Connector.reports_created)."""
        self.operations = Operations(shape, table)
        self.statements = WriteStatements(shape, table, self.operations.soft, self.operations.alive)
        self.applier = Applier(shape, table, self.statements, self.operations, copy=copy, report_created=report_created)
        self.packets = PacketLimit(self.where, table.name) if shape.backend is Backend.MYSQL else None
        """MariaDB/MySQL's largest statement: a row larger fails alone, before the server drops the connection."""

    async def write(
        self, engine: AsyncEngine, writes: Sequence[Write], secret: str | None, turn: Turn | None = None
    ) -> list[WriteResult]:
        """One result per write, in order.

        :param turn: waited for before the table changes: overlapping calls change it in the order they were made
        :raises TransientError: when the batch failed for a passing reason; retried whole, it writes the same rows
        """
        if self.packets is not None:
            too_large = await self.packets.too_large(engine, writes, secret)
            if too_large:
                return await self._write_fitting(engine, writes, too_large, secret, turn)
        return await self._write(engine, writes, secret, turn)

    async def _write_fitting(
        self,
        engine: AsyncEngine,
        writes: Sequence[Write],
        too_large: dict[int, PermanentError],
        secret: str | None,
        turn: Turn | None,
    ) -> list[WriteResult]:
        """The writes but those ``too_large`` for one statement, which fail alone."""
        fitting = [write for index, write in enumerate(writes) if index not in too_large]
        written = iter(await self._write(engine, fitting, secret, turn) if fitting else [])
        return [
            WriteResult(write.target_key, too_large[index]) if index in too_large else next(written)
            for index, write in enumerate(writes)
        ]

    async def _write(
        self, engine: AsyncEngine, writes: Sequence[Write], secret: str | None, turn: Turn | None
    ) -> list[WriteResult]:
        leaves_out = self.operations.required and any(map(self.operations.leaves_out_required, writes))
        if self.copy and (self.report_created or len(writes) >= COPY_FROM) and not leaves_out:
            done = await self._by_columns(engine, writes, secret, turn)
            if done is not None:
                return done
        elif not self.applier.apart and not leaves_out and not self.report_created:
            done = await self._by_driver(engine, writes, secret, turn)
            if done is not None:
                return done
        if turn is not None:
            await turn.wait()
        results: dict[int, WriteResult] = {}
        operations: list[Operation] = []
        for index, write in enumerate(writes):
            try:
                operations.append(self.operations.operation(index, write))
            except PermanentError as error:
                results[index] = WriteResult(write.target_key, error)
        results.update(await self._write_part(engine, operations, secret))
        return [results[index] for index in range(len(writes))]

    async def _by_columns(
        self, engine: AsyncEngine, writes: Sequence[Write], secret: str | None, turn: Turn | None
    ) -> list[WriteResult] | None:
        """The common batch (like upserts) in one COPY, converted column by column; ``None`` where it does not apply."""
        prepared = self._column_rows(writes)
        if prepared is None or not copies(self.shape, prepared[0]):
            return None
        columns, rows, keys = prepared
        try:
            async with engine.begin() as conn:
                existing = await copy_upsert_tuples(
                    conn, self.shape, self.table, columns, rows, last=True, before_move=turn.wait if turn else None
                )
        except batch_failures() as exc:
            if is_transient(exc):
                raise translate(exc, f"{self.where}: writing {len(rows)} rows", secret) from exc
            return None  # a row the database refuses: the row-by-row way finds which
        return results(keys, existing, self.report_created)

    async def _by_driver(
        self, engine: AsyncEngine, writes: Sequence[Write], secret: str | None, turn: Turn | None
    ) -> list[WriteResult] | None:
        """The common batch (like upserts) as one upsert through the driver's executemany, converted column by
        column; ``None`` where it does not apply, or the database refuses a row (the row-by-row way finds which)."""
        prepared = self._column_rows(writes)
        if prepared is None:
            return None
        columns, rows, keys = prepared
        driver = self.statements.driver(engine.dialect, ("upsert", columns), self.statements.upsert(columns), columns)
        if driver is None:
            return None
        if turn is not None:
            await turn.wait()
        try:
            async with engine.begin() as conn:
                await execute_rows(conn, driver, driver.tuples(columns, rows))
        except batch_failures() as exc:
            if is_transient(exc):
                raise translate(exc, f"{self.where}: writing {len(rows)} rows", secret) from exc
            return None
        return results(keys, set(), report=False)

    async def _write_part(
        self, engine: AsyncEngine, operations: Sequence[Operation], secret: str | None
    ) -> dict[int, WriteResult]:
        """Write ``operations`` in one transaction.

        Where the database refuses the part for a reason of the data, each
        half is written on its own, and so on down to single rows: only the
        rows it refuses fail, in a few transactions rather than one per row.
        """
        if not operations:
            return {}
        inserted: set[tuple[Any, ...]] | None = set()
        try:
            async with engine.begin() as conn:
                for round_ in rounds(operations):
                    news = await self.applier.apply(conn, round_)
                    inserted = inserted | news if inserted is not None and news is not None else None
        except batch_failures() as exc:
            what = format_key(operations[0].key) if len(operations) == 1 else f"{len(operations)} rows"
            error = translate(exc, f"{self.where}: writing {what}", secret)
            if is_transient(exc):
                raise error from exc
            soft = self.operations.soft
            written = columns_of(operations, (*self.shape.key, *([soft] if soft else [])))
            if await table_refused(engine, exc, self.table, written):
                raise self._table_refused(error) from exc
            if len(operations) == 1:
                return {operations[0].index: WriteResult(what, error)}
            middle = len(operations) // 2
            first = await self._write_part(engine, operations[:middle], secret)
            return first | await self._write_part(engine, operations[middle:], secret)
        new = tuple.__new__  # a NamedTuple without its generated __new__: thousands per batch
        if inserted is None or not self.report_created:
            return {
                operation.index: new(WriteResult, (shown_key(operation.key), None, None)) for operation in operations
            }
        return {
            operation.index: new(
                WriteResult,
                (shown_key(operation.key), None, operation.key in inserted if isinstance(operation, Upsert) else None),
            )
            for operation in operations
        }

    def _table_refused(self, error: ConnectorError) -> PermanentError:
        """The error of a batch whose table refuses every row: the run stops with it (see :mod:`.whole_table`)."""
        return PermanentError(
            f"{error}: table {self.shape.options.table} cannot be written at all (dropped, renamed, a column gone, "
            "or this database user may no longer write it), so the run stops here rather than failing each record "
            "alone; rows written before stay, and the next run goes on from this batch once the table is back "
            "(Brygga never creates tables or grants rights): restore it, or correct the stream's table"
        )

    def _column_rows(self, writes: Sequence[Write]) -> tuple[tuple[str, ...], list[tuple[Any, ...]], list[Any]] | None:
        """The batch converted column by column (see :mod:`.columnar`), or ``None`` where it does not apply."""
        soft = self.operations.soft
        extra = (soft, self.operations.alive) if soft is not None else None
        return column_rows(writes, self.shape.key, self.operations.types, extra)
