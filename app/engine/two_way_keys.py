"""A linked pair keeps its keys: a two-way sync never gives a record another key (SPEC 3.1).

Where a block fills the other side's key from a field (``to_b: {customer_no: erp_no}``), an edit of that
field cannot be carried: the record on b is the one the pair links, by the key it has, and a write by key
cannot move it to another. Dropping the edit would lose it without a word; the record fails alone instead,
saying which field and what to do, until the field gives the key it gave before again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.config import Direction, TwoWaySyncConfig
from app.engine.settling import same
from app.mapping import KeyReader, show


class LinkedKeys:
    """Finds records of one direction whose mapping gives their pair's record on the other side another key.

    :param key: the key fields of the side ``direction`` writes
    :param fold: how that side tells keys apart where not by their exact text (a key that ignores case)
    """

    def __init__(
        self, sync: TwoWaySyncConfig, direction: Direction, key: Sequence[str], fold: Callable[[str], str] | None
    ) -> None:
        block = sync.fields_of(direction)
        self.sync = sync
        self.direction = direction
        mapped = [name for name in key if name in block]
        self.mapped = KeyReader(mapped) if mapped else None
        """The key fields the block fills (none where the side assigns its keys itself)."""
        self.whole = KeyReader(key) if len(mapped) == len(key) else None
        self.fold = fold

    def refusal(
        self, source_key: str, linked_key: str, proposed: Mapping[str, Any] | None, base: Mapping[str, Any]
    ) -> str | None:
        """Why the record ``source_key``, mapped as ``proposed``, cannot be carried to the record its pair links
        (key ``linked_key``, whose base is ``base``); ``None`` where the key it gives is the one it gave when the
        pair was last settled (or none was noted then: a pair linked before keys were noted, or just now)."""
        if proposed is None or self.mapped is None:
            return None
        given = self.mapped.values(proposed)
        was = tuple(base.get(name, _UNNOTED) for name in self.mapped.fields)
        if any(before is _UNNOTED for before in was) or all(map(same, given, was)):
            return None
        if self.fold is not None and self.whole is not None:
            text = self.whole.text(proposed)
            if text is not None and self.fold(text) == self.fold(linked_key):
                return None  # the side takes both for its record's key ("Anna" and "anna"): nothing moves
        return self._why(source_key, linked_key, given, was)

    def _why(self, source_key: str, linked_key: str, given: tuple[Any, ...], was: tuple[Any, ...]) -> str:
        assert self.mapped is not None
        sides = (self.sync.source, self.sync.target)
        source, target = sides if self.direction == "to_b" else sides[::-1]
        block = self.sync.fields_of(self.direction)
        fields = ", ".join(f"{self.direction}.{name}" for name in self.mapped.fields)
        sources = [origin for name in self.mapped.fields if (origin := block[name].from_) is not None]
        named = f"{fields} (from {', '.join(sources)})" if sources else fields
        gives, gave = " ".join(map(show, given)), " ".join(map(show, was))
        return (
            f"sync {self.sync.name}, {source} record {source_key}: {named} gives {gives} now, {gave} before, but the "
            f"record stays linked with {target} record {linked_key}: a two-way sync never gives a linked record "
            f"another key, so nothing of this record is carried either way until {fields} gives {gave} again. "
            f"Change it back in {source} (to link the record with another record of {target}, see 'A field that "
            "fills the other side's key' in docs/two-way.md)"
        )


_UNNOTED = object()
