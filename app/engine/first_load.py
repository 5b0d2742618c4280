"""A sync's first load: nothing to look up in an ID map that this run alone is filling.

When a sync's ID map holds no entry as its run begins, a source key can only
be there if this very run has met it (one run of a sync at a time: the
lease). Remembering the keys met, batches of keys never met need no ID-map
look-up at all: the first load of a large system is the biggest run a sync
ever makes.

The keys met are remembered by their hashes, not as a set of the keys: a set of
100,000 short keys held ~10 MB until the run ended (the keys' text outliving their
batches), a fifth of a REST full load's memory above start-up. Two parts, each
cheap where it is used most:

- a map of marks (a byte per slot, a key's slot the low bits of its hash),
  marked and read at C speed: most keys never met find their slot unmarked,
  with no Python step per key. It starts at 256 KiB and doubles whenever an
  eighth of its slots are taken, up to 2 MiB (at 131,072 keys met): a fixed
  2 MiB was a REST full load's largest single part above its records;
- 32 more bits of each key's hash (4 bytes a key, in 4,096 arrays by the hash's
  low 12 bits), for the few keys whose slot is marked, and to mark the keys met
  again in a map twice the size. At 100,000 keys met, about one key in 10 never
  met shares a slot with one that was; with the map alone, each batch of a first
  load was looked up for those (PostgreSQL → PostgreSQL: a tenth of the run's
  time). Past 250,000 keys the arrays grow long to search, and the map alone
  tells, as it did before.

A key is looked up only where both its slot and its further bits were met. Two
keys alike in all 44 of those bits are rare; the later one is then looked up like
any key (the look-up decides), so remembering only ever costs a look-up, never a
wrong answer. Past a bound it stops, and every batch is looked up again, as in
any run.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Collection
from itertools import compress, repeat

KEYS_REMEMBERED = 1_000_000
"""Keys met before the map stops telling: by then about a third of the keys never met share a slot."""
FURTHER_REMEMBERED = 250_000
"""Keys met before their further bits are let go (1 MB of them): past it, a key whose slot is marked is looked up."""

_SMALLEST, _LARGEST = 18, 21
"""Bits of a slot: the map from 256 KiB to 2 MiB; at 100,000 keys met, 1 MiB."""
_BUCKET_BITS = 12
_BUCKETS = 1 << _BUCKET_BITS
"""Arrays the further bits are kept in, by their hash's low bits: ~25 each at 100,000 keys, one ``in`` at C speed."""
_BUCKET_MASK = _BUCKETS - 1
_FURTHER = (1 << 32) - 1
"""The further bits kept of a hash: the 32 above its bucket's (a map's slot is its bucket's bits and the lowest
of these)."""


class FirstLoad:
    """The keys a first load has met so far, as their hashes."""

    def __init__(self, limit: int = KEYS_REMEMBERED) -> None:
        self._limit = limit
        self._met = 0
        self._mask = (1 << _SMALLEST) - 1
        self._slots: bytearray | None = bytearray(1 << _SMALLEST)
        self._further: list[array[int]] | None = [array("I") for _ in range(_BUCKETS)]

    def meet(self, keys: Collection[str]) -> None:
        """These keys are in this run from now on: they may be in the ID map."""
        if self._slots is None:
            return
        self._met += len(keys)
        if self._met > self._limit:
            self._slots = self._further = None
            return
        hashes = list(map(hash, keys))
        buckets = self._further
        if buckets is not None and self._met > FURTHER_REMEMBERED:
            self._further = buckets = None
        if buckets is not None:
            for digest in hashes:
                buckets[digest & _BUCKET_MASK].append(digest >> _BUCKET_BITS & _FURTHER)
            if self._met > len(self._slots) >> 3 and self._mask.bit_length() < _LARGEST:
                self._grow(buckets)
                return  # the keys are marked in the larger map, from their further bits
        slots = self._slots
        deque(map(slots.__setitem__, map(self._mask.__and__, hashes), repeat(1)), maxlen=0)

    def _grow(self, buckets: list[array[int]]) -> None:
        """Double the map until at most an eighth of it is marked, and mark every key met in it again."""
        bits = self._mask.bit_length()
        while self._met > (1 << bits) >> 3 and bits < _LARGEST:
            bits += 1
        self._mask = (1 << bits) - 1
        slots = self._slots = bytearray(1 << bits)
        low = (1 << (bits - _BUCKET_BITS)) - 1
        for bucket, further in enumerate(buckets):
            for bits_above in further:
                slots[(bits_above & low) << _BUCKET_BITS | bucket] = 1

    def maybe_mapped(self, keys: set[str]) -> set[str] | None:
        """Those of ``keys`` that may have an ID-map entry; ``None`` when any may (no longer remembering)."""
        slots = self._slots
        if slots is None:
            return None
        marked = compress(keys, map(slots.__getitem__, map(self._mask.__and__, map(hash, keys))))
        buckets = self._further
        if buckets is None:
            return set(marked)
        return {key for key in marked if _met_in(buckets, hash(key))}


def _met_in(buckets: list[array[int]], digest: int) -> bool:
    """Whether a key of this hash, its slot marked, has its further bits among those met in its bucket's array."""
    return digest >> _BUCKET_BITS & _FURTHER in buckets[digest & _BUCKET_MASK]
