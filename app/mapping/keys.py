"""Reading a record's key from its key fields (the text form is :mod:`app.records`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.mapping.paths import Getter, compile_path, parse_path
from app.record_checks import UnfitKey, fit_key, fit_keys, key_value_problem, shown_key
from app.records import format_key, key_text, key_texts


class KeyReader:
    """Reads a record's key from its key fields."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self._getters: tuple[Getter, ...] = tuple(compile_path(name) for name in fields)
        # One plain field is by far the commonest key: read it without the general machinery.
        self._single = fields[0] if len(fields) == 1 and parse_path(fields[0]) == (fields[0],) else None

    def values(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(get(record) for get in self._getters)

    def texts(self, records: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """:meth:`text` of each record; for the common one-field key, a whole batch at C speed."""
        if self._single is None:
            return fit_keys([self._text(record) for record in records])
        name = self._single
        values = [record.get(name) for record in records]
        if not set(map(type, values)) <= _PLAIN:  # a missing key, or a value that may be no key at all
            return fit_keys([self._text(record) for record in records])
        return fit_keys(list(key_texts(values)))

    def text(self, record: Mapping[str, Any]) -> str | None:
        """The key as text, or ``None`` when a key field is missing; an :class:`~app.record_checks.UnfitKey`
        when it holds a NUL byte or a lone surrogate (its record fails alone)."""
        return fit_key(self._text(record))

    def _text(self, record: Mapping[str, Any]) -> str | None:
        if self._single is not None:
            value = record.get(self._single)
            if value is None or value.__class__ is str:
                return value
            if (problem := key_value_problem(value)) is not None:
                return UnfitKey(shown_key(key_text(value)), problem)
            return key_text(value)
        values = self.values(record)
        if any(value is None for value in values):
            return None
        for name, value in zip(self.fields, values, strict=True):
            if (problem := key_value_problem(value)) is not None:
                return UnfitKey(shown_key(format_key(values)), f"field {name} {problem}")
        return format_key(values)


_PLAIN = frozenset({str, int})
"""The types of almost every key value: a batch of them needs no look at each value."""
