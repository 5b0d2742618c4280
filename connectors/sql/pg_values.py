"""PostgreSQL values that no Python type holds, decoded exactly: as Python's value where there is one, else
spelt as PostgreSQL writes them.

PostgreSQL's dates and timestamps reach from 4713 BC to 294276 AD and to
``infinity``; its times to ``24:00:00``. Python's ``date``, ``datetime`` and
``time`` hold years 1 to 9999 and times before midnight. asyncpg's decoders
(in C, fast) raise on what does not fit, which failed a whole fetch, and
take ``infinity`` and ``-infinity`` for 9999-12-31 and 0001-01-01 (the same
values those real dates read as), which gave a record a date the row does
not hold.

The decoders here take the values' binary form (asyncpg's ``tuple`` codecs)
and give what asyncpg gives for every value Python holds, and an
:class:`Unholdable` for every other (``infinity`` included), so a batch read
with them reads whole. They run in Python, slower than asyncpg's own: only
batches that need them are read with them (:mod:`connectors.sql.pg_exact`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from connectors.base import NotJson, UnreadableValue, duration_text, parse_json

_EPOCH_ORDINAL = date(2000, 1, 1).toordinal()
"""PostgreSQL counts days and microseconds from 2000-01-01."""
_EPOCH = datetime(2000, 1, 1)
_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY = 86_400_000_000
"""Microseconds in a day."""
_GREGORIAN_CYCLE = 146_097
"""Days in 400 years: the Gregorian calendar repeats after them."""

_DATE_INFINITY, _DATE_MINUS_INFINITY = 2**31 - 1, -(2**31)
_TIME_INFINITY, _TIME_MINUS_INFINITY = 2**63 - 1, -(2**63)
_LOWEST = (datetime.min - _EPOCH) // _MICROSECOND
_HIGHEST = (datetime.max - _EPOCH) // _MICROSECOND

JSON_EXCERPT = 40
"""Characters of a JSON value that Brygga cannot read shown in its message."""


class Unholdable:
    """A PostgreSQL value that no Python type holds, as an exact read gives it.

    :param kind: its type, as :data:`EXACT_TYPES` names it (``date``, ``timestamptz``, ``json``)
    :param text: the value as PostgreSQL writes it (``0044-03-15 BC``, ``infinity``, ``24:00:00``)
    :param raw: its binary form, to send it back as a parameter (the next page after it); ``None`` for JSON
    :param trouble: what is wrong with it, for JSON (``it is nested too deeply``)
    """

    __slots__ = ("kind", "raw", "text", "trouble")

    def __init__(self, kind: str, text: str, raw: tuple[int, ...] | None = None, trouble: str = "") -> None:
        self.kind = kind
        self.text = text
        self.raw = raw
        self.trouble = trouble

    def __repr__(self) -> str:
        return f"Unholdable({self.kind}, {self.text!r})"

    def unreadable(self, where: str, column: str, *, whole: bool = True) -> UnreadableValue:
        """The value as its record holds it: fails alone where a sync maps it, saying what to do.

        :param whole: whether it is the column's value (not an item of an array, which ``isfinite`` refuses)
        """
        read_as_text = f"read the column as text in the stream's query ({sql_name(column)}::text)"
        if self.kind == "json":
            why = f"JSON that Brygga cannot read, as {self.trouble}: {read_as_text}"
        elif self.text.endswith("infinity"):
            name = sql_name(column)
            without = f", or without it (CASE WHEN isfinite({name}) THEN {name} END)" if whole else ""
            why = f"{self.text} is no {_WHAT[self.kind]} Brygga can hold: {read_as_text}{without}"
        elif self.kind.startswith("time") and not self.kind.startswith("timestamp"):
            why = f"a time of 24:00, which Brygga cannot hold: {read_as_text}"
        else:
            why = f"a {_WHAT[self.kind]} outside the years 1 to 9999, which Brygga cannot hold: {read_as_text}"
        return UnreadableValue(self.text, f"{where}, column {column}", why)


_WHAT = {"date": "date", "timestamp": "timestamp", "timestamptz": "timestamp", "time": "time", "timetz": "time"}


def sql_name(column: str) -> str:
    """``column`` as written in SQL: quoted unless a plain lower-case name that is no reserved word
    (``"order"::text``: ``order::text`` is a syntax error)."""
    # for a message only: the PostgreSQL dialect is not imported by runs that need none of it
    from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS  # noqa: PLC0415

    if column.isidentifier() and column.isascii() and column == column.lower() and column not in RESERVED_WORDS:
        return column
    return '"' + column.replace('"', '""') + '"'


# --- decoding -----------------------------------------------------------------------


def decode_date(raw: tuple[int]) -> date | Unholdable:
    ordinal = _EPOCH_ORDINAL + raw[0]
    if 1 <= ordinal <= date.max.toordinal():
        return date.fromordinal(ordinal)
    return Unholdable("date", _date_text(raw[0]), raw)


def decode_timestamp(raw: tuple[int]) -> datetime | Unholdable:
    if _LOWEST <= raw[0] <= _HIGHEST:
        return _EPOCH + timedelta(microseconds=raw[0])
    return Unholdable("timestamp", _timestamp_text(raw[0], ""), raw)


def decode_timestamptz(raw: tuple[int]) -> datetime | Unholdable:
    if _LOWEST <= raw[0] <= _HIGHEST:
        return _EPOCH_UTC + timedelta(microseconds=raw[0])
    return Unholdable("timestamptz", _timestamp_text(raw[0], "+00"), raw)


def decode_time(raw: tuple[int]) -> time | Unholdable:
    if 0 <= raw[0] < _DAY:
        return _time_of(raw[0])
    return Unholdable("time", _clock(raw[0]), raw)


def decode_timetz(raw: tuple[int, int]) -> time | Unholdable:
    micros, west = raw  # PostgreSQL keeps the zone as seconds west of UTC
    if 0 <= micros < _DAY:
        return _time_of(micros).replace(tzinfo=timezone(timedelta(seconds=-west)))
    return Unholdable("timetz", _clock(micros) + _offset(-west), raw)


def _time_of(micros: int) -> time:
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, fraction)


def tolerant_json(text: str) -> Any:
    """A JSON value exactly (:func:`~connectors.base.parse_json`: nesting deeper than the parser goes is cut
    there, as an unreadable value), or an :class:`Unholdable` where it still cannot be read (too deep for the
    stack it is parsed on), so that its row is still read."""
    try:
        return parse_json(text)
    except NotJson as exc:
        shown = text if len(text) <= JSON_EXCERPT else text[: JSON_EXCERPT - 1] + "…"
        return Unholdable("json", shown, trouble=exc.reason)


# --- encoding (the parameters of an exact read: the values it read, or a checkpoint's) -------------


def encode_date(value: Any) -> tuple[int, ...]:
    if isinstance(value, Unholdable):
        return _raw(value)
    return (value.toordinal() - _EPOCH_ORDINAL,)


def encode_timestamp(value: Any) -> tuple[int, ...]:
    if isinstance(value, Unholdable):
        return _raw(value)
    moment = _moment(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return ((moment - _EPOCH) // _MICROSECOND,)


def encode_timestamptz(value: Any) -> tuple[int, ...]:
    if isinstance(value, Unholdable):
        return _raw(value)
    moment = _moment(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a moment without a zone is taken as UTC, as writes take it
    return ((moment - _EPOCH_UTC) // _MICROSECOND,)


def encode_time(value: Any) -> tuple[int, ...]:
    if isinstance(value, Unholdable):
        return _raw(value)
    return (_micros_of(value),)


def encode_timetz(value: Any) -> tuple[int, int]:
    if isinstance(value, Unholdable):
        raw = _raw(value)
        return raw[0], raw[1]
    offset = value.utcoffset() or timedelta()
    return _micros_of(value), -int(offset.total_seconds())


def _raw(value: Unholdable) -> tuple[int, ...]:
    if value.raw is None:
        raise TypeError(f"{value.kind} value {value.text!r} cannot be sent back to the database")
    return value.raw


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def _micros_of(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


EXACT_TYPES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "date": (encode_date, decode_date),
    "timestamp": (encode_timestamp, decode_timestamp),
    "timestamptz": (encode_timestamptz, decode_timestamptz),
    "time": (encode_time, decode_time),
    "timetz": (encode_timetz, decode_timetz),
}
"""PostgreSQL's types that asyncpg decodes into Python types holding less: (encoder, decoder) for
``set_type_codec(..., format="tuple")``."""


# --- PostgreSQL's spelling --------------------------------------------------------------


def _date_text(days: int) -> str:
    if days == _DATE_INFINITY:
        return "infinity"
    if days == _DATE_MINUS_INFINITY:
        return "-infinity"
    year, rest = _civil(days)
    return _era(f"{year if year > 0 else 1 - year:04d}{rest}", year, "")


def _timestamp_text(micros: int, zone: str) -> str:
    if micros == _TIME_INFINITY:
        return "infinity"
    if micros == _TIME_MINUS_INFINITY:
        return "-infinity"
    days, of_day = divmod(micros, _DAY)
    year, rest = _civil(days)
    return _era(f"{year if year > 0 else 1 - year:04d}{rest} {_clock(of_day)}", year, zone)


def _civil(days: int) -> tuple[int, str]:
    """The astronomical year (0 is 1 BC) of ``days`` after 2000-01-01, and its ``-MM-DD``, for any number
    of days: moved by whole 400-year cycles into the years Python's dates hold, and back."""
    cycles, rest = divmod(_EPOCH_ORDINAL + days - 1, _GREGORIAN_CYCLE)
    day = date.fromordinal(rest + 1)
    return day.year + 400 * cycles, f"-{day.month:02d}-{day.day:02d}"


def _era(text: str, year: int, zone: str) -> str:
    return f"{text}{zone}" if year > 0 else f"{text}{zone} BC"


def _clock(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}".rstrip("0") if fraction else text


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes, second = divmod(abs(seconds), 60)
    hours, minute = divmod(minutes, 60)
    text = f"{sign}{hours:02d}"
    if minute or second:
        text += f":{minute:02d}"
    return text + (f":{second:02d}" if second else "")


# --- intervals -------------------------------------------------------------------------


def interval_text(value: Any) -> str:
    """A value written to an interval as the text PostgreSQL reads: text as it is (``1 mon``, ``P1M``), a
    ``timedelta`` (another database's, such as a MariaDB ``TIME`` of ``100:00:00``) as the ISO 8601 text that
    Brygga reads such an interval as (``PT100H``: :func:`~connectors.base.duration_text`).

    :raises TypeError: for anything else: its record fails alone
    """
    if isinstance(value, str):
        return value
    if isinstance(value, timedelta):
        return duration_text(value)
    raise TypeError(f"an interval is written from text or a duration, not {type(value).__name__}")
