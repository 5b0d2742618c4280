"""A stable hash of a mapped record, for change detection.

The ID map keeps the hash of what was last written; a record whose new hash
matches is ``unchanged`` and not written again. The hash is of canonical
JSON (sorted keys, no spaces, decimals without trailing zeros), so the same
values always give the same hash, whatever their order or spelling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """The record as canonical JSON bytes."""
    return orjson.dumps(record, default=_canonical, option=_OPTIONS)


def record_hash(record: Mapping[str, Any]) -> str:
    """A 128-bit hex digest of the record's canonical JSON."""
    return hashlib.blake2b(canonical_json(record), digest_size=16).hexdigest()
