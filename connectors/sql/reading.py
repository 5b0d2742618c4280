"""Reading a stream in batches: keyset pagination, never OFFSET.

Two kinds of read, told apart by the checkpoint:

- **changes** (``{"cursor": v}``): rows whose cursor is at least ``v`` (less
  the lookback), in (cursor, key) order. Between batches the read goes on
  after the last row's (cursor, key), so rows that share a cursor value are
  never skipped at a batch boundary. Each batch's checkpoint is its last
  cursor value: the next run starts there again, with ``>=``, so rows that
  share it, or that were committed late, are seen again (the engine
  recognises them by hash).
- **full** (no checkpoint, or ``{"full": {...}}`` to resume one): every row
  in key order, batch checkpoints holding the last key; it ends with the
  checkpoint ``{"cursor": MAX(cursor) when the full read began}``, or ``{}``
  for a stream without a cursor (read in full again next time).

Rows whose key is NULL cannot be synced: they are read as records without a
key, each to fail alone (see :mod:`connectors.sql.keyless`), after a full
read's keyed rows and before a changes read's. Rows whose cursor is NULL are
read by full reads only.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import repeat
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.types import JSON, Float, NullType, Numeric, String, TypeDecorator

from connectors.base import Batch, Checkpoint, PermanentError, Record
from connectors.sql.coercion import DATE_KINDS, ColumnType, ColumnValueError
from connectors.sql.cursor_order import code_point_order
from connectors.sql.databases import Backend
from connectors.sql.key_order import binary_order, tied_keys
from connectors.sql.keyless import SINCE, KeylessPages, keyless_pages
from connectors.sql.lookups import LOOKUP_CHUNK
from connectors.sql.mariadb_values import read_exactly, real_date_at_or_before, time_exactly
from connectors.sql.pg_exact import storable, storable_range
from connectors.sql.pg_read import RawReads
from connectors.sql.read_values import CONVERTED, JsonRead, SqliteValue
from connectors.sql.streams import StreamShape

Fetch = Callable[[Select[Any], dict[str, Any]], Awaitable[Sequence[Sequence[Any]]]]
"""Runs a statement with its parameters and returns every row (SQLAlchemy's rows, or asyncpg's records)."""

_LIMIT = "brygga_limit"
_SINCE = SINCE
_BEFORE = "brygga_before"


def _number_as_given(column: ColumnElement[Any], backend: Backend) -> ColumnElement[Any]:
    """A number column read exactly: SQLAlchemy makes MariaDB's DOUBLE and FLOAT, and SQLite's NUMERIC of no
    declared scale, decimals of ten places (1e-30 read as 0, 0.123456789012345 as 0.1234567890), and fails
    a whole read on text that SQLite keeps in a NUMERIC column. A float column gives the driver's float; a
    SQLite NUMERIC the exact decimal of what it stores. PostgreSQL's are read by asyncpg as they are."""
    kind = column.type
    if backend is Backend.POSTGRESQL:
        return column
    if isinstance(kind, Float):  # no Numeric in SQLAlchemy 2.1
        return type_coerce(column, NullType()).label(column.key)
    if backend is Backend.SQLITE and isinstance(kind, Numeric) and kind.scale is None:
        return type_coerce(column, _ExactNumeric()).label(column.key)
    return column


def _as_read(column: ColumnElement[Any], shape: StreamShape) -> ColumnElement[Any]:
    """A column as its records hold it: numbers exactly (:func:`_number_as_given`), MariaDB's durations
    and zero dates as :func:`~connectors.sql.mariadb_values.read_exactly` reads them, SQLite's and MySQL's
    JSON and SQLite's converted values as :mod:`connectors.sql.read_values` reads them."""
    where = f"{shape.where}, column {column.key}"
    if shape.backend is not Backend.POSTGRESQL and isinstance(column.type, JSON):
        return type_coerce(column, JsonRead(where)).label(column.key)
    if shape.backend is Backend.MYSQL:
        mariadb = read_exactly(column, shape.where, of_table=shape.options.query is None)
        if mariadb is not None:
            return mariadb
    exact = _number_as_given(column, shape.backend)
    # a float, or a SQLite NUMERIC of no scale, is read exactly already (and text in it left as text)
    if exact is column and shape.backend is Backend.SQLITE and isinstance(column.type, CONVERTED):
        return type_coerce(column, SqliteValue(column.type, where)).label(column.key)
    return exact


