"""Values converted to their column's type: mapped values before a write, key text before a lookup.

Drivers are strict (asyncpg refuses ``"7"`` for an integer column), mappings
are loose (a CSV gives text): each column's type decides how a value is
converted, and a value that does not convert fails only its own record.
"""

from __future__ import annotations

import functools
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError

from connectors.base import duration_text, key_bytes, key_text
from connectors.sql.mariadb_values import time_or_duration
from connectors.sql.second_fractions import fits_fraction, fraction_kept, too_fine


class Kind(StrEnum):
    """What a column holds, as far as converting values goes."""

    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    TEXT = "text"
    UUID = "uuid"
    BYTES = "bytes"
    LIST = "list"
    """An array (PostgreSQL's ``text[]``, ``int[]``): it takes a list, its items passed on as they are."""
    OTHER = "other"
    """JSON, intervals, enums of the database's own: passed on as they are."""


DATE_KINDS = (Kind.DATE, Kind.DATETIME)


class ColumnValueError(ValueError):
    """A value that does not convert to its column's type."""


@dataclass(frozen=True)
class ColumnType:
    """How values for one column are converted.

    :param kind: what the column holds
    :param name: the type as the database calls it (``NUMERIC(12, 2)``), for messages
    :param aware: for a datetime column, whether it keeps a time zone (PostgreSQL ``timestamptz``)
    """

    kind: Kind
    name: str
    aware: bool = False
    whole: range = field(default=range(-(1 << 63), 1 << 63), compare=False)
    """For an integer column, the whole numbers it holds (a driver refuses to send others for it)."""
    scale: int | None = field(default=None, compare=False)
    """For a ``NUMERIC(p, s)`` column, the digits after the point it keeps: a value with more would be rounded."""
    fraction: int | None = field(default=None, compare=False)
    """For a timestamp or time column that keeps fewer digits of a second than a microsecond's six
    (PostgreSQL's ``timestamp(0)``, MariaDB's ``DATETIME``), those it keeps: a value with more would be
    rounded or cut."""
    durations: bool = field(default=False, compare=False)
    """For a ``TIME`` column, whether it holds durations too (MariaDB's and MySQL's, up to 838 hours either side
    of zero): it takes a ``timedelta`` as well as a time of day."""
    refuses_nul: bool = field(default=False, compare=False)
    """For a text column, whether the database cannot store the NUL character (PostgreSQL): a text holding one
    fails its record with Brygga's words, not the database's ``invalid byte sequence for encoding "UTF8"``."""
    native: type | None = field(init=False, repr=False, compare=False)
    """The type a value needs no converting from (``None`` for a datetime, whose zone needs checking too)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "native", _NATIVE.get(self.kind))

    @property
    def taken_as_is(self) -> type | None:
        """The type a value is written as it is, with no call to :meth:`convert`: none where even a value of
        the column's type needs a check (an integer's range, a NUMERIC's scale, a second's fraction, a NUL)."""
        if self.kind is Kind.INTEGER or self.scale is not None or self.fraction is not None or self.refuses_nul:
            return None
        return self.native

    def convert(self, value: Any) -> Any:
        """``value`` as the column's Python type; ``None`` stays ``None``.

        :raises ColumnValueError: when it does not convert
        """
        if value is None or self.kind is Kind.OTHER:
            return value
        if type(value) is not self.native:
            try:
                if self.kind is Kind.DATETIME:
                    value = _to_datetime(value, aware=self.aware)
                elif self.kind is Kind.TIME:
                    value = _to_time_of_day(value, durations=self.durations)
                else:
                    value = _CONVERTERS[self.kind](value)
            except ColumnValueError:
                raise
            except (ValueError, TypeError, AttributeError, ArithmeticError):
                what = _DURATIONS if self.durations else _WHAT[self.kind]
                raise ColumnValueError(f"cannot convert {_shown(value)} to {what}") from None
        elif value.__class__ is Decimal and not value.is_finite():  # a decimal as it came: NaN passed unchecked
            raise ColumnValueError(f"cannot convert {_shown(value)} to {_WHAT[self.kind]}")
        if self.kind is Kind.INTEGER and value not in self.whole:
            raise ColumnValueError(beyond(value, self.whole))
        if self.refuses_nul and value.__class__ is str and "\x00" in value:
            raise ColumnValueError(NUL_REFUSED)
        if self.scale is not None and not fits_scale(value, self.scale):
            raise ColumnValueError(
                f"{_shown(value)} has more digits after the point than the column keeps ({self.scale}): it would be "
                "rounded; round it in the mapping, or give the column more scale"
            )
        if self.fraction is not None and not fits_fraction(value, self.fraction):
            shown = duration_text(value) if isinstance(value, timedelta) else value.isoformat()
            raise ColumnValueError(too_fine(shown, self.fraction, self.name, timestamp=self.kind is Kind.DATETIME))
        return value

    def key_value(self, text: str) -> Any:
        """A key's text (:func:`~connectors.base.key_text`) as the column's Python type: as :meth:`convert`, but
        a binary column's key text is its bytes in hex, not text to write.

        :raises ColumnValueError: when it does not convert
        """
        if self.kind is not Kind.BYTES:
            return self.convert(text)
        try:
            return key_bytes(text)
        except ValueError:
            raise ColumnValueError(
                f"key {_shown(text)} is not the hex text of bytes (two of 0-9, a-f a byte), as a binary key is written"
            ) from None


NUL_REFUSED = (
    "the text holds a NUL character (\\x00), which PostgreSQL cannot store: remove it in the mapping (an "
    'expression with | replace("\\x00", "")) or at the source'
)


def beyond(value: int, whole: range) -> str:
    """Why an integer column refuses ``value``, and what to do."""
    return (
        f"{_shown(value)} is beyond what the column's type holds ({whole.start} to {whole.stop - 1}): correct it "
        "at the source, or write it into a NUMERIC or text column"
    )


def fits_scale(value: Decimal, scale: int) -> bool:
    """Whether a decimal keeps its value with ``scale`` digits after the point (``1.2500`` does at 2).

    The common value has the column's very scale (one C call); NaN, infinities and values beyond what any
    NUMERIC column holds are left for the database to refuse.
    """
    quantum = _quantum(scale)
    if value.same_quantum(quantum):
        return True
    if not value.is_finite() or value.adjusted() > _WIDEST:
        return True
    return value == value.quantize(quantum, context=_EXACT)


@functools.cache
def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


_WIDEST = 1000
"""Digits before the point of the widest NUMERIC (PostgreSQL's 1,000; MariaDB's 65)."""
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Rounds to a scale without ever running out of digits (within :data:`_WIDEST`)."""


