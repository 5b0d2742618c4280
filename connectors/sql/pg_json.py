"""PostgreSQL's ``json`` and ``jsonb`` values with their numbers exact, read and written.

SQLAlchemy reads and writes them with :mod:`json`'s defaults: a number with
more digits than a float keeps (``12345678901234567890.123``) was read as the
float nearest to it, and a :class:`~decimal.Decimal` (how Brygga holds such
numbers, read from JSON anywhere) could not be written at all. Read here with
:func:`~connectors.base.parse_json`, every number comes as written (a float
where one holds it, else an ``int`` or a ``Decimal``); written here, a
``Decimal`` is written as its digits.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from connectors.base import parse_json

__all__ = ["json_text", "parse_json"]


def json_text(value: Any) -> str:
    """``value`` as JSON, as :func:`json.dumps` writes it, a ``Decimal`` as its digits.

    :raises TypeError: for a value JSON has no form for (a date): its record fails alone
    :raises ValueError: for a ``Decimal`` NaN or infinity, which JSON has no number for
    """
    try:
        return json.dumps(value)
    except TypeError:
        return _written(value)


def _written(value: Any) -> str:
    """:func:`json.dumps`'s text of ``value``, with decimals (records are at most 254 levels deep, so this
    recursion is bounded: :data:`~app.record_checks.MAX_DEPTH` refuses deeper ones before a write)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is no JSON number")
        return str(value)  # 1.10, 1E+400, -0: each a JSON number, exactly as held
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(_key(key))}: {_written(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_written, value)) + "]"
    return json.dumps(value)


def _key(key: Any) -> str:
    """A key as :func:`json.dumps` writes it: text as itself, numbers, booleans and null as their JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float) or key is None:
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
