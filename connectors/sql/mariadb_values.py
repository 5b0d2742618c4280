"""MariaDB/MySQL values that Python's own types do not hold as they are: TIME durations.

A MariaDB ``TIME`` is a time of day or a duration, from ``-838:59:59.999999``
to ``838:59:59.999999``. The driver reads it as a duration (``timedelta``),
which SQLAlchemy turned into a time of day by dropping its days and sign:
``100:00:00`` was read as 04:00, ``-01:30:00`` as 22:30. Here a value from
00:00:00 to 23:59:59.999999 is read as the time of day it is (as before), any
other as the driver's duration; a ``TIME`` column takes both when written.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, type_coerce
from sqlalchemy.types import NullType, Time, TypeDecorator

LONGEST_TIME = timedelta(hours=838, minutes=59, seconds=59, microseconds=999999)
"""The longest duration a MariaDB/MySQL ``TIME`` holds, either side of zero."""
_DAY = timedelta(days=1)


def read_exactly(column: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """``column`` of a MariaDB/MySQL stream read as its values are: a ``TIME`` as a time of day or a duration.

    :returns: ``None`` for a column of another type: its values need nothing of this
    """
    if isinstance(column.type, Time):
        return type_coerce(column, _TimeOrDuration()).label(column.key)
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


_DURATION_TEXTS = (
    re.compile(
        r"(?P<sign>-)?(?P<hours>\d{1,3}):(?P<minutes>[0-5]\d)(?::(?P<seconds>[0-5]\d)(?:\.(?P<fraction>\d{1,6}))?)?"
    ),
    re.compile(  # a timedelta's own text, as a key of such a column is written: "-1 day, 22:30:00"
        r"(?P<days>-?\d+) days?, (?P<hours>\d{1,2}):(?P<minutes>[0-5]\d):(?P<seconds>[0-5]\d)(?:\.(?P<fraction>\d{6}))?"
    ),
)


def time_or_duration(value: Any) -> time | timedelta:
    """``value`` as a MariaDB/MySQL ``TIME`` holds it, and as it is read back: a time of day from 00:00:00
    to 23:59:59.999999, else a duration within :data:`LONGEST_TIME` (a ``timedelta``, or text such as
    ``100:00:00`` or ``-01:30``).

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
