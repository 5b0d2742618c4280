"""Values crossing the wire: mapped records as JSON bodies, values as query parameters, and the
order of incremental cursor values.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from app.errors import PermanentError
from app.records import key_text


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot send a value of type {type(value).__name__} as JSON")


def _decimal(value: Decimal) -> int | float | str:
    """A decimal as a JSON number where a double holds it exactly (``12.50`` → ``12.5``), else as text."""
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def json_bytes(value: Any) -> bytes:
    """``value`` as a JSON body: dates and datetimes in ISO 8601, decimals as numbers.

    :raises PermanentError: when a value cannot be written as JSON
    """
    try:
        return orjson.dumps(value, default=_encode, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, TypeError) else exc
        raise PermanentError(f"the record cannot be sent as JSON: {cause}") from exc


def param_text(value: Any) -> str:
    """A value as a query parameter: ``True`` → ``true``, dates in ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    return key_text(value)


def cursor_order(value: Any) -> tuple[int, Any]:
    """A sort key for cursor values as an API returns them: numbers by size, ISO 8601 timestamps by the
    moment they name (``…Z`` and ``…+00:00`` alike; one without a zone taken as UTC), other text as text.
    """
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, datetime):
        return (1, value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return (1, datetime(value.year, value.month, value.day, tzinfo=UTC))
    text = str(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return (2, text)
    return (1, moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def latest(values: list[Any]) -> Any:
    """The greatest of ``values`` (by :func:`cursor_order`), ``None`` ignored; ``None`` when there is none."""
    present = [value for value in values if value is not None]
    return max(present, key=cursor_order) if present else None
