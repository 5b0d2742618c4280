"""Records and their keys as text, the one way every layer writes them.

A key is kept as text in the ID map, the record log and the dead letters:
one value as itself (``7`` → ``"7"``), a composite key as a JSON list of its
parts (``["A", "1"]``). Records and checkpoints are stored as JSON that keeps
the types JSON lacks (decimals, dates, datetimes), so a dead letter retried
from its kept copy maps exactly as the original did.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

from app.record_checks import MAX_DEPTH, UnreadableValue, non_finite_as_null

Record = dict[str, Any]


def key_text(value: Any) -> str:
    """One key value as text: ``7`` → ``"7"``, ``Decimal("7.0")`` → ``"7.0"``, ``b"\\x01\\xff"`` → ``"01ff"``
    (bytes as lowercase hex: what a binary key column's text is, read back by :func:`key_bytes`)."""
    if value.__class__ is int:
        return str(value) if -_LONGEST_STR < value < _LONGEST_STR else str(Decimal(value))  # past str()'s limit
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f") if abs(value.adjusted()) < 100 else str(value)  # never a million digits
    if isinstance(value, bytes | bytearray | memoryview):  # a binary key column's (bytea, BLOB): str() gave b'…'
        return bytes(value).hex()
    if isinstance(value, dict | list | tuple | set | frozenset):
        return dumps(value)  # not a value but a structure: its JSON, of bounded depth, never str()'s recursion
    return str(value)


_LONGEST_STR = 10**4299
"""Integers from here on have more digits than ``str()`` writes (Python's limit, 4300): a webhook's id of
4,301 digits crashed the run that wrote its error."""


def key_bytes(text: str) -> bytes:
    """The bytes that :func:`key_text` wrote as ``text`` (lowercase hex; capitals are taken too).

    :raises ValueError: when ``text`` is not pairs of hex digits (Python's ``bytes.fromhex`` alone also takes
        spaces between them: two texts would name one key)
    """
    if len(text) % 2 == 0 and text.isascii() and (text.isalnum() or not text):  # b"" is the key ""
        try:
            return bytes.fromhex(text)
        except ValueError:  # a letter past f
            pass
    raise ValueError(f"'{text[:60]}' is not the hex text of bytes (two of 0-9, a-f per byte)")


def duration_text(value: timedelta) -> str:
    """A duration as ISO 8601 text, the way PostgreSQL writes an interval of hours (``IntervalStyle
    iso_8601``, as Brygga reads intervals): ``PT100H``, ``PT-1H-30M``, ``PT0.5S``, ``PT0S``.

    Hours however many, never days: a MariaDB ``TIME`` counts hours (``100:00:00``), and to PostgreSQL a
    day is not always 24 hours. Python's own text (``4 days, 4:00:00``, ``-1 day, 22:30:00``) is no
    duration any other system reads.
    """
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = "PT"
    if hours:
        text += f"{sign}{hours}H"
    if minute:
        text += f"{sign}{minute}M"
    if second or fraction:
        text += f"{sign}{second}.{fraction:06d}".rstrip("0") + "S" if fraction else f"{sign}{second}S"
    return text if len(text) > 2 else "PT0S"


def key_texts(values: Sequence[Any]) -> list[str]:
    """Many key values (none of them ``None``) as text: :func:`key_text` of each, a whole column of
    whole numbers or of text at C speed."""
    kinds = set(map(type, values))
    if kinds == {int} and min(values) > -_LONGEST_STR and max(values) < _LONGEST_STR:
        return list(map(str, values))
    if kinds == {str}:
        return list(values)
    return list(map(key_text, values))


def format_key(values: Sequence[Any]) -> str:
    """A key (one or more values) as text; a composite key is a JSON list of its parts."""
    if len(values) == 1:
        return key_text(values[0])
    return json.dumps([key_text(value) for value in values], ensure_ascii=False, separators=(",", ":"))


def parse_key(text: str, width: int) -> tuple[str, ...]:
    """The parts of a key made by :func:`format_key` for a key of ``width`` fields.

    :raises ValueError: when ``text`` is not a key of that width
    """
    if width == 1:
        return (text,)
    parts = json.loads(text)
    if not isinstance(parts, list) or len(parts) != width or not all(isinstance(part, str) for part in parts):
        raise ValueError(f"'{text}' is not a key of {width} parts")
    return tuple(parts)


# --- typed JSON ----------------------------------------------------------------

_TAG = "$brygga"


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "value": str(value)}
    if isinstance(value, datetime):
        return {_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {_TAG: "time", "value": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {_TAG: "bytes", "value": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, set | frozenset):  # a MariaDB SET: in one order, or its text would differ between runs
        return sorted(value, key=lambda item: (type(item).__name__, str(item)))
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "value": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, UnreadableValue):
        return {_TAG: "unreadable", "value": value.parts}
    # A database's own kind (an interval range, an address, a bit string, a composite): kept as its text. A
    # record holding one must still be kept as a dead letter, and logged: raising here failed the whole run.
    return str(value)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "bytes": base64.b64decode,
    "timedelta": lambda parts: timedelta(*parts),
    "unreadable": lambda parts: UnreadableValue(*parts),
}


