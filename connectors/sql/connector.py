"""The ``sql`` connector class: SQLite, PostgreSQL and MariaDB/MySQL tables through SQLAlchemy Core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, cast

from sqlalchemy import Select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connectors.base import (
    Batch,
    CallOrder,
    Checkpoint,
    Connector,
    EarlierWriteFailed,
    PermanentError,
    Record,
    StreamInfo,
    SystemConfig,
    TransientError,
    Write,
    WriteResult,
    format_key,
)
from connectors.sql.coercion import Kind, column_type
from connectors.sql.config import SqlStream, SqlSystem
from connectors.sql.databases import Backend, Database, create_engine, database
from connectors.sql.errors import database_errors
from connectors.sql.lookups import KeyLookup
from connectors.sql.pg_copy import copies
from connectors.sql.pg_exact import UNDECODABLE, ExactReads
from connectors.sql.read_only import read_only_connection
from connectors.sql.reading import Fetch, StreamReader, read_batches
from connectors.sql.sqlite_text import is_undecodable, undecodable_text_kept
from connectors.sql.streams import StreamShape, describe_stream
from connectors.sql.table_names import parse_table
from connectors.sql.writing import StreamWriter

_SQLITE_SCHEMA = text(
    "SELECT (SELECT schema_version FROM pragma_schema_version), type, name, sql FROM sqlite_master "
    "WHERE tbl_name = :table ORDER BY type, name"
)
_THROUGH_QUERY = "reading through the stream's query (it runs read-only: a query may only read)"


class SqlConnector(Connector):
    """SQLite, PostgreSQL and MariaDB/MySQL tables, read incrementally on a cursor column."""

    options_model = SqlSystem

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        self.options = cast(SqlSystem, system.options)
        self._database: Database | None = None
        self._engine: AsyncEngine | None = None
        self._exact: ExactReads | None = None
        """PostgreSQL's exact reads (asyncpg's): of batches with a value no Python type holds."""
        self._shapes: dict[str, StreamShape] = {}
        self._schemas: dict[str, tuple[Any, ...]] = {}
        """Each SQLite table's definition when its shape was described (see :meth:`_described`)."""
        self._readers: dict[str, StreamReader] = {}
        self._writers: dict[str, StreamWriter] = {}
        self._write_fields: dict[str, tuple[str, ...]] = {}
        self._write_order: dict[str, CallOrder] = {}

    # --- connections -----------------------------------------------------------------

    async def open(self) -> None:
        """Make the engine (connections open on first use), in a thread: loading the database's driver and
        SQLAlchemy's dialect for it takes tens of milliseconds, which the event loop spends meanwhile on
        the rest of the run (such as the source answering its first request).

        :raises TransientError: when the URL names a SQLite file that is not there (now): a missing
            file is an unreachable system, which may come back (a remounted disk, a restored backup)
        """
        found, self._engine = await asyncio.to_thread(self._made)
        self._database = found
        if found.backend is Backend.POSTGRESQL and found.url.get_driver_name() == "asyncpg":
            self._exact = ExactReads(found)

    def _made(self) -> tuple[Database, AsyncEngine]:
        found = database(self.options.url, self.system.root)
        if found.file is not None and not found.file.is_file():
            raise TransientError(
                f"{self.system.name}: the SQLite database {found.file} does not exist "
                f"(a relative path starts at the project's folder, {self.system.root})"
            )
        return found, create_engine(found)

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        exact, self._exact = self._exact, None
        if exact is not None:
            await exact.close()
        if engine is not None:
            await engine.dispose()

    async def check(self) -> None:
        engine = await self._connected()
        with self._errors(None, "connecting"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

    # --- streams -----------------------------------------------------------------------

    async def prepare(self, stream: str, *, write_fields: Sequence[str] | None = None) -> StreamInfo:
        shape = await self._described(stream)
        if write_fields is not None:
            shape.check_write(write_fields)
            self._write_fields[stream] = tuple(write_fields)
        return StreamInfo(fields=list(shape.columns))

    def reports_created(self, stream: str) -> bool:
        """On PostgreSQL (asyncpg), where the written columns go by COPY: ``RETURNING xmax = 0`` tells new rows."""
        shape, fields = self._shapes.get(stream), self._write_fields.get(stream)
        if shape is None or fields is None or not self._copies():
            return False
        soft = shape.options.delete.soft if shape.options.delete is not None else None
        return copies(shape, (*fields, *([soft] if soft else [])))

    def _copies(self) -> bool:
        database = self._database
        return (
            database is not None
            and database.backend is Backend.POSTGRESQL
            and database.url.get_driver_name() == "asyncpg"
        )

    async def _described(self, stream: str) -> StreamShape:
        """The stream's shape, described afresh at every run (the table may have changed since), unless it
        is a SQLite table whose schema is the same as when it was last described: one query, where
        describing takes about nine (a service running hundreds of small syncs a minute spent half its
        time on them)."""
        schema = await self._sqlite_schema(stream)
        shape = self._shapes.get(stream)
        if schema is not None and shape is not None and self._schemas.get(stream) == schema:
            return shape
        shape = await self._describe(stream)
        if schema is not None and self._engine is not None and not _sampled(shape, self._engine.dialect):
            self._schemas[stream] = schema
        return shape

    async def _sqlite_schema(self, stream: str) -> tuple[Any, ...] | None:
        """A SQLite table's definition as the file has it now (with its indexes, and the file's schema
        version, which any change of any table or view bumps), or ``None`` when it cannot tell."""
        options = self._stream_options(stream)
        engine = await self._connected()
        assert self._database is not None
        if self._database.backend is not Backend.SQLITE or options.query is not None or not options.table:
            return None
        table = parse_table(options.table)
        if table.schema is not None:
            return None
        with self._errors(stream, "reading the table's columns"):
            async with engine.connect() as conn:
                rows = (await conn.execute(_SQLITE_SCHEMA, {"table": table.name})).all()
        return tuple(tuple(row) for row in rows) or None

    async def _describe(self, stream: str) -> StreamShape:
        engine = await self._connected()
        try:
            shape = await self._describe_on(engine, stream)
        except UNDECODABLE:  # a query's first row holds a value no Python type holds (PostgreSQL)
            if self._exact is None:
                raise
            shape = await self._describe_on(self._exact.engine(), stream)
        self._shapes[stream] = shape
        self._schemas.pop(stream, None)
        self._readers.pop(stream, None)
        self._writers.pop(stream, None)
        return shape

    async def _describe_on(self, engine: AsyncEngine, stream: str) -> StreamShape:
        options = self._stream_options(stream)
        assert self._database is not None
        with self._errors(stream, "reading the table's columns" if options.query is None else _THROUGH_QUERY):
            async with self._reading(engine, options) as conn:
                return await describe_stream(conn, f"{self.system.name}.{stream}", options, self._database.backend)

    async def _shape(self, stream: str) -> StreamShape:
        shape = self._shapes.get(stream)
        if shape is None or not shape.keys_known:  # a query that had no rows may have some now
            shape = await self._describe(stream)
        return shape

    async def _reader(self, stream: str) -> StreamReader:
        shape = await self._shape(stream)
        if stream not in self._readers:
            self._readers[stream] = StreamReader(shape)
        return self._readers[stream]

    async def _writer(self, stream: str) -> StreamWriter:
        shape = await self._shape(stream)
        if stream not in self._writers:
            assert self._database is not None
            copy = self._copies()
            report = self.reports_created(stream)
            self._writers[stream] = StreamWriter(shape, shape.check_write([]), copy=copy, report_created=report)
        return self._writers[stream]

    def _stream_options(self, stream: str) -> SqlStream:
        try:
            return cast(SqlStream, self.system.stream(stream))
        except KeyError:
            there = ", ".join(sorted(self.options.streams))
            raise PermanentError(f"{self.system.name} has no stream {stream}; its streams are: {there}") from None

    # --- reading -----------------------------------------------------------------------

    async def read(self, stream: str, checkpoint: Checkpoint | None, batch_size: int) -> AsyncIterator[Batch]:
        reader = await self._reader(stream)
        async for batch in read_batches(reader, checkpoint, batch_size, self._fetcher(stream, reader)):
            yield batch

    async def get(self, stream: str, keys: Sequence[str]) -> dict[str, Record]:
        reader = await self._reader(stream)
        if not reader.shape.keys_known:
            return {}  # a query without rows
        lookup = KeyLookup(reader.shape, keys)
        fetch = self._fetcher(stream, reader)
        found: dict[str, Record] = {}
        for statement, params in _key_reads(reader, lookup, reader.by_keys, None, reader.by_keys_as_stored):
            records, _ = reader.split(await fetch(statement, params))
            for record in records:
                found.update(dict.fromkeys(lookup.texts_of(record), record))
        return found

    async def existing_keys(self, stream: str, keys: Sequence[str]) -> set[str]:
        return set(await self.held_keys(stream, keys))

    def key_fold(self, stream: str) -> Callable[[str], str] | None:
        """Where the table's key columns ignore case, accents or trailing spaces (see
        :mod:`connectors.sql.key_equality`)."""
        shape = self._shapes.get(stream)
        return shape.key_equality.text if shape is not None and shape.key_equality is not None else None

    async def held_keys(self, stream: str, keys: Sequence[str]) -> dict[str, str]:
        reader = await self._reader(stream)
        if not reader.shape.keys_known:
            return {}  # a query without rows
        lookup = KeyLookup(reader.shape, keys)
        fetch = self._fetcher(stream, reader)
        found: dict[str, str] = {}
        reads = _key_reads(reader, lookup, reader.keys_existing, reader.keys_between, reader.keys_as_stored)
        for statement, params in reads:
            for row in await fetch(statement, params):
                held = format_key(row)
                found.update(dict.fromkeys(lookup.texts_of(dict(zip(reader.shape.key, row, strict=True))), held))
        return found

    async def scan_keys(self, stream: str, batch_size: int) -> AsyncIterator[list[str]]:
        reader = await self._reader(stream)
        fetch = self._fetcher(stream, reader)
        after: list[Any] | None = None
        while True:
            statement = reader.keys_first if after is None else reader.keys_next
            rows = await fetch(statement, reader.page(after, batch_size))
            records, after = reader.split_keys(rows)
            if records:
                yield [format_key(values) for values in records]
            if len(rows) < batch_size:
                return

    def _fetcher(self, stream: str, reader: StreamReader) -> Fetch:
        """Runs a read statement on a connection of its own: none is held while the engine writes a batch.

        On PostgreSQL, a batch holding a value that no Python type holds (or that may be an infinity) is
        read again exactly, so that its row fails alone (see :mod:`connectors.sql.pg_exact`).
        """

        async def fetch(statement: Select[Any], params: dict[str, Any]) -> Sequence[Sequence[Any]]:
            exact = self._exact
            if exact is None:
                return await self._fetch(stream, reader, statement, params)
            if exact.needed_for(params):
                return await self._fetch_exactly(exact, stream, reader, statement, params)
            try:
                rows = await self._fetch(stream, reader, statement, params)
            except UNDECODABLE:
                return await self._fetch_exactly(exact, stream, reader, statement, params)
            doubt = exact.doubt(statement, rows, reader.shape)
            if doubt is not None and (
                doubt.statement is None or await self._fetch(stream, reader, doubt.statement, doubt.params)
            ):
                return await self._fetch_exactly(exact, stream, reader, statement, params)
            return rows

        return fetch

    async def _fetch(
        self, stream: str, reader: StreamReader, statement: Select[Any], params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        engine = await self._connected()
        with self._errors(stream, "reading" if reader.shape.options.query is None else _THROUGH_QUERY):
            async with self._reading(engine, reader.shape.options) as conn:
                raw = await reader.raw.fetch(conn, statement, params)
                if raw is not None:
                    return raw
                try:
                    return await self._rows(conn, stream, statement, params)
                except DBAPIError as exc:
                    if conn.dialect.name != "sqlite" or not is_undecodable(exc):
                        raise
                async with undecodable_text_kept(conn):  # a value that is not UTF-8: its record fails alone
                    return await self._rows(conn, stream, statement, params)

    async def _fetch_exactly(
        self, exact: ExactReads, stream: str, reader: StreamReader, statement: Select[Any], params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        with self._errors(stream, "reading" if reader.shape.options.query is None else _THROUGH_QUERY):
            async with self._reading(exact.engine(), reader.shape.options) as conn:
                rows = await self._rows(conn, stream, statement, params)
        return exact.located(rows, statement, reader.shape)

    async def _rows(
        self, conn: AsyncConnection, stream: str, statement: Select[Any], params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        result = await conn.execute(statement, params)
        try:
            rows: Sequence[Sequence[Any]] = result.all()
        except (ValueError, TypeError) as exc:  # SQLite hands back whatever text a column holds
            raise PermanentError(
                f"{self.system.name}.{stream}: reading: a value does not fit its column's type ({exc})"
            ) from exc
        return rows

    def _reading(self, engine: AsyncEngine, options: SqlStream) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection to read with: a read-only one for a stream's query (the user's SQL), else a plain one."""
        if options.query is None:
            return engine.connect()
        assert self._database is not None
        return read_only_connection(engine, self._database.backend)

    # --- writing -----------------------------------------------------------------------

    def overlapping_writes(self, stream: str) -> bool:
        """Where batches go by COPY (PostgreSQL): the next batch is staged while the one before is moved in."""
        return self.reports_created(stream)

    async def write(self, stream: str, writes: Sequence[Write]) -> list[WriteResult]:
        if not writes:
            return []
        turn = self._write_order.setdefault(stream, CallOrder()).turn()  # before any await: the call's place
        try:
            writer = await self._writer(stream)
            return await writer.write(await self._writing_engine(), writes, self._password, turn)
        except EarlierWriteFailed:
            raise
        except BaseException:
            turn.fail()
            raise
        finally:
            turn.end()

    # --- plumbing ----------------------------------------------------------------------

    async def _connected(self) -> AsyncEngine:
        if self._engine is None:
            await self.open()
        assert self._engine is not None
        return self._engine

    async def _writing_engine(self) -> AsyncEngine:
        """The pool writes run on: on PostgreSQL (asyncpg), the one whose dates are sent exactly, as asyncpg's
        own codecs send 9999-12-31 (and 0001-01-01 00:00) as ``infinity`` (``-infinity``)."""
        engine = await self._connected()
        return self._exact.engine() if self._exact is not None else engine

    @property
    def _password(self) -> str | None:
        return self._database.url.password if self._database is not None else None

    def _errors(self, stream: str | None, doing: str) -> AbstractContextManager[None]:
        where = self.system.name if stream is None else f"{self.system.name}.{stream}"
        shown = f" ({self._database.shown()})" if self._database is not None and stream is None else ""
        return database_errors(f"{where}{shown}: {doing}", self._password)


def _sampled(shape: StreamShape, dialect: Dialect) -> bool:
    """Whether a column reads compare (cursor, key) has a type SQLite does not declare: its type was then
    told by a value in it, and may change with the rows, not with the schema."""
    table, options = shape.table, shape.options
    compared = [*([options.cursor] if options.cursor else []), *options.key]
    return table is None or any(
        column_type(table.c[name].type, dialect).kind is Kind.OTHER for name in compared if name in table.c
    )


def _key_reads(
    reader: StreamReader,
    lookup: KeyLookup,
    listed: Select[Any],
    between: Select[Any] | None,
    as_stored: Select[Any] | None,
) -> Iterator[tuple[Select[Any], dict[str, Any]]]:
    """The statements that read the rows of the keys asked: ``between`` once where the keys lie close together
    (see :meth:`KeyLookup.span`), else ``listed`` per chunk of them, then ``as_stored`` for the texts no value
    of the key column is (see :attr:`KeyLookup.as_stored`)."""
    span = lookup.span() if between is not None else None
    if between is not None and span is not None:
        yield between, {"least": span[0], "greatest": span[1]}
        return  # every text asked was a whole number: none is looked up as stored
    for chunk in lookup.chunks(reader.lookup_chunk):
        yield listed, {"keys": chunk}
    if lookup.as_stored and as_stored is not None:
        yield as_stored, {"stored": lookup.as_stored}