def _shown(value: Any) -> str:
    shown = repr(value) if value.__class__ is not int else key_text(value)  # repr() refuses 4,301 digits
    return shown if len(shown) <= 60 else shown[:57] + "…"


def _is_tinyint_1(type_: sqltypes.TypeEngine[Any]) -> bool:
    # Only a table reflected by the MySQL dialect has its TINYINT: the dialect is not imported for
    # that alone (~12 ms for every run of a SQLite or PostgreSQL sync).
    tinyint = getattr(sys.modules.get("sqlalchemy.dialects.mysql"), "TINYINT", None)  # None while being imported
    return tinyint is not None and isinstance(type_, tinyint) and type_.display_width == 1


def column_type(type_: sqltypes.TypeEngine[Any], dialect: Dialect) -> ColumnType:
    """The :class:`ColumnType` of a reflected column's SQLAlchemy type."""
    name = _type_name(type_, dialect)
    if isinstance(type_, sqltypes.Boolean) or _is_tinyint_1(type_):
        return ColumnType(Kind.BOOLEAN, name)  # MariaDB's BOOLEAN is TINYINT(1)
    if isinstance(type_, sqltypes.DateTime):
        fraction = fraction_kept(type_, dialect)
        return ColumnType(Kind.DATETIME, name, aware=bool(type_.timezone), fraction=fraction)
    if isinstance(type_, sqltypes.Integer):
        return ColumnType(Kind.INTEGER, name, whole=_integer_range(type_, dialect))
    if isinstance(type_, sqltypes.Numeric) and not isinstance(type_, sqltypes.Float):
        scale = type_.scale if isinstance(type_.scale, int) and dialect.name != "sqlite" else None
        return ColumnType(Kind.DECIMAL, name, scale=scale)  # SQLite keeps any number whatever its type says
    if isinstance(type_, sqltypes.Time):
        mariadb = dialect.name in ("mysql", "mariadb")  # its TIME holds durations too
        return ColumnType(Kind.TIME, name, durations=mariadb, fraction=fraction_kept(type_, dialect))
    if isinstance(type_, sqltypes.ARRAY):
        return ColumnType(Kind.LIST, name)
    if isinstance(type_, sqltypes.String):
        return ColumnType(Kind.TEXT, name, refuses_nul=dialect.name == "postgresql")
    for sql_type, kind in _KINDS:
        if isinstance(type_, sql_type):
            return ColumnType(kind, name)
    if isinstance(type_, sqltypes.Uuid):
        return ColumnType(Kind.UUID if type_.as_uuid else Kind.TEXT, name)
    return ColumnType(Kind.OTHER, name)