def _decode(mapping: dict[str, Any]) -> Any:
    kind = mapping.get(_TAG)
    if kind is not None and len(mapping) == 2 and kind in _DECODERS:
        return _DECODERS[kind](mapping["value"])
    return mapping


# orjson writes datetimes itself: pass them through so they keep their type tag. Keys may be
# str subclasses (SQLAlchemy's quoted_name): written as plain text.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """``value`` as JSON text that :func:`loads` turns back into the same types.

    Whatever a record holds can be kept (a dead letter keeps its record): integers beyond 64 bits
    as they are, lone surrogates as ``\\ud800`` escapes, NUL bytes as ``\\u0000`` (the text has
    neither, so any database takes it), nesting beyond :data:`~app.record_checks.MAX_DEPTH` cut off
    with a note saying so.
    """
    try:
        data = orjson.dumps(value, default=_encode, option=_OPTIONS)
    except orjson.JSONEncodeError:  # a number beyond 64 bits, a lone surrogate, nesting beyond orjson's
        return _spelt_out(value)
    if non_finite_as_null(data, value):  # orjson writes inf and nan as null: kept as they are
        return _spelt_out(value)
    return data.decode()


def _spelt_out(value: Any) -> str:
    """:func:`dumps` by :mod:`json`: integers of any size, and ``Infinity``/``NaN``, which :func:`loads` reads."""
    return json.dumps(_bounded(value, 0), default=_encode, ensure_ascii=True, separators=(",", ":"))


def _key(key: Any) -> str:
    return key if isinstance(key, str) else key_text(key)


def _bounded(value: Any, depth: int) -> Any:
    """``value`` with its nesting cut at :data:`MAX_DEPTH` (so :mod:`json` never recurses too deep)."""
    if isinstance(value, dict | list | tuple | set | frozenset) and depth >= MAX_DEPTH:
        return {_TAG: "cut", "value": f"nested deeper than {MAX_DEPTH} levels: the rest was not kept"}
    if isinstance(value, dict):
        return {_key(key): _bounded(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_bounded(item, depth + 1) for item in value]
    return value


def shown_dumps(value: Any) -> str:
    """``value`` as JSON text for people to read (a record's values in its story): decimals, dates and
    times as the API writes them (text), so the text is short and quick to make; :func:`loads` reads
    it back with those as text. A value plain JSON cannot hold as it is (an integer beyond 64 bits, a
    lone surrogate, keys other than text) is kept as :func:`dumps` keeps it."""
    try:
        data = orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:
        return dumps(value)
    if non_finite_as_null(data, value):  # orjson wrote inf and nan as null: shown as their text
        return shown_dumps(_non_finite_as_text(value, 0))
    return data.decode()


def _non_finite_as_text(value: Any, depth: int) -> Any:
    """``value`` with each float that is infinite or not a number as its text (``inf``, ``nan``): JSON has
    no such number, and the API answers with these values."""
    if isinstance(value, float):
        return value if value - value == 0.0 else str(value)
    if depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {key: _non_finite_as_text(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_non_finite_as_text(item, depth + 1) for item in value]
    return value


def loads(text: str) -> Any:
    """The value :func:`dumps` wrote."""
    return json.loads(text, object_hook=_decode)
