"""Writing a batch: one native upsert (and delete) per batch, in one transaction.

Every mapped value is converted to its column's type first; a value that does
not convert fails its own record only. Creates and updates are one upsert
(``INSERT … ON CONFLICT (key) DO UPDATE`` on PostgreSQL and SQLite, ``INSERT …
ON DUPLICATE KEY UPDATE`` on MariaDB/MySQL), so a batch retried whole writes
the same rows again. When the database refuses the batch for a reason of the
data (a constraint, a value too long), each row is written on its own, so
only the rows it refuses fail; when it fails for a passing reason, the whole
batch is a :class:`~app.errors.TransientError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Executable, Table, and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.base import (
    ConnectorError,
    PermanentError,
    Record,
    Turn,
    Write,
    WriteAction,
    WriteResult,
    format_key,
    key_text,
    parse_key,
)
from connectors.sql.coercion import ColumnType, ColumnValueError, Kind
from connectors.sql.columnar import column_rows, results
from connectors.sql.databases import Backend
from connectors.sql.errors import is_transient, translate, translated_types
from connectors.sql.lookups import LOOKUP_CHUNK
from connectors.sql.many import DriverStatement, driver_statement, execute_many, execute_rows
from connectors.sql.packet_size import PacketLimit
from connectors.sql.pg_copy import copies, copy_upsert, copy_upsert_tuples
from connectors.sql.second_fractions import cut_to
from connectors.sql.streams import StreamShape, require_column, unique_column_sets
from connectors.sql.whole_table import table_refused

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def batch_failures() -> tuple[type[Exception], ...]:
    """What a failed batch raises: the database's errors, and a driver refusing a value it was handed."""
    return (*translated_types(), ValueError, TypeError, OverflowError)


COPY_FROM = 500
"""Rows in one upsert from which PostgreSQL (asyncpg) gets them by COPY into a temporary table."""


@dataclass(frozen=True, slots=True)
class Upsert:
    """A create or update: ``row`` holds converted values by column.

    ``update_only``: an update that leaves out a column the table requires (``NOT NULL`` without a
    default), such as a two-way sync's update of the fields that changed: an upsert would be refused
    for the row it could insert, so it is an ``UPDATE`` by key of the columns it holds.
    """

    index: int
    key: tuple[Any, ...]
    row: dict[str, Any]
    update_only: bool = False


@dataclass(frozen=True, slots=True)
class Delete:
    index: int
    key: tuple[Any, ...]


Operation = Upsert | Delete


