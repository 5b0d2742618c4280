"""A sync's first load: nothing to look up in an ID map that this run alone is filling.

When a sync's ID map holds no entry as its run begins, a source key can only
be there if this very run has met it (one run of a sync at a time: the
lease). Remembering the keys met, batches of keys never met need no ID-map
look-up at all: the first load of a large system is the biggest run a sync
ever makes. The keys are kept as they are (the text each batch made already:
a set of them is compared at C speed, with no new object per key), and only
up to a bound, so memory stays flat: past it every batch is looked up again,
as in any run.
"""

from __future__ import annotations

from collections.abc import Iterable

KEYS_REMEMBERED = 250_000
"""About 20 MB of short keys; a longer first load looks batches up from there on."""


class FirstLoad:
    """The keys a first load has met so far."""

    def __init__(self, limit: int = KEYS_REMEMBERED) -> None:
        self._limit = limit
        self._met: set[str] | None = set()

    def meet(self, keys: Iterable[str]) -> None:
        """These keys are in this run from now on: they may be in the ID map."""
        if self._met is not None:
            self._met.update(keys)
            if len(self._met) > self._limit:
                self._met = None

    def maybe_mapped(self, keys: set[str]) -> set[str] | None:
        """Those of ``keys`` that may have an ID-map entry; ``None`` when any may (no longer remembering)."""
        met = self._met
        if met is None:
            return None
        return keys & met
