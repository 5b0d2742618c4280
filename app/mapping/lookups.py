"""How a ``lookup`` field asks another sync's ID map for a target key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.records import key_text


class LookupResolver(Protocol):
    """Answers: which target key did ``sync`` give this source key?"""

    def target_key(self, sync: str, source_key: str) -> str | None:
        """The target key, or ``None`` when that source record is not synced yet."""
        ...


class NoLookups:
    """A resolver for mappings without lookups: every question is a bug."""

    def target_key(self, sync: str, source_key: str) -> str | None:
        return None


class DictLookups:
    """Lookups from plain dictionaries: ``{SYNC: {SOURCE_KEY: TARGET_KEY}}``.

    Keys and target keys are compared and returned as text, as the ID map
    stores them, so tests behave like real runs.
    """

    def __init__(self, tables: Mapping[str, Mapping[Any, Any]]) -> None:
        self._tables = {
            sync: {key_text(source): key_text(target) for source, target in table.items()}
            for sync, table in tables.items()
        }

    def target_key(self, sync: str, source_key: str) -> str | None:
        return self._tables.get(sync, {}).get(source_key)