class StreamWriter:
    """Writes one stream's batches into its table."""

    def __init__(self, shape: StreamShape, table: Table, copy: bool, report_created: bool = False) -> None:
        self.shape = shape
        self.table = table
        self.where = shape.where
        self.copy = copy
        self.report_created = report_created
        """Every upsert goes by COPY and says which rows were new (see Connector.reports_created)."""
        self.names = [column.name for column in table.columns]
        self.types = {name: shape.types[name] for name in self.names}
        self.natives = {name: kind.taken_as_is for name, kind in self.types.items()}
        """The type a column's value is taken as it is (see :attr:`ColumnType.taken_as_is`)."""
        soft = shape.options.delete.soft if shape.options.delete is not None else None
        self.soft = soft
        self.alive = False if soft is not None and shape.types[soft].kind is Kind.BOOLEAN else None
        # ON DUPLICATE KEY UPDATE takes a clash on any unique index for a clash on the key, and would
        # overwrite another row: with more unique indexes than the key, MariaDB updates and inserts apart
        self.apart = shape.backend is Backend.MYSQL and any(
            columns != set(shape.key) for columns in unique_column_sets(table)
        )
        self.key_is_primary = set(shape.key) == {column.name for column in table.primary_key.columns}
        self.required = frozenset(
            column.name
            for column in table.columns
            if not column.nullable and column.server_default is None and column.name not in shape.key
        )
        """Columns a row must hold to be inserted: an update without one of them is an ``UPDATE``."""
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
        leaves_out = self.required and any(
            write.action is WriteAction.UPDATE and not self.required <= set(write.record or ()) for write in writes
        )
        if self.copy and (self.report_created or len(writes) >= COPY_FROM) and not leaves_out:
            done = await self._by_columns(engine, writes, secret, turn)
            if done is not None:
                return done
        elif not self.apart and not leaves_out and not self.report_created:
            done = await self._by_driver(engine, writes, secret, turn)
            if done is not None:
                return done
        if turn is not None:
            await turn.wait()
        results: dict[int, WriteResult] = {}
        operations: list[Operation] = []
        for index, write in enumerate(writes):
            try:
                operations.append(self._operation(index, write))
            except PermanentError as error:
                results[index] = WriteResult(write.target_key, error)
        results.update(await self._write_part(engine, operations, secret))
        return [results[index] for index in range(len(writes))]

    async def _by_columns(
        self, engine: AsyncEngine, writes: Sequence[Write], secret: str | None, turn: Turn | None
    ) -> list[WriteResult] | None:
        """The common batch (like upserts) in one COPY, converted column by column; ``None`` where it does not apply."""
        extra = (self.soft, self.alive) if self.soft is not None else None
        prepared = column_rows(writes, self.shape.key, self.types, extra)
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
        extra = (self.soft, self.alive) if self.soft is not None else None
        prepared = column_rows(writes, self.shape.key, self.types, extra)
        if prepared is None:
            return None
        columns, rows, keys = prepared
        driver = self._driver_statement(engine.dialect, ("upsert", columns), self._upsert(columns), columns)
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
                for round_ in _rounds(operations):
                    news = await self._apply(conn, round_)
                    inserted = inserted | news if inserted is not None and news is not None else None
        except batch_failures() as exc:
            what = format_key(operations[0].key) if len(operations) == 1 else f"{len(operations)} rows"
            error = translate(exc, f"{self.where}: writing {what}", secret)
            if is_transient(exc):
                raise error from exc
            written = _columns_of(operations, (*self.shape.key, *([self.soft] if self.soft else [])))
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
                operation.index: new(WriteResult, (_key_text(operation.key), None, None)) for operation in operations
            }
        return {
            operation.index: new(
                WriteResult,
                (_key_text(operation.key), None, operation.key in inserted if isinstance(operation, Upsert) else None),
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

    # --- turning writes into operations --------------------------------------------

    def _operation(self, index: int, write: Write) -> Operation:
        if write.action is WriteAction.DELETE:
            if self.shape.options.delete is None:
                raise PermanentError(
                    f"{self.where}: cannot delete {write.target_key}: the stream has no 'delete' option; "
                    "add delete: hard or delete: {soft: COLUMN} to its config"
                )
            return Delete(index, self._key_from_text(write.target_key))
        row = self._row(write.record or {})
        key = self._key_of(row)
        if None in key and write.target_key is not None:
            key = self._key_from_text(write.target_key)
            row.update(zip(self.shape.key, key, strict=True))
        if None in key:
            missing = ", ".join(name for name, value in zip(self.shape.key, key, strict=True) if value is None)
            raise PermanentError(f"{self.where}: the record has no value for the key column {missing}")
        for name, value in zip(self.shape.key, key, strict=True):
            if isinstance(value, dict | list | tuple | set | frozenset):
                kind = "an object" if isinstance(value, dict) else "a list"
                raise PermanentError(
                    f"{self.where}: the record's key column {name} would get {kind}, which no key column holds: "
                    "map the key field to one value (a field of it, or an expression)"
                )
        if self.soft is not None and self.soft not in row:
            row[self.soft] = self.alive  # written again: not deleted (any more)
        update_only = write.action is WriteAction.UPDATE and not self.required <= row.keys()
        return Upsert(index, key, row, update_only)

    def _key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return (
            tuple(row.get(name) for name in self.shape.key)
            if len(self.shape.key) > 1
            else (row.get(self.shape.key[0]),)
        )

    def _row(self, record: Record) -> dict[str, Any]:
        types, natives = self.types, self.natives
        try:
            # a value already of its column's type is taken as it is: the common case, kept fast
            return {
                name: value if value is None or type(value) is natives[name] else types[name].convert(value)
                for name, value in record.items()
            }
        except (KeyError, ColumnValueError):
            pass  # find which column, and say so
        for name, value in record.items():
            require_column(self.where, f"table {self.shape.options.table}", name, self.names)
            self._convert(name, value)
        raise AssertionError("a record failed to convert, then converted")  # pragma: no cover

    def _convert(self, name: str, value: Any) -> Any:
        kind = self.shape.types[name]
        try:
            return kind.convert(value)
        except ColumnValueError as exc:
            raise PermanentError(f"{self.where}: column {name} ({kind.name}): {exc}") from None

    def _key_from_text(self, text: str | None) -> tuple[Any, ...]:
        if text is None:
            raise PermanentError(f"{self.where}: a write without a target key cannot be applied")
        try:
            parts = parse_key(text, len(self.shape.key))
        except ValueError as exc:
            raise PermanentError(f"{self.where}: {exc}") from None
        return tuple(self._key_value(name, part) for name, part in zip(self.shape.key, parts, strict=True))

    def _key_value(self, name: str, text: str) -> Any:
        kind = self.shape.types[name]
        try:
            return kind.key_value(text)
        except ColumnValueError as exc:
            raise PermanentError(f"{self.where}: column {name} ({kind.name}): {exc}") from None

    # --- statements --------------------------------------------------------------

    async def _apply(self, conn: AsyncConnection, operations: Sequence[Operation]) -> set[tuple[Any, ...]] | None:
        """Run ``operations`` (distinct keys) as one statement per column set, and one for the deletes.

        :returns: the keys of the rows that were new, where the upserts tell (by COPY on PostgreSQL), else ``None``
        """
        inserted: set[tuple[Any, ...]] | None = set()
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        doomed: list[tuple[Any, ...]] = []
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for operation in operations:
            if isinstance(operation, Upsert):
                (updates if operation.update_only else groups).setdefault(tuple(operation.row), []).append(
                    operation.row
                )
            else:
                doomed.append(operation.key)
        for columns, rows in updates.items():
            inserted = None
            changed = [name for name in columns if name not in self.shape.key]
            if changed:
                statement = partial(_update, self.table, self.shape.key, changed)
                change = self._statement(("update", columns), statement)
                params = [_update_params(row, self.shape.key, changed) for row in rows]
                await self._many(conn, ("update", columns), change, params)
        for columns, rows in groups.items():
            by_copy = self.copy and (self.report_created or len(rows) >= COPY_FROM) and copies(self.shape, columns)
            if by_copy:
                news = await copy_upsert(conn, self.shape, self.table, columns, rows)
                inserted = inserted | news if inserted is not None else None
                continue
            inserted = None
            if self.apart:
                await self._update_or_insert(conn, columns, rows)
            else:
                await self._many(conn, ("upsert", columns), self._upsert(columns), rows)
        if doomed:
            await self._many(conn, ("delete",), self._delete(), [self._delete_params(key) for key in doomed])
        return inserted

    async def _many(
        self, conn: AsyncConnection, name: tuple[Any, ...], statement: Executable, rows: Sequence[dict[str, Any]]
    ) -> None:
        """Execute the stream's statement ``name`` once per row (each holding the same keys), compiled once."""
        await execute_many(conn, statement, self._driver_statement(conn.dialect, name, statement, tuple(rows[0])), rows)

    def _driver_statement(
        self, dialect: Dialect, name: tuple[Any, ...], statement: Executable, names: tuple[str, ...]
    ) -> DriverStatement | None:
        """The stream's statement ``name`` compiled once for the driver (``None``: it goes SQLAlchemy's way)."""
        key = ("driver", *name)
        if key in self.shape.cache:
            prepared: DriverStatement | None = self.shape.cache[key]
        else:
            prepared = self.shape.cache[key] = driver_statement(statement, dialect, names)
        return prepared

    async def _update_or_insert(
        self, conn: AsyncConnection, columns: tuple[str, ...], rows: list[dict[str, Any]]
    ) -> None:
        """Update the rows whose key is in the table, insert the others: no clash is taken for another.

        A new row is a plain ``INSERT``, which fails on any clash. A row whose
        key exists is upserted when the key is the primary key (InnoDB finds a
        clash on it before any other), else updated by key.
        """
        key = self.shape.key
        existing: set[tuple[Any, ...]] = set()
        find = self._statement(("existing",), lambda: _existing(self.table, key))
        for start in range(0, len(rows), LOOKUP_CHUNK):
            chunk = [self._key_of(row) for row in rows[start : start + LOOKUP_CHUNK]]
            bound = [values[0] for values in chunk] if len(key) == 1 else chunk
            existing.update(tuple(found) for found in await conn.execute(find, {"keys": bound}))
        present = [row for row in rows if self._key_of(row) in existing]
        new = [row for row in rows if self._key_of(row) not in existing]
        changed = [name for name in columns if name not in key]
        if present and self.key_is_primary:
            await conn.execute(self._upsert(columns), present)
        elif present and changed:
            change = self._statement(("update", columns), lambda: _update(self.table, key, changed))
            await conn.execute(change, [_update_params(row, key, changed) for row in present])
        if new:
            await conn.execute(insert(self.table), new)

    def _statement(self, name: tuple[Any, ...], build: Callable[[], Executable]) -> Executable:
        """A statement of this stream, built once."""
        cached = self.shape.cache.get(name)
        if cached is None:
            cached = self.shape.cache[name] = build()
        statement: Executable = cached
        return statement

    def _upsert(self, columns: tuple[str, ...]) -> Executable:
        cached = self.shape.cache.get(("upsert", columns))
        if cached is None:
            cached = self.shape.cache[("upsert", columns)] = upsert_statement(
                self.shape.backend, self.table, self.shape.key, columns
            )
        statement: Executable = cached
        return statement

    def _delete(self) -> Executable:
        return self._statement(
            ("delete",), lambda: _deletion(self.table, self.shape.key, self.soft, self.alive is None)
        )

    def _delete_params(self, key: tuple[Any, ...]) -> dict[str, Any]:
        params = {f"key_{i}": value for i, value in enumerate(key)}
        if self.soft is not None:
            soft_kind = self.shape.types[self.soft]
            params["deleted_at"] = True if soft_kind.kind is Kind.BOOLEAN else _deleted_at(soft_kind)
        return params


def upsert_statement(backend: Backend, table: Table, key: Sequence[str], columns: Sequence[str]) -> Executable:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` or ``ON DUPLICATE KEY UPDATE`` of ``columns``, for executemany."""
    changed = [name for name in columns if name not in key]
    # Each backend's dialect imported for its own tables only: PostgreSQL's and MySQL's cost ~30 ms at start-up.
    if backend is Backend.MYSQL:
        from sqlalchemy.dialects.mysql import insert as mysql_insert  # noqa: PLC0415

        statement = mysql_insert(table)
        # with nothing to change, "update" the key to itself: a no-op that keeps the row
        return statement.on_duplicate_key_update({name: statement.inserted[name] for name in changed or key[:1]})
    upsert: postgresql.Insert | sqlite.Insert
    if backend is Backend.POSTGRESQL:
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert  # noqa: PLC0415

        upsert = postgresql_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

        upsert = sqlite_insert(table)
    if not changed:
        return upsert.on_conflict_do_nothing(index_elements=list(key))
    return upsert.on_conflict_do_update(
        index_elements=list(key), set_={name: upsert.excluded[name] for name in changed}
    )


def _existing(table: Table, key: Sequence[str]) -> Executable:
    """The keys among those bound as ``keys`` that are in the table, locked for this transaction."""
    columns = [table.c[name] for name in key]
    compared = columns[0] if len(columns) == 1 else tuple_(*columns)
    return select(*columns).where(compared.in_(bindparam("keys", expanding=True))).with_for_update()


def _deletion(table: Table, key: Sequence[str], soft: str | None, keep_first: bool) -> Executable:
    """``DELETE`` the row of the key bound as ``key_0``, …, or set its soft-delete column to ``deleted_at``."""
    if soft is None:
        return delete(table).where(_key_match(table, key))
    column = table.c[soft]
    match = and_(_key_match(table, key), column.is_(None)) if keep_first else _key_match(table, key)
    return update(table).where(match).values({column: bindparam("deleted_at", type_=column.type)})


def _key_match(table: Table, key: Sequence[str]) -> ColumnElement[bool]:
    return and_(*(table.c[name] == bindparam(f"key_{i}", type_=table.c[name].type) for i, name in enumerate(key)))


def _update(table: Table, key: Sequence[str], changed: Sequence[str]) -> Executable:
    match = _key_match(table, key)
    values = {table.c[name]: bindparam(f"value_{i}", type_=table.c[name].type) for i, name in enumerate(changed)}
    return update(table).where(match).values(values)


def _update_params(row: dict[str, Any], key: Sequence[str], changed: Sequence[str]) -> dict[str, Any]:
    params = {f"key_{i}": row[name] for i, name in enumerate(key)}
    params.update({f"value_{i}": row[name] for i, name in enumerate(changed)})
    return params


def _deleted_at(column: ColumnType) -> Any:
    """The time of a soft delete as its column keeps it: today (in UTC) in a date column, now (in UTC) to the
    digits of a second a timestamp column keeps, else as text."""
    now = datetime.now(UTC)
    if column.kind is Kind.DATE:
        return now.date()
    return column.convert(cut_to(now, column.fraction) if column.fraction is not None else now)


def _columns_of(operations: Sequence[Operation], key: Sequence[str]) -> set[str]:
    """The columns ``operations`` write: the key's, and those of every row."""
    columns = set(key)
    for operation in operations:
        if isinstance(operation, Upsert):
            columns.update(operation.row)
    return columns


def _key_text(key: tuple[Any, ...]) -> str:
    return key_text(key[0]) if len(key) == 1 else format_key(key)


def _rounds(operations: Sequence[Operation]) -> list[list[Operation]]:
    """``operations`` in order, cut wherever a key comes again: within a round every row is another."""
    rounds: list[list[Operation]] = []
    current: list[Operation] = []
    seen: set[tuple[Any, ...]] = set()
    for operation in operations:
        if operation.key in seen:
            rounds.append(current)
            current, seen = [], set()
        current.append(operation)
        seen.add(operation.key)
    if current:
        rounds.append(current)
    return rounds
