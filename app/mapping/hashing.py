"""A stable hash of a mapped record, for change detection.

The ID map keeps the hash of what was last written; a record whose new hash
matches is ``unchanged`` and not written again. The hash is of canonical
JSON (sorted keys, no spaces, decimals without trailing zeros), so the same
values always give the same hash, whatever their order or spelling.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from app.errors import MappingError
from app.record_checks import MAX_DEPTH, non_finite_as_null, unfit_reason

_SORTED = orjson.OPT_SORT_KEYS
_OPTIONS = _SORTED | orjson.OPT_NON_STR_KEYS
"""Keys other than text are written as text; orjson takes a slower way for every record with this
option, so it is asked for only when a record has such a key (the output is the same for text keys)."""
_EMPTY_DIGEST = hashlib.blake2b(digest_size=16)
_NOT_ZERO = frozenset("123456789")


_PRECISION = 28
"""Digits that ``Decimal.normalize`` keeps (the default context's): a value with more is written exactly."""


def _exact_text(value: Decimal) -> str:
    """A decimal's canonical text without rounding or a plain form of a billion digits: ``1E+400``."""
    if not value.is_finite():
        return str(value)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if digits == (0,):
        return "0"
    return f"{'-' if sign else ''}{''.join(map(str, digits))}E{exponent:+d}"


def _canonical(value: Any) -> Any:
    if value.__class__ is Decimal:
        text = str(value)  # plain notation for most values: trailing zeros stripped by hand, 3× faster
        if "E" not in text and text[-1] in _NOT_ZERO:
            return text  # ends in a digit other than 0: no trailing zeros, no -0, not NaN or Infinity
        if "E" not in text and text[-1:].isdigit():
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return "0" if text == "-0" else text
    if isinstance(value, Decimal):
        if not value.is_finite() or len(value.as_tuple().digits) > _PRECISION or abs(value.adjusted()) >= 100:
            return _exact_text(value)
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


class UnfitRecordError(MappingError):
    """A mapped record that no system could take: text that is not valid Unicode, or nesting too deep."""


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The record as canonical JSON bytes, whatever it holds (see :func:`record_hash`)."""
    try:
        return orjson.dumps(record, default=_canonical, option=_SORTED)
    except orjson.JSONEncodeError:
        return _unusual_json(record)


def record_hash(record: Mapping[str, Any]) -> str:
    """A 128-bit hex digest of the record's canonical JSON (:func:`canonical_json`, inlined: once per record).

    Never fails: a record that orjson refuses (an integer beyond 64 bits, a lone surrogate, nesting
    beyond its limit) is hashed the slower way, so a hostile source record can always be recognised
    when it is read again.
    """
    digest = _EMPTY_DIGEST.copy()  # a third cheaper than a new hash object with its parameters parsed
    try:
        data = orjson.dumps(record, default=_canonical, option=_SORTED)
    except orjson.JSONEncodeError:
        data = _unusual_json(record)
    if non_finite_as_null(data, record):
        data = _spelt_out_json(record)
    digest.update(data)
    return digest.hexdigest()


def mapped_hash(record: Mapping[str, Any], sync: str, source_key: str) -> str:
    """:func:`record_hash` of a mapped record about to be written; refuses one that no system could take.

    :raises UnfitRecordError: when the record holds a lone surrogate or is nested deeper than
        :data:`~app.record_checks.MAX_DEPTH`: it fails alone, the rest of its batch goes on
    """
    digest = _EMPTY_DIGEST.copy()
    try:
        data = orjson.dumps(record, default=_canonical, option=_SORTED)
    except orjson.JSONEncodeError:
        if (reason := unfit_reason(record)) is not None:
            raise UnfitRecordError(sync, source_key, None, f"the mapped record {reason}") from None
        data = _unusual_json(record)
    if non_finite_as_null(data, record):
        data = _spelt_out_json(record)
    digest.update(data)
    return digest.hexdigest()


def _unusual_json(record: Mapping[str, Any]) -> bytes:
    """Canonical JSON of a record orjson refuses: keys other than text (orjson's slower way), else by
    :mod:`json` with every value in a form it takes (integers of any size as they are)."""
    try:
        return orjson.dumps(record, default=_canonical, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _spelt_out_json(record)


def _spelt_out_json(record: Mapping[str, Any]) -> bytes:
    """Canonical JSON by :mod:`json`, every value in a form it takes: integers of any size as they are, and
    floats that are infinite or not a number as ``Infinity`` and ``NaN`` (orjson writes them as ``null``, so a
    change from ``inf`` to null, or back, was no change)."""
    text = json.dumps(_plain(record, 0), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return text.encode("ascii")


class _Text(str):
    """Output of :func:`_deep_digest`'s walk, as opposed to a value still to write."""


def _deep_digest(value: Any) -> str:
    """A digest of everything under ``value``, however deep, walked without recursion: any change shows."""
    digest = hashlib.blake2b(digest_size=16)
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _Text):
            digest.update(item.encode("utf-8", "backslashreplace"))
        elif isinstance(item, dict):
            pending.append(_Text("}"))
            for key in sorted(item, key=str, reverse=True):
                pending += [item[key], _Text(json.dumps(str(key)) + ":")]
            pending.append(_Text("{"))
        elif isinstance(item, list | tuple):
            pending.append(_Text("]"))
            pending += [element for element in reversed(item) for element in (_Text(","), element)]
            pending.append(_Text("["))
        else:
            digest.update(json.dumps(_plain(item, 0), sort_keys=True).encode())
    return digest.hexdigest()


def _plain(value: Any, depth: int) -> Any:
    """``value`` in types :mod:`json` writes as they are: keys as text, nesting cut at :data:`MAX_DEPTH`."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return {"…": _deep_digest(value)}
    if isinstance(value, dict):
        return {key if isinstance(key, str) else str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, date | time | UUID):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    try:
        return _plain(_canonical(value), depth)
    except TypeError:  # a type no connector gives: its text still tells one value from another
        return f"{type(value).__name__}:{value!s}"