def _integer_range(type_: sqltypes.Integer, dialect: Dialect) -> range:
    """What an integer column holds: 64 bits in SQLite whatever its type's name; elsewhere by its type, at
    most 32 bits for one between SMALLINT and BIGINT (MariaDB's MEDIUMINT and TINYINT hold fewer, but its
    driver sends a larger number all the same)."""
    if dialect.name == "sqlite" or isinstance(type_, sqltypes.BigInteger):
        bits = 64
    else:
        bits = 16 if isinstance(type_, sqltypes.SmallInteger) else 32
    if getattr(type_, "unsigned", False):
        return range(1 << bits)
    return range(-(1 << (bits - 1)), 1 << (bits - 1))


def value_type(value: Any) -> ColumnType:
    """The :class:`ColumnType` that a value read from an untyped column (a query's) suggests."""
    if isinstance(value, datetime):
        return ColumnType(Kind.DATETIME, "datetime", aware=value.tzinfo is not None)
    for python_type, kind in _VALUE_KINDS:
        if isinstance(value, python_type):
            return ColumnType(kind, kind.value)
    return ColumnType(Kind.OTHER, type(value).__name__)


def _type_name(type_: sqltypes.TypeEngine[Any], dialect: Dialect) -> str:
    try:
        return type_.compile(dialect=dialect)
    except (CompileError, NotImplementedError, TypeError):
        return type(type_).__name__.upper()


_KINDS: list[tuple[type[sqltypes.TypeEngine[Any]], Kind]] = [
    (sqltypes.Integer, Kind.INTEGER),
    (sqltypes.Float, Kind.FLOAT),  # before Numeric: a Float is a Numeric
    (sqltypes.Numeric, Kind.DECIMAL),
    (sqltypes.Date, Kind.DATE),
    (sqltypes.String, Kind.TEXT),
    (sqltypes._Binary, Kind.BYTES),
]
_VALUE_KINDS: list[tuple[type, Kind]] = [
    (bool, Kind.BOOLEAN),  # before int: a bool is an int
    (int, Kind.INTEGER),
    (Decimal, Kind.DECIMAL),
    (float, Kind.FLOAT),
    (date, Kind.DATE),
    (time, Kind.TIME),
    (str, Kind.TEXT),
    (uuid.UUID, Kind.UUID),
    (bytes, Kind.BYTES),
]
_NATIVE: dict[Kind, type] = {
    Kind.INTEGER: int,
    Kind.DECIMAL: Decimal,
    Kind.FLOAT: float,
    Kind.BOOLEAN: bool,
    Kind.DATE: date,
    Kind.TIME: time,
    Kind.TEXT: str,
    Kind.UUID: uuid.UUID,
    Kind.BYTES: bytes,
    Kind.LIST: list,
}
"""The type a value of each kind already has when nothing is to be done (datetimes also need their zone checked)."""
_WHAT = {
    Kind.INTEGER: "a whole number",
    Kind.DECIMAL: "a decimal number",
    Kind.FLOAT: "a number",
    Kind.BOOLEAN: "true or false",
    Kind.DATE: "a date (YYYY-MM-DD)",
    Kind.DATETIME: "a date and time (ISO 8601)",
    Kind.TIME: "a time of day (HH:MM:SS)",
    Kind.TEXT: "text",
    Kind.UUID: "a UUID",
    Kind.BYTES: "bytes",
    Kind.LIST: "a list (the column is an array)",
}
_DURATIONS = "a time of day or a duration of at most 838:59:59 (HHH:MM:SS)"


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float):
        value = repr(value)  # 0.1 is Decimal("0.1"), not 0.1000000000000000055…
    number = Decimal(value.strip() if isinstance(value, str) else value)
    if not number.is_finite():
        raise ValueError
    return number


