"""The common batch, written column by column: every record a create or update with the same fields.

Checking and converting ten values per record one at a time costs more than
the COPY that writes them. Taken column by column, a column whose values are
all of its type already (the usual case: the mapping gave them their types)
is checked at C speed and not touched. The common conversions of a whole
column (text to decimals, dates and timestamps, as JSON APIs send them;
whole numbers to floats) run at C speed too; any other column that needs it
is converted value by value. Anything unusual (deletes, records with other
fields, a value that does not convert, a key given twice, a refused row)
returns ``None``, and the row-by-row way, which finds and reports the one bad
record, takes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

from connectors.base import Write, WriteAction, WriteResult, format_key, key_texts
from connectors.sql.coercion import ColumnType, ColumnValueError, Kind, fits_scale
from connectors.sql.second_fractions import fits_fraction

_NONE = type(None)
_ACTION, _RECORD, _TZINFO = attrgetter("action"), attrgetter("record"), attrgetter("tzinfo")
_FIRST = itemgetter(0)
_NUMBERS = frozenset({int, float, Decimal})
"""What ``float()`` takes as :meth:`ColumnType.convert` does for a float column (a bool is a type of its own)."""
_EXACT_NUMBERS = frozenset({int, Decimal})
"""What ``Decimal()`` takes as :meth:`ColumnType.convert` does for a decimal column (a float goes by its ``repr``)."""


def column_rows(
    writes: Sequence[Write], key: Sequence[str], types: dict[str, ColumnType], extra: tuple[str, Any] | None
) -> tuple[tuple[str, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]] | None:
    """(columns, rows as converted tuples, each row's key) for a batch of like upserts; else ``None``.

    :param extra: a column and value every row gets (a soft-delete column, cleared)
    """
    records = list(map(_RECORD, writes))
    first = records[0]
    if not first or None in records or WriteAction.DELETE in map(_ACTION, writes):
        return None
    columns = tuple(first)
    if any(name not in types for name in columns) or any(name not in columns for name in key):
        return None
    if set(map(len, records)) != {len(columns)}:
        return None
    getter = itemgetter(*columns)
    try:
        rows = list(map(getter, records))
    except KeyError:
        return None
    if len(columns) == 1:
        rows = [(value,) for value in rows]
    values = list(zip(*rows, strict=True))
    changed = False
    for index, name in enumerate(columns):
        converted = _converted(values[index], types[name])
        if converted is None:
            return None
        if converted is not values[index]:
            values[index], changed = converted, True
    if extra is not None and extra[0] not in columns:
        columns, values, changed = (*columns, extra[0]), [*values, (extra[1],) * len(rows)], True
    if changed:
        rows = list(zip(*values, strict=True))
    key_columns = [values[columns.index(name)] for name in key]
    if any(None in column for column in key_columns):
        return None
    keys = list(zip(*key_columns, strict=True))
    try:
        if len(set(keys)) != len(keys):
            return None
    except TypeError:  # a key that is a list or an object (a column of no type takes it as it is): row by row
        return None
    return columns, rows, keys


def _converted(values: tuple[Any, ...], kind: ColumnType) -> tuple[Any, ...] | None:
    """``values`` as they are when all fit the column, else converted; ``None`` when one does not convert,
    or would be rounded or cut (a decimal's digits, a second's fraction): the row-by-row way fails its record
    alone."""
    converted = _fitted(values, kind)
    if converted is None:
        return None
    if kind.scale is not None:
        scale = kind.scale
        return converted if all(value is None or fits_scale(value, scale) for value in converted) else None
    if kind.fraction is not None:
        digits = kind.fraction
        return converted if all(value is None or fits_fraction(value, digits) for value in converted) else None
    return converted


def _fitted(values: tuple[Any, ...], kind: ColumnType) -> tuple[Any, ...] | None:
    seen = set(map(type, values))
    nulls = _NONE in seen
    seen.discard(_NONE)
    if kind.kind is Kind.OTHER or not seen:
        return values
    if kind.native is not None and seen == {kind.native}:
        if kind.native is Decimal and not all(value is None or value.is_finite() for value in values):
            return None  # NaN or an infinity: the row-by-row way fails its record alone
        if kind.kind is Kind.INTEGER and not _held(values, kind.whole):
            return None  # beyond the column's type: the row-by-row way fails its record alone
        if kind.refuses_nul and "\x00" in "".join(filter(None, values)):
            return None  # a NUL PostgreSQL cannot store: the row-by-row way fails its record alone
        return values
    if kind.kind is Kind.DATETIME and seen == {datetime} and _zones_fit(values, kind.aware):
        return values
    if not nulls and (converted := _in_bulk(values, kind, seen)) is not None:
        return converted
    try:
        return tuple(map(kind.convert, values))
    except ColumnValueError:
        return None


def _in_bulk(values: tuple[Any, ...], kind: ColumnType, seen: set[type]) -> tuple[Any, ...] | None:
    """A column without nulls converted at C speed where that gives what :meth:`ColumnType.convert` gives
    value by value; ``None`` where it does not apply, or a value needs a closer look."""
    try:
        if seen == {str} and kind.kind is Kind.DECIMAL:
            numbers = tuple(map(Decimal, values))  # like Decimal(value.strip()): Decimal ignores the spaces
            return numbers if all(map(Decimal.is_finite, numbers)) else None
        if seen == {str} and kind.kind is Kind.DATE:
            return tuple(map(date.fromisoformat, values))  # refuses spaces: such text takes the careful way
        if seen == {str} and kind.kind is Kind.DATETIME:
            moments = tuple(map(datetime.fromisoformat, values))
            return moments if _zones_fit(moments, kind.aware) else tuple(map(kind.convert, moments))
        if seen <= _NUMBERS and kind.kind is Kind.FLOAT:
            return tuple(map(float, values))
        if seen <= _EXACT_NUMBERS and kind.kind is Kind.DECIMAL:  # whole numbers among decimals, as a sheet gives
            numbers = tuple(map(Decimal, values))
            return numbers if all(map(Decimal.is_finite, numbers)) else None
    except (ValueError, ArithmeticError):
        return None
    return None


def _held(values: tuple[Any, ...], whole: range) -> bool:
    numbers = [value for value in values if value is not None]
    return not numbers or (min(numbers) in whole and max(numbers) in whole)


def _zones_fit(moments: tuple[Any, ...], aware: bool) -> bool:
    """Whether every moment (nulls aside) has a time zone, for a column that keeps them, or none has."""
    zones = set(map(_TZINFO, filter(None, moments)))  # no datetime is false: only the nulls go
    return None not in zones if aware else zones <= {None}


def results(keys: Sequence[tuple[Any, ...]], existing: set[tuple[Any, ...]], report: bool) -> list[WriteResult]:
    """One result per row: its key as text, and (where the database tells) whether it was new.

    :param existing: the keys of the rows that were in the table already
    """
    result = partial(tuple.__new__, WriteResult)  # a NamedTuple without its generated __new__: thousands per batch
    single = bool(keys) and len(keys[0]) == 1
    texts = key_texts(list(map(_FIRST, keys))) if single else list(map(format_key, keys))
    if not report:
        return list(map(result, zip(texts, repeat(None), repeat(None))))
    created = [key not in existing for key in keys] if existing else repeat(True)
    return list(map(result, zip(texts, repeat(None), created)))