def _mariadb_bound(kind: ColumnType | None, value: Any) -> Any:
    """A MariaDB checkpoint value as bound: a date the driver handed over as text (``2024-05-00``, a zero date)
    as the latest real one at or before it, so that a stored cursor holding one goes on reading from there.

    :raises ColumnValueError: when the value does not fit its column any more
    """
    if kind is None:
        return value
    try:
        return kind.convert(value)
    except ColumnValueError:
        if kind.kind not in DATE_KINDS or not isinstance(value, str):
            raise
        real = real_date_at_or_before(value)
        if real is None:
            raise
        return real


class _ExactNumeric(TypeDecorator[Any]):
    """SQLite's NUMERIC as it stores it: an integer or a float as the decimal it is, text left as text (its
    record fails alone where a number is wanted)."""

    impl = NullType
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value.__class__ is float:
            return Decimal(repr(value)) if math.isfinite(value) else value
        if value.__class__ is int:
            return Decimal(value)
        return value


class StreamReader:
    """The statements that read one stream, built once and reused batch after batch."""

    def __init__(self, shape: StreamShape) -> None:
        self.shape = shape
        source = shape.source
        self.columns = [_as_read(source.c[name], shape) for name in shape.columns]
        self.key = [self._comparable(name) for name in shape.key]
        self._binary = {
            id(value): name for name, value in zip(shape.key, self.key, strict=True) if name in tied_keys(shape)
        }
        """Key columns whose collation may take distinct values for equal, by expression: ordered by their bytes."""
        self.cursor = self._comparable(shape.options.cursor) if shape.options.cursor else None
        self._code_points = {id(self.cursor)} if self.cursor is not None and shape.cursor_by_code_points else set()
        """The cursor, by expression, where it is text to order by its code points (see :mod:`.cursor_order`)."""
        key_columns = [self._exact(source.c[name]) for name in shape.key]
        keys_present = and_(*(column.is_not(None) for column in key_columns))
        self.full_first = self._select(self.columns, self.key).where(keys_present)
        self.full_next = self.full_first.where(self._after(self.key))
        if self.cursor is not None:
            ordered = [self.cursor, *self.key]
            self.changes_first = self._select(self.columns, ordered).where(keys_present, self._since(_SINCE))
            self.changes_next = self._select(self.columns, ordered).where(keys_present, self._after(ordered))
            self.max_cursor = self._greatest(self.cursor)
        self.spaced_rows: Select[Any] | None = None
        """On SQLite: whether rows in a range of cursor text exist (see :func:`_spaced_since`)."""
        if self.cursor is not None and shape.backend is Backend.SQLITE:
            before = self._in_order(self.cursor, bindparam(_BEFORE))
            between = and_(self._since(_SINCE), self._in_order(self.cursor, self.cursor) < before)
            self.spaced_rows = select(self.cursor).select_from(source).where(between).limit(1)
        self.keyless: KeylessPages | None = keyless_pages(
            shape, self.columns, self._since(_SINCE) if self.cursor is not None else None
        )
        """Reads of the rows whose key is NULL, or ``None`` where the key cannot be NULL."""
        self.keys_first = self._select(key_columns, self.key).where(keys_present)
        self.keys_next = self.keys_first.where(self._after(self.key))
        postgres = shape.backend is Backend.POSTGRESQL
        self.by_keys = select(*self.columns).where(_key_in(key_columns, postgres))
        written = [self._exact(shape.table.c[name]) for name in shape.key] if shape.table is not None else key_columns
        self.keys_existing = select(*written).where(_key_in(written, postgres))
        self.by_keys_as_stored: Select[Any] | None = None
        self.keys_as_stored: Select[Any] | None = None
        """Rows by keys bound as ``stored``, compared as the text SQLite keeps (see :class:`KeyLookup`)."""
        if shape.backend is Backend.SQLITE and len(written) == 1:
            stored = bindparam("stored", expanding=True, type_=String())
            self.by_keys_as_stored = select(*self.columns).where(type_coerce(key_columns[0], String()).in_(stored))
            as_text = type_coerce(written[0], String())
            self.keys_as_stored = select(as_text).where(as_text.in_(stored))
        self.keys_between: Select[Any] | None = None
        """The key of every row from the one bound as ``least`` to ``greatest`` (a one-column key), where a
        list of keys costs more: not on PostgreSQL, which takes the whole list as one array."""
        if not postgres and len(written) == 1:
            self.keys_between = select(*written).where(written[0].between(bindparam("least"), bindparam("greatest")))
        self.lookup_chunk = 100_000 if postgres and len(shape.key) == 1 else LOOKUP_CHUNK
        self.raw = RawReads(shape)
        self.storable: Callable[[Any], bool] = storable if postgres else _any_value
        """Whether a keyset value read can be stored as a checkpoint (PostgreSQL's ``infinity`` cannot)."""

    def _comparable(self, name: str) -> ColumnElement[Any]:
        """A column as keyset pagination compares it.

        SQLite keeps dates as text in whatever format wrote them, while
        SQLAlchemy binds dates in one format of its own: comparing those
        would skip rows. So on SQLite the key and cursor are compared and
        checkpointed exactly as stored.
        """
        column = self.shape.source.c[name]
        return type_coerce(column, NullType()) if self.shape.backend is Backend.SQLITE else self._exact(column)

    def _exact(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A key or cursor column read as its very value (a MariaDB ``TIME`` duration as a duration)."""
        return time_exactly(column) if self.shape.backend is Backend.MYSQL else column

    def _select(self, columns: Sequence[ColumnElement[Any]], keyset: list[ColumnElement[Any]]) -> Select[Any]:
        """``columns``, then the keyset values labelled (a key is also a plain column), in keyset order."""
        labelled = [value.label(f"brygga_keyset_{index}") for index, value in enumerate(keyset)]
        ordered = [self._in_order(value, value) for value in keyset]
        return select(*columns, *labelled).order_by(*ordered).limit(bindparam(_LIMIT, type_=None))

    def _in_order(self, column: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
        """``value`` as keyset pagination orders and compares ``column``: by its bytes where the column's
        collation takes distinct texts for equal (see :func:`tied_keys`), a text cursor by its code points."""
        if id(column) in self._binary:
            return binary_order(value, self.shape.backend)
        return code_point_order(value, self.shape.backend) if id(column) in self._code_points else value

    def _since(self, name: str) -> ColumnElement[bool]:
        """Rows whose cursor is at least the value bound as ``name``, compared as the read orders them."""
        assert self.cursor is not None
        return self._in_order(self.cursor, self.cursor) >= self._in_order(self.cursor, bindparam(name))

    def _greatest(self, cursor: ColumnElement[Any]) -> Select[Any]:
        """The greatest value of ``cursor``, or NULL, as the read orders it: a text cursor by its code points,
        found by that order (MariaDB's ``MAX()`` of the bytes would give bytes, not the text); on PostgreSQL
        one that :func:`~connectors.sql.pg_exact.storable` takes."""
        source, name = self.shape.source, self.shape.options.cursor
        if id(cursor) in self._code_points:
            ordered = self._in_order(cursor, cursor).desc()
            greatest = select(cursor).select_from(source).where(cursor.is_not(None)).order_by(ordered).limit(1)
            return select(greatest.scalar_subquery())
        statement = select(func.max(cursor)).select_from(source)
        if self.shape.backend is Backend.POSTGRESQL and name in self.shape.types:
            return statement.where(*storable_range(cursor, self.shape.types[name]))
        return statement

    def _after(self, keyset: list[ColumnElement[Any]]) -> ColumnElement[bool]:
        """Rows after the keyset values bound as ``after_0``, ``after_1``, …, in keyset order."""
        bounds = [
            self._in_order(value, bindparam(f"after_{index}", type_=value.type)) for index, value in enumerate(keyset)
        ]
        keyset = [self._in_order(value, value) for value in keyset]
        if len(keyset) == 1:
            return keyset[0] > bounds[0]
        if self.shape.backend is not Backend.MYSQL:
            return tuple_(*keyset) > tuple_(*bounds)
        return _expanded_after(keyset, bounds)  # MariaDB's optimizer uses an index for this form, not for rows

    def split(self, rows: Sequence[Sequence[Any]]) -> tuple[list[Record], list[Any]]:
        """The rows as records, and the last row's keyset values."""
        width = len(self.columns)
        names = self.shape.columns
        # zip stops at the last name, before the keyset values: slicing a SQLAlchemy row first
        # costs twice what the rest of this does (about 3 µs a row); zip called with ``strict=`` takes
        # its slow way for keyword arguments (0.4 µs a row), so it is mapped instead
        records = list(map(dict, map(zip, repeat(names), rows)))
        return records, list(rows[-1][width:]) if rows else []

    def cursor_reached(self, rows: Sequence[Sequence[Any]], before: Any) -> Any:
        """The cursor a changes batch of ``rows`` ends at: its last row's, or where that cannot be stored
        (PostgreSQL's ``infinity``, a year past 9999), the last before it that can; else ``before``. Its
        rows after that one are read again next run, never skipped; and the stored cursor never jumps to
        the end of time, from where no later change would be read."""
        width = len(self.columns)
        for row in reversed(rows):
            if self.storable(row[width]):
                return row[width]
        return before

    def split_keys(self, rows: Sequence[Sequence[Any]]) -> tuple[list[list[Any]], list[Any]]:
        """Rows of :attr:`keys_first` or :attr:`keys_next` as key values, and the last row's keyset values."""
        width = len(self.shape.key)
        return [list(tuple(row)[:width]) for row in rows], list(rows[-1][width:]) if rows else []

    @staticmethod
    def page(after: Sequence[Any] | None, size: int) -> dict[str, Any]:
        """The parameters of the page of ``size`` rows after the keyset values ``after`` (``None``: the first page)."""
        return {**{f"after_{index}": value for index, value in enumerate(after or ())}, _LIMIT: size}

    def bound(self, names: Sequence[str], values: Sequence[Any]) -> list[Any]:
        """Checkpoint values as the driver wants them bound (after a trip through JSON).

        :raises ColumnValueError: when a value does not fit its column any more
        """
        if self.shape.backend is Backend.SQLITE:
            return [_as_stored(value) for value in values]  # compared exactly as stored
        types = self.shape.types
        if self.shape.backend is Backend.MYSQL:
            return [_mariadb_bound(types.get(name), value) for name, value in zip(names, values, strict=True)]
        return [
            types[name].convert(value) if name in types else value for name, value in zip(names, values, strict=True)
        ]

    def since(self, value: Any) -> Any:
        """Where a changes read starts: ``value`` less the stream's lookback.

        :raises PermanentError: when lookback is set and ``value`` is no date
        """
        lookback = self.shape.options.lookback
        if lookback is None:
            return value
        if isinstance(value, datetime):
            return value - lookback
        if isinstance(value, date):
            return value - timedelta(days=math.ceil(lookback / timedelta(days=1)))
        if isinstance(value, str):
            shifted = _text_moment_minus(value, lookback)
            if shifted is not None:
                return shifted
        raise PermanentError(
            f"{self.shape.where}: lookback needs a date or datetime cursor, and the stored cursor is {value!r}: "
            "remove lookback, or choose a timestamp column"
        )


def _any_value(value: Any) -> bool:
    return True


def _expanded_after(keyset: Sequence[ColumnElement[Any]], bounds: Sequence[ColumnElement[Any]]) -> ColumnElement[bool]:
    """``(a, b, …) > (x, y, …)`` written out as ``a > x OR (a = x AND (b > y OR …))``."""
    first, bound = keyset[0], bounds[0]
    if len(keyset) == 1:
        return first > bound
    return or_(first > bound, and_(first == bound, _expanded_after(keyset[1:], bounds[1:])))


def _as_stored(value: Any) -> Any:
    """A value to compare with SQLite's own: a date as the ISO text SQLite keeps dates in."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value.isoformat() if isinstance(value, date) else value


def _text_moment_minus(text: str, lookback: timedelta) -> str | None:
    """A date or timestamp kept as text, moved back by ``lookback``, written in the same style (SQLite)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if len(text.strip()) == 10:  # a date
        return (moment.date() - timedelta(days=math.ceil(lookback / timedelta(days=1)))).isoformat()
    separator = "T" if text.strip()[10:11] == "T" else " "
    shifted = moment - lookback
    if moment.tzinfo is None and shifted.tzinfo is None:
        return shifted.isoformat(sep=separator, timespec="microseconds" if "." in text else "seconds")
    return shifted.isoformat(sep=separator)


async def read_batches(
    reader: StreamReader, checkpoint: Checkpoint | None, size: int, fetch: Fetch
) -> AsyncIterator[Batch]:
    """The stream's batches from ``checkpoint``; see the module's docstring.

    :raises PermanentError: when a stored cursor no longer fits its column
    """
    options = reader.shape.options
    stored = checkpoint.get("cursor") if isinstance(checkpoint, dict) else None
    if options.cursor is not None and stored is not None:
        try:
            (value,) = reader.bound([options.cursor], [stored])
        except ColumnValueError as exc:
            raise PermanentError(
                f"{reader.shape.where}: the stored cursor {stored!r} does not fit column {options.cursor} ({exc}): "
                "run the sync with --full to read everything again"
            ) from None
        async for batch in _changes(reader, value, size, fetch):
            yield batch
        return
    async for batch in _full(reader, checkpoint, size, fetch):
        yield batch


async def _changes(reader: StreamReader, stored: Any, size: int, fetch: Fetch) -> AsyncIterator[Batch]:
    since = await _spaced_since(reader, reader.since(stored), fetch)
    async for records in _keyless(reader, size, fetch, (since,)):  # before the cursor moves past any of them
        yield Batch(records, {"cursor": stored})
    rows = await fetch(reader.changes_first, {_SINCE: since, _LIMIT: size})
    cursor = stored
    while rows:
        records, last = reader.split(rows)
        cursor = reader.cursor_reached(rows, cursor)
        yield Batch(records, {"cursor": cursor})
        if len(rows) < size:
            return
        rows = await fetch(reader.changes_next, reader.page(last, size))


async def _spaced_since(reader: StreamReader, since: Any, fetch: Fetch) -> Any:
    """Where a changes read starts on SQLite, where its column mixes ``2024-05-01T12:00:01`` and
    ``2024-05-01 12:05:00``: the cursor written with a space.

    SQLite keeps dates as text, compared as text, and a space sorts before ``T``: after a stored cursor in the
    ``T`` style, a row that another program wrote in the space style on the same day, later, was never read.
    Where such a row is there, the read starts at the cursor's space style instead: that day's rows in the
    ``T`` style are read again (unchanged, they are left alone). A column in one style reads as before.
    """
    if reader.spaced_rows is None or not isinstance(since, str) or not _T_STYLE.match(since):
        return since
    spaced = f"{since[:10]} {since[11:]}"
    found = await fetch(reader.spaced_rows, {_SINCE: spaced, _BEFORE: f"{since[:10]}T"})
    return spaced if found else since


_T_STYLE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
"""A timestamp written as ISO 8601 text with its ``T``."""


async def _full(reader: StreamReader, checkpoint: Checkpoint | None, size: int, fetch: Fetch) -> AsyncIterator[Batch]:
    start, after = _resumed(reader, checkpoint)
    if after is None and reader.cursor is not None:
        start = (await fetch(reader.max_cursor, {}))[0][0]
        start = start if reader.storable(start) else None  # then read in full again next run
    stored_after = after
    while True:
        # one row more than a batch tells whether this batch is the last: a table of a multiple of
        # the batch size then ends with its last full batch, not with a read of nothing after it
        if after is None:
            rows = await fetch(reader.full_first, {_LIMIT: size + 1})
        else:
            rows = await fetch(reader.full_next, reader.page(after, size + 1))
        records, last = reader.split(rows[:size])
        if len(rows) <= size:
            final: Checkpoint = {"cursor": start} if reader.cursor is not None and start is not None else {}
            if last and all(map(reader.storable, last)):
                stored_after = last
            resumed = {"full": {"after": stored_after, "start": start}}  # a crash reads only keyless rows again
            async for keyless in _keyless(reader, size, fetch):
                if records:
                    yield Batch(records, resumed)
                records = keyless
            yield Batch(records, final)
            return
        after = last
        if all(map(reader.storable, after)):  # else a crash goes on after the batch before, or from the start
            stored_after = after
        yield Batch(records, {"full": {"after": stored_after, "start": start}})


async def _keyless(
    reader: StreamReader, size: int, fetch: Fetch, since: tuple[Any] | None = None
) -> AsyncIterator[list[Record]]:
    """The rows whose key is NULL, as records in pages of ``size`` (none where the key cannot be NULL); of a
    changes read, those whose cursor is at least ``since``'s value."""
    pages = reader.keyless
    if pages is None:
        return
    first, following, extra = pages.first, pages.next, {}
    if since is not None:
        assert pages.changes_first is not None and pages.changes_next is not None  # a changes read has a cursor
        first, following, extra = pages.changes_first, pages.changes_next, {_SINCE: since[0]}
    after: list[Any] | int | None = None
    read = 0
    while True:
        rows = await fetch(first if after is None else following, {**pages.page(after, size), **extra})
        records, last = reader.split(rows)
        read += len(rows)
        if records:
            yield records
        if len(rows) < size:
            return
        after = read if pages.by_offset else last


def _resumed(reader: StreamReader, checkpoint: Checkpoint | None) -> tuple[Any, list[Any] | None]:
    """The start cursor and last key of a full read that ``checkpoint`` resumes, else ``(None, None)``."""
    full = checkpoint.get("full") if isinstance(checkpoint, dict) else None
    if not isinstance(full, dict):
        return None, None
    after, start = full.get("after"), full.get("start")
    if not isinstance(after, list) or len(after) != len(reader.shape.key):
        return None, None  # not a checkpoint of this stream's key: read it all again, never skip
    try:
        after = reader.bound(reader.shape.key, after)
        if start is not None and reader.shape.options.cursor is not None:
            (start,) = reader.bound([reader.shape.options.cursor], [start])
    except ColumnValueError:
        return None, None
    return start, after


def _key_in(columns: Sequence[ColumnElement[Any]], postgres: bool) -> ColumnElement[bool]:
    """The key is one of the list bound as ``keys`` (values, or tuples of values for a composite key).

    On PostgreSQL a one-column key is compared with ``= ANY`` of one array parameter: a
    single round trip for a whole batch, with no statement rebuilt per list length.
    """
    if postgres and len(columns) == 1:
        from sqlalchemy.dialects.postgresql import ARRAY  # noqa: PLC0415 - the PostgreSQL dialect, for its tables only

        return columns[0] == any_(bindparam("keys", type_=ARRAY(columns[0].type)))
    compared = columns[0] if len(columns) == 1 else tuple_(*columns)
    matches: ColumnElement[bool] = compared.in_(bindparam("keys", expanding=True))
    return matches