def _to_integer(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    if value.__class__ is str and value.isdigit():  # a key read back from its text: the common case
        return int(value)
    number = _to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError
    return int(number)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError
    return float(value.strip() if isinstance(value, str) else value)


_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _day_of(value)
    if isinstance(value, date):
        return value
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return _day_of(datetime.fromisoformat(text))


def _day_of(moment: datetime) -> date:
    """The date where ``moment`` was written down (not in UTC), if it is that day's midnight: a date column
    would drop any other time of day.

    :raises ColumnValueError: when it is not midnight
    """
    if moment.time() != time():
        raise ColumnValueError(
            f"{moment.isoformat()} has a time of day, which a date column would drop: map the field with "
            'type: date (or transform: ["date:%Y-%m-%d"]) to write its date alone, or write it into a '
            "timestamp column"
        )
    return moment.date()


def _to_datetime(value: Any, *, aware: bool) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        moment = datetime.fromisoformat(value.strip())
    if aware:  # a moment without a zone is taken as UTC
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    # a column without zones keeps UTC
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def _to_time_of_day(value: Any, *, durations: bool) -> time | timedelta:
    """``value`` as a time column holds it (a MariaDB ``TIME`` a duration too), where it is no moment: a time
    column would drop a timestamp's date.

    :raises ColumnValueError: for a timestamp, or ISO text of one
    """
    if isinstance(value, datetime):
        raise ColumnValueError(_dated(value.isoformat()))
    try:
        return time_or_duration(value) if durations else _to_time(value)
    except ValueError:
        if isinstance(value, str) and _is_moment(value.strip()):
            raise ColumnValueError(_dated(value.strip())) from None
        raise


def _is_moment(text: str) -> bool:
    """Whether ``text`` is ISO 8601 of a date with a time of day."""
    try:
        date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return False  # a date alone: it cannot convert, and holds no time of day to keep
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _dated(shown: str) -> str:
    return (
        f"{shown} has a date, which a time column would drop: map the field with "
        'transform: ["date:%H:%M:%S"] to write its time of day alone, or write it into a timestamp column'
    )


def _to_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    return time.fromisoformat(value.strip())


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | Decimal | date | time | uuid.UUID):
        return key_text(value)
    if isinstance(value, set | frozenset):  # a MariaDB SET, as the database spells one: a,b
        return set_text(value)
    if isinstance(value, timedelta):  # a MariaDB TIME past a day or below zero: ISO 8601, as intervals are read
        return duration_text(value)
    raise TypeError


def set_text(value: set[Any] | frozenset[Any]) -> str:
    """A set's members as a MariaDB SET column spells them (``a,b``), in one order for every run."""
    return ",".join(sorted(map(str, value)))


def _to_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value.strip())


def _to_list(value: Any) -> list[Any]:
    """A list or tuple for an array column; text is no list of its characters, nor a mapping of its keys."""
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError


_CONVERTERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.INTEGER: _to_integer,
    Kind.DECIMAL: _to_decimal,
    Kind.FLOAT: _to_float,
    Kind.BOOLEAN: _to_boolean,
    Kind.DATE: _to_date,
    Kind.TEXT: _to_text,
    Kind.UUID: _to_uuid,
    Kind.BYTES: _to_bytes,
    Kind.LIST: _to_list,
}
