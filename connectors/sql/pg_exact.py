"""PostgreSQL batches read again exactly where a value in them has no Python type, so its row fails alone.

asyncpg decodes a batch in C, fast; a date before year 1 or after 9999, a
``time '24:00'`` or a ``json`` value nested too deeply made it raise for the
whole batch, so every read of the table failed, and it reads ``infinity``
as 9999-12-31 (see :mod:`connectors.sql.pg_values`). The usual read stays as
it was; a batch is read again, the same statement with the same parameters,
on connections that decode those types exactly, when:

- its read raised on a value (a ``ValueError`` or ``OverflowError`` from a decoder);
- it holds a date or timestamp that asyncpg gives for ``infinity`` or
  ``-infinity`` too (:data:`AMBIGUOUS`): the exact read tells which it is;
  in an array or as a range's bound too (asyncpg reads those with the same
  decoders), where the batch is read again exactly without asking first;
- a parameter is a value only the exact read can send (the page after a row
  whose key or cursor has no Python type).

In the exact read's records, each value without a Python type is an
:class:`~connectors.base.UnreadableValue` naming its column and what to do
(an array's item; a range whole, as a record's check does not look inside
one): the record fails alone where a sync maps that column. Keyset values keep the
value as read (:class:`~connectors.sql.pg_values.Unholdable`), to page on
after it; they are never stored as a checkpoint (:func:`storable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from operator import attrgetter, is_not, itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, Select, any_, bindparam, event, false, func, literal_column, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from connectors.base import UnreadableValue
from connectors.sql.coercion import ColumnType, Kind
from connectors.sql.databases import Database, create_engine
from connectors.sql.pg_values import EXACT_TYPES, Unholdable, sql_name, tolerant_json
from connectors.sql.streams import StreamShape

AMBIGUOUS = frozenset({date.max, date.min, datetime.max, datetime.min})
"""What asyncpg reads ``infinity`` and ``-infinity`` dates and timestamps as, and real dates as too."""

UNDECODABLE = (ValueError, OverflowError)
"""What asyncpg's decoders (and the JSON parser, :class:`~connectors.base.NotJson`) raise for a value that
no Python type holds: nothing a database error is (those are translated before)."""

_PRESENT = partial(is_not, None)
_ZONE = attrgetter("tzinfo")


def storable(value: Any) -> bool:
    """Whether a keyset value read from PostgreSQL can be stored as a checkpoint and bound again as itself."""
    if isinstance(value, date):
        return value not in AMBIGUOUS
    return not isinstance(value, Unholdable)


def storable_range(cursor: ColumnElement[Any], kind: ColumnType) -> list[ColumnElement[bool]]:
    """Conditions that keep to the values of a date or timestamp ``cursor`` that :func:`storable` takes: where
    a full read finds the cursor to store at its end (the greatest row's may be ``infinity``)."""
    if kind.kind is Kind.DATE:
        lowest, highest = "'0001-01-01'", "'9999-12-31'"
    elif kind.kind is Kind.DATETIME:
        zone = "+00" if kind.aware else ""
        lowest, highest = f"'0001-01-01 00:00:00{zone}'", f"'9999-12-31 23:59:59.999999{zone}'"
    else:
        return []
    return [cursor > literal_column(lowest), cursor < literal_column(highest)]


class ExactReads:
    """One PostgreSQL system's exact reads, and what tells that a batch needs one."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine: AsyncEngine | None = None
        self._dated: WeakKeyDictionary[Select[Any], _DatedColumns] = WeakKeyDictionary()
        """By statement: a run's statements go with its stream's reader (a service describes streams anew)."""

    def engine(self) -> AsyncEngine:
        """The pool exact reads run on, made at the first."""
        if self._engine is None:
            self._engine = create_engine(self._database)
            event.listen(self._engine.sync_engine, "connect", _exact_codecs)
        return self._engine

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()

    @staticmethod
    def needed_for(params: Mapping[str, Any]) -> bool:
        """Whether a parameter is a value that only an exact read sends as itself: one without a Python
        type, or a date that asyncpg would send as ``infinity`` (9999-12-31, read exactly)."""
        return not all(map(_sent_as_itself, params.values()))

    def doubt(self, statement: Select[Any], rows: Sequence[Sequence[Any]], shape: StreamShape) -> Doubt | None:
        """What tells whether ``rows`` (of ``statement``, read the usual way) hold an infinity, where they hold
        a date that may be one; ``None`` where they hold none."""
        if not rows:
            return None
        dated = self._dated.get(statement)
        if dated is None:
            dated = self._dated[statement] = _DatedColumns(statement, shape)
        return dated.doubt(rows)

    @staticmethod
    def located(rows: Sequence[Sequence[Any]], statement: Select[Any], shape: StreamShape) -> list[Sequence[Any]]:
        """Rows of an exact read, each value without a Python type in a record's column made an
        :class:`~connectors.base.UnreadableValue` that names it."""
        names = list(statement.selected_columns.keys())
        columns = set(shape.columns)

        def located(name: str, value: Any) -> Any:
            return _located(value, shape.where, name) if name in columns else value

        return [list(map(located, names, row)) if any(map(_unholdable, row)) else row for row in rows]


def _sent_as_itself(value: Any) -> bool:
    if isinstance(value, Unholdable):
        return False
    if isinstance(value, date):
        return value not in AMBIGUOUS
    if isinstance(value, list) and value and isinstance(value[0], date):  # the keys of a look-up
        return AMBIGUOUS.isdisjoint(value)
    return True


def _unholdable(value: Any) -> bool:
    if isinstance(value, Unholdable):
        return True
    if isinstance(value, list):
        return any(map(_unholdable, value))
    bounds = range_bounds(value)
    return bounds is not None and any(isinstance(bound, Unholdable) for bound in bounds)


def _located(value: Any, where: str, column: str, *, whole: bool = True) -> Any:
    if isinstance(value, Unholdable):
        return value.unreadable(where, column, whole=whole)
    if isinstance(value, list):  # an array
        return [_located(item, where, column, whole=False) for item in value]
    bounds = range_bounds(value)
    if bounds is not None and any(isinstance(bound, Unholdable) for bound in bounds):
        return unreadable_range(value, bounds, where, column)
    return value


_RANGES = frozenset({("asyncpg.types", "Range"), ("sqlalchemy.dialects.postgresql.ranges", "Range")})
"""A PostgreSQL range as asyncpg reads it (a query's column read by the driver) and as SQLAlchemy does: told by
name, so that no other database's read imports PostgreSQL's modules."""


def range_bounds(value: Any) -> tuple[Any, Any] | None:
    """A PostgreSQL range's lower and upper bound (``None`` where it has none), or ``None`` for any other value."""
    kind = value.__class__
    if (kind.__module__, kind.__name__) in _RANGES:
        return value.lower, value.upper
    return None


def unreadable_range(value: Any, bounds: tuple[Any, Any], where: str, column: str) -> UnreadableValue:
    """A range with a bound no Python type holds, as its record holds it: unreadable whole."""
    lower, upper = (_bound_text(bound) for bound in bounds)
    opening = "[" if getattr(value, "lower_inc", str(getattr(value, "bounds", "[)"))[0] == "[") else "("
    closing = "]" if getattr(value, "upper_inc", str(getattr(value, "bounds", "[)"))[-1] == "]") else ")"
    text = f"{opening}{lower},{upper}{closing}"
    bound = next(bound for bound in bounds if isinstance(bound, Unholdable))
    why = (
        f"a range with the bound {bound.text}, which Brygga cannot hold: read the column as text in the stream's "
        f"query ({sql_name(column)}::text)"
    )
    return UnreadableValue(text, f"{where}, column {column}", why)


def _bound_text(bound: Any) -> str:
    if bound is None:
        return ""
    return bound.text if isinstance(bound, Unholdable) else str(bound)


@dataclass(frozen=True, slots=True)
class Doubt:
    """How to tell whether a batch holds an infinity: ``statement`` (with ``params``) finds a row of the
    batch that holds one, or, where it is ``None``, only reading the batch again exactly tells."""

    statement: Select[Any] | None
    params: dict[str, Any]


class _DatedColumns:
    """Which places of a statement's rows hold dates or timestamps, told by the first value seen in each
    (a column of a query, or of a domain type, has no type Brygga knows), and how to ask the database
    which of a batch's rows hold an infinity there: by their keys, a look-up of a few milliseconds where
    a batch read again exactly takes three times its first read (a table with a ``valid_to`` of
    9999-12-31 in every row would pay that for every batch).

    Looking costs about 70 ns a value: a set look-up for dates and timestamps, and for a ``timestamptz``
    whether a value has no zone (asyncpg reads its infinities as naive 9999-12-31 and 0001-01-01; hashing
    a moment with a zone costs five times as much). A keyset value is not looked at again where its
    column is read too.
    """

    def __init__(self, statement: Select[Any], shape: StreamShape) -> None:
        self.shape = shape
        self.names = list(statement.selected_columns.keys())
        columns = set(shape.columns)
        self.unseen = [place for place, name in enumerate(self.names) if name in columns] or list(
            range(len(self.names))  # no column of the stream (its greatest cursor): the values it has
        )
        """Places whose values were all NULL so far."""
        self.dated: list[tuple[int, Callable[[Iterable[Any]], bool]]] = []
        self.composite: set[int] = set()
        """Places of arrays and ranges of dates or timestamps."""
        keys = [self.names.index(name) for name in shape.key if name in self.names]
        self.keys = itemgetter(*keys) if len(keys) == len(shape.key) else None
        self.checks: dict[frozenset[str], Select[Any]] = {}

    def doubt(self, rows: Sequence[Sequence[Any]]) -> Doubt | None:
        if self.unseen:
            self._learn(rows)
        doubtful = [place for place, holds_infinity in self.dated if holds_infinity(map(itemgetter(place), rows))]
        if not doubtful:
            return None
        names = frozenset(self.names[place] for place in doubtful)
        if self.keys is None or not names <= set(self.shape.columns) or names & set(self.shape.key):
            return Doubt(None, {})  # no keys to ask by, or a key that may be an infinity itself
        keys = list(map(self.keys, rows))
        if None in keys or any(None in key for key in keys if isinstance(key, tuple)):
            return Doubt(None, {})  # a row without a key (see connectors.sql.keyless): no key finds it
        if not self.composite.isdisjoint(doubtful):
            return Doubt(None, {})  # an array's or a range's: isfinite() takes no such value, the exact read tells
        check = self.checks.get(names)
        if check is None:
            check = self.checks[names] = _infinity_check(self.shape, sorted(names))
        return Doubt(check, {"keys": keys})

    def _learn(self, rows: Sequence[Sequence[Any]]) -> None:
        unseen = []
        for place in self.unseen:
            first = next(filter(_PRESENT, map(itemgetter(place), rows)), None)
            if first is None:
                unseen.append(place)
            elif isinstance(first, datetime) and first.tzinfo is not None:
                self.dated.append((place, _naive_among))
            elif isinstance(first, date):  # datetimes too
                self.dated.append((place, _ambiguous_among))
            elif isinstance(first, list) or range_bounds(first) is not None:  # an array or a range: of what?
                inner = next(filter(_PRESENT, map(_inner, map(itemgetter(place), rows))), None)
                if inner is None:
                    unseen.append(place)  # only empty ones so far
                elif isinstance(inner, date):
                    self.dated.append((place, _ambiguous_within))
                    self.composite.add(place)
        self.unseen = unseen


def _ambiguous_among(values: Iterable[Any]) -> bool:
    return not AMBIGUOUS.isdisjoint(values)


def _ambiguous_within(values: Iterable[Any]) -> bool:
    """Whether an array or range among ``values`` holds a date or timestamp that may be an infinity: asyncpg
    reads one there as it reads one alone (a ``timestamptz`` one without a zone, which the set finds too)."""
    return any(map(_holds_ambiguous, filter(_PRESENT, values)))


def _holds_ambiguous(value: Any) -> bool:
    if isinstance(value, list):  # an array, of any number of dimensions (PostgreSQL allows 6)
        return any(map(_holds_ambiguous, value))
    bounds = range_bounds(value)
    if bounds is not None:
        return any(bound in AMBIGUOUS for bound in bounds if bound is not None)
    return value in AMBIGUOUS


def _inner(value: Any) -> Any:
    """The first value other than null inside an array (of any dimensions) or a range's bounds, or ``None``."""
    if value is None:
        return None
    bounds = range_bounds(value)
    items = bounds if bounds is not None else value if isinstance(value, list) else None
    if items is None:
        return value
    return next(filter(_PRESENT, map(_inner, items)), None)


def _naive_among(values: Iterable[Any]) -> bool:
    """Whether a ``timestamptz`` value has no zone: asyncpg's infinity or -infinity."""
    return None in map(_ZONE, filter(None, values))


def _infinity_check(shape: StreamShape, names: Sequence[str]) -> Select[Any]:
    """A row whose key is among those bound as ``keys`` with ``infinity`` or ``-infinity`` in one of ``names``."""
    source = shape.source
    key = [source.c[name] for name in shape.key]
    if len(key) == 1:
        from sqlalchemy.dialects.postgresql import ARRAY  # noqa: PLC0415 - the PostgreSQL dialect, for its tables only

        among = key[0] == any_(bindparam("keys", type_=ARRAY(key[0].type)))
    else:
        among = tuple_(*key).in_(bindparam("keys", expanding=True))
    infinite = or_(*(func.isfinite(source.c[name]).is_(false()) for name in names))
    return select(literal_column("1")).select_from(source).where(among, infinite).limit(1)


def _exact_codecs(connection: Any, _record: Any) -> None:
    """On each new connection of the exact pool: dates, timestamps and times decoded exactly, and JSON
    that cannot be read kept as an :class:`~connectors.sql.pg_values.Unholdable` (after SQLAlchemy's
    own JSON codecs, which this replaces)."""
    driver = connection.driver_connection

    async def install() -> None:
        for name, (encoder, decoder) in EXACT_TYPES.items():
            await driver.set_type_codec(name, schema="pg_catalog", encoder=encoder, decoder=decoder, format="tuple")
        await driver.set_type_codec(
            "json", schema="pg_catalog", encoder=str.encode, decoder=_json_value, format="binary"
        )
        await driver.set_type_codec(
            "jsonb", schema="pg_catalog", encoder=_jsonb_text, decoder=_jsonb_value, format="binary"
        )

    await_only(install())


def _json_value(data: bytes) -> Any:
    return tolerant_json(data.decode())


def _jsonb_value(data: bytes) -> Any:
    return tolerant_json(data[1:].decode())  # jsonb's binary form is a version byte, then the text


def _jsonb_text(text: str) -> bytes:
    return b"\x01" + text.encode()
