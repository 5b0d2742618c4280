"""MariaDB/MySQL values that Python's own types do not hold as they are: TIME durations and zero dates.

A MariaDB ``TIME`` is a time of day or a duration, from ``-838:59:59.999999``
to ``838:59:59.999999``. The driver reads it as a duration (``timedelta``),
which SQLAlchemy turned into a time of day by dropping its days and sign:
``100:00:00`` was read as 04:00, ``-01:30:00`` as 22:30. Here a value from
00:00:00 to 23:59:59.999999 is read as the time of day it is (as before), any
other as the driver's duration; a ``TIME`` column takes both when written.

A table filled when it was not strict can hold "zero dates": ``0000-00-00``
(and ``0000-00-00 00:00:00``), which MySQL documents as a "dummy date" stored
instead of NULL, and dates with a zero month or day (``2024-05-00``: a day not
known), which no other system holds. The driver gives their text. A zero date
is read as null, as ``mysqlclient`` and Debezium read it; any other as
an :class:`~app.record_checks.UnreadableValue`, so that a record fails alone
where a sync maps that column. As a stored cursor such text is read as the
latest real moment before it (:func:`real_date_at_or_before`), so the cursor
keeps working.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, type_coerce
from sqlalchemy.types import Date, DateTime, NullType, Text, Time, TypeDecorator

from connectors.base import UnreadableValue
from connectors.sql.pg_json import json_text
from connectors.sql.read_values import ReadAt

LONGEST_TIME = timedelta(hours=838, minutes=59, seconds=59, microseconds=999999)
"""The longest duration a MariaDB/MySQL ``TIME`` holds, either side of zero."""
_DAY = timedelta(days=1)


def read_exactly(column: ColumnElement[Any], where: str, *, of_table: bool) -> ColumnElement[Any] | None:
    """``column`` of a MariaDB/MySQL stream read as its values are: a ``TIME`` as a time of day or a
    duration, a table's date or timestamp with its zero dates as null and other unreal dates unreadable.

    :param where: the stream (``erp.events``), for the message of a record that holds an unreal date
    :param of_table: whether the column is the table's own; a query's (typed as the table's column of its
        name) may give text for it, which is the query's to give (``CAST(born AS CHAR) AS born``)
    :returns: ``None`` for a column of another type: its values need nothing of this
    """
    kind = column.type
    if isinstance(kind, Time):
        return type_coerce(column, _TimeOrDuration()).label(column.key)
    if isinstance(kind, Date | DateTime) and of_table:
        return type_coerce(column, _RealDate(f"{where}, column {column.key}")).label(column.key)
    return None


def time_exactly(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A MariaDB/MySQL ``TIME`` key or cursor compared and handed back exactly (a duration as a duration),
    any other column as it is: keyset pagination and key texts need its very value."""
    return type_coerce(column, _TimeOrDuration()) if isinstance(column.type, Time) else column


class _TimeOrDuration(TypeDecorator[Any]):
    """The driver's duration, as a time of day where it is one."""

    impl = NullType
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value.__class__ is timedelta and timedelta(0) <= value < _DAY:
            return (datetime.min + value).time()
        return value  # a duration, or None


class _RealDate(ReadAt):
    """A date or timestamp as the driver gives it; its text where it is no real date: null for a zero
    date, else an :class:`~app.record_checks.UnreadableValue`."""

    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value.__class__ is not str:
            return value
        if is_zero_date(value):
            return None
        why = "a date with a zero month or day, or of no such day, which MariaDB keeps and no other system holds"
        return UnreadableValue(value, f"{self.where}: {why}")


_ZERO = re.compile(r"0000-00-00(?:[ T]00:00:00(?:\.0{1,6})?)?")


def is_zero_date(text: str) -> bool:
    """Whether ``text`` is MariaDB's zero date (``0000-00-00``, ``0000-00-00 00:00:00``): a stand-in for none."""
    return _ZERO.fullmatch(text) is not None


_DATE_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?")


