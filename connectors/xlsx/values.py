"""Cell values as record values and back: numbers exact, dates and booleans kept, text as text.

A workbook keeps every number as a binary double, shown with at most 15 significant digits by Excel and
LibreOffice. A whole number of up to 15 digits reads as an ``int`` (``42``, never ``42.0``); any other number
reads as the :class:`~decimal.Decimal` of those 15 digits, which is what the user sees in the cell
(``0.1``, never ``0.1000000000000000055…``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from connectors.base import duration_text as iso_duration

ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
"""Control characters a workbook cannot hold: openpyxl's own pattern, spelled out here so that reading a
workbook (this module's other half) does not import openpyxl (~0.15 s of every ``brygga run``)."""
_EXACT_WHOLE = 10**15
"""Whole numbers of up to 15 digits: a double holds them exactly, and Excel and LibreOffice show them whole."""
_EXACT_DIGITS = 15
"""Significant digits a cell's number shows and keeps (a double's 15)."""
MAX_TEXT = 32_767
"""The most characters Excel keeps in one cell."""
_AS_THEY_ARE = frozenset({int, bool, date, datetime, time})
"""The cell types a record holds as calamine gives them (see :func:`record_value`)."""


def record_value(value: Any) -> Any:
    """What a record holds for a cell as calamine reads it: empty text is ``None``."""
    kind = value.__class__
    if kind is str:
        return value or None
    if kind is float:
        if value.is_integer() and -_EXACT_WHOLE < value < _EXACT_WHOLE:
            return int(value)
        return Decimal(format(value, ".15g"))
    if kind is timedelta:
        return duration_text(value)
    return value  # int, bool, date, datetime, time as they are


def column_values(cells: Sequence[Any]) -> Sequence[Any]:
    """:func:`record_value` of every cell of one column of a batch, at C speed where the column allows.

    A column of one type is the usual case (a sheet's column holds one kind of value), and most of them
    need nothing done, or one C-speed pass: ten calls per row of a 100,000-row sheet cost more than the
    whole sheet's other conversions.
    """
    kinds = set(map(type, cells))
    if kinds == {str}:
        return [value or None for value in cells] if "" in cells else cells
    if kinds == {float}:
        return _numbers(cells)
    if kinds <= _AS_THEY_ARE:
        return cells
    return list(map(record_value, cells))


def _numbers(cells: Sequence[float]) -> Sequence[Any]:
    """A column of numbers: whole ones as ``int``, others as the decimal the cell shows (see the module)."""
    if all(map(float.is_integer, cells)) and min(cells) > -_EXACT_WHOLE and max(cells) < _EXACT_WHOLE:
        return list(map(int, cells))
    low, high = -_EXACT_WHOLE, _EXACT_WHOLE  # record_value's float branch, without a call per cell
    return [
        int(value) if value.is_integer() and low < value < high else Decimal(format(value, ".15g")) for value in cells
    ]


def duration_text(value: timedelta) -> str:
    """A duration cell (``[HH]:MM:SS``) as LibreOffice shows it: ``26:30:00``."""
    seconds = round(value.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def header_name(value: Any) -> str | None:
    """A header cell as a column name (numbers and dates as they show), or ``None`` for a blank one."""
    value = record_value(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip() or None


class CellValueError(ValueError):
    """A record's value that no cell can hold; the message says why."""


def cell_value(value: Any) -> Any:
    """What a cell is written with for a record's value.

    Text stays text (a leading ``=`` is no formula, leading zeros stay); whole numbers beyond what a
    cell holds exactly are written as text, so no digit is lost; a datetime with a time zone is written
    in UTC (cells have no time zones).

    :raises CellValueError: for a value no cell can hold (a list, control characters, too long a text)
    """
    if isinstance(value, date) and (value.date() if isinstance(value, datetime) else value) < _FIRST_DAY:
        return value.isoformat()  # before a workbook's dates: a cell would show another day (or 0:00)
    if value is None or isinstance(value, bool | date | time):
        return _naive(value) if isinstance(value, datetime | time) else value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int):
        return value if -_EXACT_WHOLE < value < _EXACT_WHOLE else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CellValueError(f"{value} is not a number a cell can hold")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CellValueError(f"{value} is not a number a cell can hold")
        return value if _held_as_number(value) else _text(str(value))
    if isinstance(value, dict | list | tuple | set | frozenset):
        raise CellValueError(f"a {type(value).__name__} cannot be written in one cell: map it to text first")
    if isinstance(value, timedelta):  # a database's duration: ISO 8601 text (PT100H), not "4 days, 4:00:00"
        return iso_duration(value)
    return _text(str(value))


def _held_as_number(value: Decimal) -> bool:
    """Whether a cell's number (a double, 15 digits shown) keeps this decimal's value: ``12.50`` and ``0.1``
    yes; ``1E+400`` (beyond a double: written empty), ``1E-400`` (written 0) and ``0.30000000000000000001``
    no: those are written as their text, like whole numbers beyond 15 digits, so no digit is lost."""
    if len(value.as_tuple().digits) > _EXACT_DIGITS:
        return False
    number = float(value)
    return math.isfinite(number) and (number != 0 or value.is_zero()) and Decimal(repr(number)) == value


def _text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise CellValueError(f"the text has {len(value)} characters; a cell holds at most {MAX_TEXT}")
    if bad := ILLEGAL_CHARACTERS_RE.search(value):
        raise CellValueError(f"the text holds the control character {bad.group()!r}, which a workbook cannot hold")
    if "_x" in value:  # a workbook's escape for a character (_x0041_ is A): escaped itself, it stays text
        return _ESCAPE_LIKE.sub(r"_x005F\g<0>", value)
    return value


_ESCAPE_LIKE = re.compile(r"_x[0-9A-Fa-f]{4}_")
_FIRST_DAY = date(1900, 3, 1)
"""The first day a workbook's date keeps as itself: before it, Excel's serial numbers count a 29 February
1900 that never was, serial 0 reads as a time of day, and negative serials are no dates at all."""


def _naive(value: datetime | time) -> datetime | time:
    if value.tzinfo is None:
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=None)
