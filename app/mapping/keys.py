"""Record keys as text: how the ID map, the record log and error messages name a record."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from app.mapping.paths import Getter, compile_path


def key_text(value: Any) -> str:
    """One key value as text: ``7`` → ``"7"``, ``Decimal("7.0")`` → ``"7.0"``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def format_key(values: Sequence[Any]) -> str:
    """A key (one or more values) as text; a composite key is a JSON list of its parts."""
    if len(values) == 1:
        return key_text(values[0])
    return json.dumps([key_text(value) for value in values], ensure_ascii=False, separators=(",", ":"))


class KeyReader:
    """Reads a record's key from its key fields."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self._getters: tuple[Getter, ...] = tuple(compile_path(name) for name in fields)

    def values(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(get(record) for get in self._getters)

    def text(self, record: Mapping[str, Any]) -> str | None:
        """The key as text, or ``None`` when a key field is missing."""
        values = self.values(record)
        if any(value is None for value in values):
            return None
        return format_key(values)
