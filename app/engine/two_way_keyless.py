"""Records of a two-way sync's side that have no key: each fails alone into the dead letters, once a run.

A SQL row whose key column is NULL, a CSV line with an empty key cell, a value a connector handed over that is
no record: nothing links such a record with a record of the other side (a pair is its two keys), so it can be
neither settled nor created there. Left out of the read, it was lost without a word; now it fails alone in
its direction, as a one-way sync fails it (SPEC 8), and the other records go on.

Its dead letter's key is a stand-in made from the record (:func:`~app.engine.planning.keyless_key`), which
no side holds. So a due letter is failed again from its kept copy, not looked up by that key (finding nothing,
the record would be taken for gone and its letter cleared, to be made again by the read: counted twice), and
the very same record read again in that run is left alone. One read again whose letter is no longer retried
(tried out, or discarded) is unchanged, as in a one-way sync.

Identical records share a stand-in key, and so one dead letter; each is still a record read, counted and logged
as failed as a one-way run counts it (counted as one, the run's counts left records out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from app.config import Direction, Side, TwoWaySyncConfig
from app.engine.planning import keyless_key
from app.engine.two_way_batch import SettleBatch
from app.engine.two_way_sides import Sides, direction_from, other_side
from app.record_checks import NotARecord
from app.records import Record
from app.store import DeadLetterInfo, Store


def keyless_error(sync: TwoWaySyncConfig, side: Side, key_fields: Sequence[str], record: Record) -> str:
    """Why a record of ``side`` without a key fails, and what to do."""
    if isinstance(record, NotARecord):
        return f"sync {sync.name}: {record.why}"
    system = sync.stream(side).partition(".")[0]
    return (
        f"sync {sync.name}: a record of {sync.stream(side)} has no value for its key field {', '.join(key_fields)}, "
        f"so it cannot be linked with a record of {sync.stream(other_side(side))}: give it one in {system}"
    )


class KeylessRecords:
    """Fails the records without a key of one two-way run, each once."""

    def __init__(self, sides: Sides, store: Store, commit: Callable[[SettleBatch], Awaitable[None]]) -> None:
        self.sides = sides
        self.store = store
        self.commit = commit
        self.failed: set[tuple[Direction, str]] = set()
        """The stand-in keys failed in this run (a letter retried, or a record read), by direction: a record
        identical to one failed is counted as failed, not lettered again."""
        self.uncounted: set[tuple[Direction, str]] = set()
        """The stand-in keys whose letters were retried in this run and whose record no read has met yet: the
        retry counted it."""
        self._committing = asyncio.Lock()  # both sides are read at once, each failing its records as it reads

    def has_no_key(self, letter: DeadLetterInfo) -> bool:
        """Whether ``letter`` is the dead letter of a record without a key: keyed by the stand-in made from its
        record, which has no key on its side (a letter kept with no record, ``{}``, is a pair's, by its key)."""
        side = _side_of(letter.direction)
        return self.sides.keys[side].text(letter.record) is None and letter.source_key == keyless_key(letter.record)

    async def retry(self, letters: Sequence[DeadLetterInfo]) -> None:
        """Dead letters of records without a key, due again: each fails again from its kept copy."""
        batch = SettleBatch()
        for letter in letters:
            direction = direction_from(_side_of(letter.direction))
            self.failed.add((direction, letter.source_key))
            self.uncounted.add((direction, letter.source_key))
            batch.fail(direction, letter.source_key, None, record=letter.record, error=letter.error, reason="mapping")
        await self._commit(batch)

    async def read(self, side: Side, records: Sequence[Record]) -> None:
        """Records of ``side`` read without a key: each fails alone, counted once (one whose letter was retried
        in this run was counted by the retry)."""
        direction = direction_from(side)
        keyed = [(keyless_key(record), record) for record in records]
        known = await self.store.dead_letter_keys(self.sides.sync.name, direction, [key for key, _ in keyed])
        fields = self.sides.keys[side].fields
        batch = SettleBatch()
        for key, record in keyed:
            if (direction, key) in self.uncounted:  # the record its letter kept, counted as that letter failed again
                self.uncounted.discard((direction, key))
                continue
            error = keyless_error(self.sides.sync, side, fields, record)
            if (direction, key) in self.failed:  # identical to one failed already: one dead letter keeps both
                batch.note(direction, "failed", key, None, error)
                continue
            if key in known:  # its letter holds this very record, and is no longer retried
                batch.note(direction, "unchanged", key, None)
                continue
            self.failed.add((direction, key))
            batch.fail(direction, key, None, record=record, error=error, reason="mapping")
        await self._commit(batch)

    async def _commit(self, batch: SettleBatch) -> None:
        if batch.changes.directed or any(counts.read for counts in batch.counts.values()):
            async with self._committing:
                await self.commit(batch)


def _side_of(direction: str | None) -> Side:
    """The side a dead letter's record was read from: b's for ``to_a``, else a's."""
    return "b" if direction == "to_a" else "a"