def real_date_at_or_before(text: str) -> date | datetime | None:
    """The latest real date (or moment, for a timestamp's text) at or before MariaDB's date text ``text``
    in MariaDB's order, where ``2024-05-00`` comes after ``2024-04-30`` and before ``2024-05-01``; the
    earliest there is for a date of year 0 (a zero date stands for none); ``None`` for text of no date.

    A stored cursor (or key) that MariaDB handed over as such text is read from there: rows at it are read
    again, none after it is skipped.
    """
    match = _DATE_TEXT.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day = (int(part) for part in match.group(1, 2, 3))
    moment = match.group(4) is not None
    if month > 12:
        return None
    if month == 0:
        year, month, day = year - 1, 12, 31
    elif day == 0:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        day = calendar.monthrange(max(year, 1), month)[1]
    elif year > 0 and day > calendar.monthrange(year, month)[1]:
        day = calendar.monthrange(year, month)[1]
    elif year > 0:  # a real day: only its time can be wrong
        try:
            return datetime.fromisoformat(match.group(0)) if moment else date(year, month, day)
        except ValueError:
            return None
    if year < 1:  # before any real date: a zero date, or one of year 0
        return datetime.min if moment else date.min
    return datetime.combine(date(year, month, day), time.max) if moment else date(year, month, day)


_DURATION_TEXTS = (
    re.compile(
        r"(?P<sign>-)?(?P<hours>\d{1,3}):(?P<minutes>[0-5]\d)(?::(?P<seconds>[0-5]\d)(?:\.(?P<fraction>\d{1,6}))?)?"
    ),
    re.compile(  # a timedelta's own text, as a key of such a column is written: "-1 day, 22:30:00"
        r"(?P<days>-?\d+) days?, (?P<hours>\d{1,2}):(?P<minutes>[0-5]\d):(?P<seconds>[0-5]\d)(?:\.(?P<fraction>\d{6}))?"
    ),
)
_ISO_DURATION = re.compile(r"PT(?:(-?\d{1,6})H)?(?:(-?\d{1,8})M)?(?:(-?)(\d{1,10})(?:\.(\d{1,6}))?S)?")
"""ISO 8601 text of hours, minutes and seconds, each with its own sign: how Brygga writes a duration as text
(:func:`~connectors.base.duration_text`), and reads a PostgreSQL interval of hours (``PT-1H-30M``)."""


def time_or_duration(value: Any) -> time | timedelta:
    """``value`` as a MariaDB/MySQL ``TIME`` holds it, and as it is read back: a time of day from 00:00:00
    to 23:59:59.999999, else a duration within :data:`LONGEST_TIME` (a ``timedelta``, or text such as
    ``100:00:00``, ``-01:30`` or ISO 8601's ``PT100H``, as a duration reaches text).

    :raises ValueError: when it is neither, or a duration beyond :data:`LONGEST_TIME`
    """
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    duration = value if isinstance(value, timedelta) else _duration(value.strip())
    if isinstance(duration, time):
        return duration
    if abs(duration) > LONGEST_TIME:
        raise ValueError("beyond what a TIME column holds (-838:59:59 to 838:59:59)")
    return (datetime.min + duration).time() if timedelta(0) <= duration < _DAY else duration


def _duration(text: str) -> time | timedelta:
    try:
        return time.fromisoformat(text)
    except ValueError:
        pass
    iso = _ISO_DURATION.fullmatch(text)
    if iso is not None and text != "PT":
        hours, minutes, minus, seconds, fraction = iso.groups()
        moment = timedelta(seconds=int(seconds or 0), microseconds=int((fraction or "0").ljust(6, "0")))
        return timedelta(hours=int(hours or 0), minutes=int(minutes or 0)) + (-moment if minus else moment)
    for pattern in _DURATION_TEXTS:
        match = pattern.fullmatch(text)
        if match is not None:
            parts = match.groupdict()
            duration = timedelta(
                days=int(parts.get("days") or 0),
                hours=int(parts["hours"]),
                minutes=int(parts["minutes"]),
                seconds=int(parts["seconds"] or 0),
                microseconds=int((parts["fraction"] or "0").ljust(6, "0")),
            )
            return -duration if parts.get("sign") else duration
    raise ValueError(f"not a time: {text!r}")


class JsonText(TypeDecorator[Any]):
    """A MariaDB ``JSON`` column (a ``LONGTEXT`` that must hold valid JSON): text is written as it is (it is
    JSON already), any other value as its JSON, numbers exact (:func:`~connectors.sql.pg_json.json_text`);
    read, its text as it is. As a text column, a list or mapping could not be written at all, and no
    decimal with it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None or value.__class__ is str:
            return value
        return json_text(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return value
