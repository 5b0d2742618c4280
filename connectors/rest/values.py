"""Values crossing the wire: mapped records as JSON bodies, values as query parameters, and the
order of incremental cursor values.

Numbers are written exactly as they are: an integer of any size as its digits,
a :class:`~decimal.Decimal` as its own digits (``10.50``, never a rounded
float). orjson writes neither past 64 bits, so those are handed to it as
:class:`orjson.Fragment` (raw JSON), looked for only when orjson refuses a body.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from connectors.base import PermanentError, duration_text, key_text, valid_unicode


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, timedelta):  # a database's duration: ISO 8601 text (PT100H), as dates are
        return duration_text(value)
    raise TypeError(f"cannot send a value of type {type(value).__name__} as JSON")


def _decimal(value: Decimal) -> orjson.Fragment | str:
    """A decimal as the JSON number it is (``12.50``, ``1E+400``); a whole one without a fraction
    (``100.00`` → ``100``, for APIs that want integers); NaN and infinities, which JSON lacks, as text."""
    if not value.is_finite():
        return str(value)
    if value.adjusted() < _PLAIN_DIGITS and value == value.to_integral_value():  # never a million digits
        return orjson.Fragment(format(value.to_integral_value(), "f"))
    return orjson.Fragment(str(value))


_PLAIN_DIGITS = 100
"""A whole decimal of up to this many digits is sent without exponent; ``1E+1000000`` is sent as it is."""


_LARGEST_DEPTH = 254
"""orjson writes lists and objects at most this deep."""

_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_bytes(value: Any) -> bytes:
    """``value`` as a JSON body: dates and datetimes in ISO 8601, numbers exactly as they are.

    :raises PermanentError: when a value cannot be written as JSON, saying which and where
    """
    try:
        return orjson.dumps(value, default=_encode, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        first = exc
    try:  # the slow way: integers past 64 bits as raw JSON; anything else wrong is found on the way
        return orjson.dumps(_exact(value, "", 0), default=_encode, option=_OPTIONS)
    except _Unwritable as exc:
        raise PermanentError(f"the record cannot be sent as JSON: {exc}") from first
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, TypeError) else exc
        raise PermanentError(f"the record cannot be sent as JSON: {cause}") from exc


class _Unwritable(Exception):
    """A value that has no JSON form, and where it is."""


def _exact(value: Any, at: str, depth: int) -> Any:
    """``value`` with every integer past 64 bits as raw JSON.

    :raises _Unwritable: for text that is not valid Unicode (a lone surrogate) or nesting past orjson's depth
    """
    if isinstance(value, str):
        if not valid_unicode(value):
            raise _Unwritable(f"the text at `{at or '(the record)'}` is not valid Unicode (it has a lone surrogate)")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**64 else orjson.Fragment(_digits(value, at))
    if isinstance(value, dict | list | tuple | set | frozenset) and depth >= _LARGEST_DEPTH:
        field = re.split(r"[.\[]", at, maxsplit=1)[0]
        raise _Unwritable(f"the value of `{field}` is nested more than {_LARGEST_DEPTH} levels deep")
    if isinstance(value, dict):
        return {_key(key, at): _exact(item, _within(at, key), depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_exact(item, f"{at}[{index}]", depth + 1) for index, item in enumerate(value)]
    return value


def _key(key: Any, at: str) -> Any:
    if isinstance(key, str) and not valid_unicode(key):
        raise _Unwritable(f"a field name in `{at or '(the record)'}` is not valid Unicode (it has a lone surrogate)")
    return key


def _within(at: str, key: Any) -> str:
    name = str(key) if isinstance(key, str) and valid_unicode(key) and str(key).isprintable() else repr(key)
    return f"{at}.{name}" if at else name


def _digits(value: int, at: str) -> str:
    try:
        return str(value)
    except ValueError:  # more digits than Python writes (sys.get_int_max_str_digits)
        raise _Unwritable(f"the integer at `{at}` has too many digits to write") from None


def whole_number(text: str) -> int | None:
    """``text`` (spaces around it allowed) as a whole number, or ``None`` when it is not one: ASCII digits
    only, at most :data:`_MOST_DIGITS` of them. ``str.isdigit()`` also takes '²' and other digits that
    ``int()`` refuses, and ``int()`` refuses more than 4,300 digits: an answer's header or field holding
    such text crashed the run as an unexpected ``ValueError``."""
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > _MOST_DIGITS:
        return None
    return int(digits)


_MOST_DIGITS = 30
"""More digits than any count or number of seconds an API states; more is not taken as a number."""


def param_text(value: Any) -> str:
    """A value as a query parameter: ``True`` → ``true``, dates in ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    return key_text(value)


def cursor_order(value: Any) -> tuple[int, Any]:
    """A sort key for cursor values as an API returns them: numbers by size, ISO 8601 timestamps by the
    moment they name (``…Z`` and ``…+00:00`` alike; one without a zone taken as UTC), other text as text.

    Other text comes before every number and timestamp: where a stream's cursors are timestamps, text that
    names no moment (``""``, ``"n/a"``) is one record's junk, not a later point. Ranked after them, it
    became the stored cursor, sent back at every later read, and no timestamp could move it again.
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
        return (-1, text)
    return (1, moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def latest(values: list[Any]) -> Any:
    """The greatest of ``values`` (by :func:`cursor_order`), ``None`` ignored; ``None`` when there is none."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    moments = _moments(present)
    if moments is not None:  # the usual page: every value an ISO 8601 timestamp, all with a zone or none
        return present[max(range(len(moments)), key=moments.__getitem__)]
    return max(present, key=cursor_order)


def _moments(values: list[Any]) -> list[datetime] | None:
    """The moments ``values`` name, parsed at C speed, when every one is ISO 8601 text and all have a zone
    or none has (then they compare as :func:`cursor_order` compares them); else ``None``.
    :func:`cursor_order` for every value of every page was a quarter of reading a REST stream."""
    if not all(type(value) is str for value in values):
        return None
    try:
        moments = list(map(datetime.fromisoformat, values))
    except ValueError:
        return None
    zoned = {moment.tzinfo is not None for moment in moments}
    return moments if len(zoned) == 1 else None
