"""Column values the driver's own conversion would fail a whole read on, read so that only their record fails.

SQLite keeps whatever a program stores, whatever the column's declared type: text that is not JSON in a
``JSON`` column, ``garbage`` or ``2024-13-45`` in a ``DATE`` column, ``abc`` in a ``NUMERIC(10,2)``.
SQLAlchemy converts such a column's values as the rows arrive, and one value it cannot convert failed
the read of the whole table, on every run, with a message naming no row. Read here, such a value is an
:class:`~connectors.base.UnreadableValue` naming its column: the rest of the table is read, and the
record fails alone where a sync maps that field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.types import Boolean, Date, DateTime, NullType, Numeric, Time, TypeDecorator, TypeEngine, Uuid

from connectors.base import NotJson, UnreadableValue, parse_json

SHOWN = 200
"""Characters of an unreadable value's text kept in the record that fails with it."""


def _shown(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


class ReadAt(TypeDecorator[Any]):
    """A column read through :meth:`process_result_value`, which knows where the column is (``where``, as
    messages name it: ``crm.people, column born``) to name it in a value it cannot read.

    SQLAlchemy takes ``cache_ok`` from each class itself, not from its bases: each subclass says it again.
    """

    impl = NullType
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where


class JsonRead(ReadAt):
    """A JSON column of SQLite or MySQL, read exactly (:func:`~connectors.base.parse_json`: numbers as
    written, a decimal as its digits), not by the driver's ``json.loads``."""

    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value.__class__ is not str and value.__class__ is not bytes:
            return value  # null, or a number SQLite stored as one
        try:
            return parse_json(value, where=self.where)
        except NotJson as exc:
            return UnreadableValue(_shown(value), self.where, f"not JSON ({exc.reason}): correct it in the source")


class SqliteValue(ReadAt):
    """A SQLite column whose values SQLAlchemy converts (dates and times, decimals of a declared scale,
    booleans): each value converted as SQLAlchemy converts it, or unreadable where it cannot be
    (``garbage`` in a ``DATE`` column, ``abc`` in a ``NUMERIC(10,2)``). A ``BOOLEAN`` holds numbers:
    text in one (``false``, ``yes``) is unreadable rather than ``True``.

    :param kind: the column's own type, whose conversion is used
    """

    cache_ok = True

    def __init__(self, kind: TypeEngine[Any], where: str) -> None:
        super().__init__(where)
        self.kind = kind
        self._convert: Callable[[Any], Any] | None = None
        self._boolean = isinstance(kind, Boolean)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        convert = self._convert
        if convert is None:
            processor = self.kind.dialect_impl(dialect).result_processor(dialect, None)
            convert = self._convert = processor or (lambda given: given)
        try:
            if self._boolean and not isinstance(value, int | float):
                raise TypeError(f"{type(value).__name__} where a number 0 or 1 is kept")
            return convert(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            name = type(self.kind).__name__.upper()
            why = f"no {name} value ({exc}): correct it in the source, or read the column as text in a query"
            return UnreadableValue(_shown(value), self.where, why)


CONVERTED = (Date, DateTime, Time, Numeric, Boolean, Uuid)
"""The column types whose SQLite values SQLAlchemy converts (a column SQLite declares ``UUID`` reflects as
text; a query's column may be typed so); those left are read as the driver gives them."""
