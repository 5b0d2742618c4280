"""How a ``lookup`` field asks another sync's ID map for a key.

A lookup goes one of two ways. Forward (every one-way sync, and a two-way sync's lookups that go the
way the other sync goes): the target key the other sync gave this source key. Reverse (a two-way sync's
lookups carrying a value back): the source key whose target key is this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.records import key_text


class LookupResolver(Protocol):
    """Answers: which key did ``sync`` link with this one?"""

    def target_key(self, sync: str, source_key: str) -> str | None:
        """The target key ``sync`` gave ``source_key``, or ``None`` when that record is not synced yet."""
        ...

    def source_key(self, sync: str, target_key: str) -> str | None:
        """The source key ``sync`` linked with ``target_key``, or ``None`` when no record is linked with it yet."""
        ...


class NoLookups:
    """A resolver for mappings without lookups: every question is a bug."""

    def target_key(self, sync: str, source_key: str) -> str | None:
        return None

    def source_key(self, sync: str, target_key: str) -> str | None:
        return None


class DictLookups:
    """Lookups from plain dictionaries: ``{SYNC: {KEY: KEY}}``, as a mapping test's ``lookups`` gives them.

    Each table is read the way the lookup goes: from the key the record holds to the key the field
    gets. For a forward lookup that is ``{SOURCE_KEY: TARGET_KEY}``, as the ID map holds it; for a
    reverse one (a two-way sync's ``to_a`` carrying a key back) ``{TARGET_KEY: SOURCE_KEY}``.
    Keys are compared and returned as text, as the ID map stores them, so tests behave like real runs.
    """

    def __init__(self, tables: Mapping[str, Mapping[Any, Any]]) -> None:
        self._tables = {
            sync: {key_text(source): key_text(target) for source, target in table.items()}
            for sync, table in tables.items()
        }

    def target_key(self, sync: str, source_key: str) -> str | None:
        return self._tables.get(sync, {}).get(source_key)

    def source_key(self, sync: str, target_key: str) -> str | None:
        return self._tables.get(sync, {}).get(target_key)


class FoundLookups:
    """The answers to a batch's lookups, fetched from the ID maps at once before its records are mapped.

    :param forward: (sync, source key) → target key
    :param reverse: (sync, target key) → source key
    """

    def __init__(
        self,
        forward: Mapping[tuple[str, str], str],
        reverse: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self.forward = forward
        self.reverse = reverse or {}

    def target_key(self, sync: str, source_key: str) -> str | None:
        return self.forward.get((sync, source_key))

    def source_key(self, sync: str, target_key: str) -> str | None:
        return self.reverse.get((sync, target_key))
