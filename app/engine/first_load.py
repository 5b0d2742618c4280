"""A sync's first load: nothing to look up in an ID map that this run alone is filling.

When a sync's ID map holds no entry as its run begins, a source key can only
be there if this very run has met it (one run of a sync at a time: the
lease). Remembering the keys met, batches of keys never met need no ID-map
look-up at all: the first load of a large system is the biggest run a sync
ever makes.

The keys met are remembered as marks in a fixed map (a byte per slot, a key's
slot its hash), not as a set of the keys: a set of 100,000 short keys held ~10 MB
until the run ended (the keys' text outliving their batches), a fifth of a REST full
load's memory above start-up; the map takes 2 MiB at any size, and is marked and read
at C speed (no Python step per key). A key never met may share a slot with one that
was: it is then looked up like any key (the look-up decides), so the map only ever
costs a look-up, never a wrong answer. Past a bound it tells too little, and every
batch is looked up again, as in any run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from itertools import compress, repeat

KEYS_REMEMBERED = 1_000_000
"""Keys met before the map stops telling: by then about a third of the keys never met share a slot."""

_SLOTS = 1 << 21
"""Slots in the map (2 MiB): at 100,000 keys met, about one key in 20 never met is looked up all the same."""
_MASK = _SLOTS - 1


class FirstLoad:
    """The keys a first load has met so far, as marks at their hashes' slots."""

    def __init__(self, limit: int = KEYS_REMEMBERED) -> None:
        self._limit = limit
        self._met = 0
        self._slots: bytearray | None = bytearray(_SLOTS)

    def meet(self, keys: Collection[str]) -> None:
        """These keys are in this run from now on: they may be in the ID map."""
        slots = self._slots
        if slots is None:
            return
        deque(map(slots.__setitem__, map(_MASK.__and__, map(hash, keys)), repeat(1)), maxlen=0)
        self._met += len(keys)
        if self._met > self._limit:
            self._slots = None

    def maybe_mapped(self, keys: set[str]) -> set[str] | None:
        """Those of ``keys`` that may have an ID-map entry; ``None`` when any may (no longer remembering)."""
        slots = self._slots
        if slots is None:
            return None
        return set(compress(keys, map(slots.__getitem__, map(_MASK.__and__, map(hash, keys)))))
