"""What a one-way run knows of its sync's dead letters: asked of the state database a batch at a time.

A run held every letter of its sync (its key, the hash of its record) in memory for the whole run, read
before it did anything else: ~220 bytes a letter, 250 MB at 1,000,000. It now asks one question as it
begins (has the sync any letter?), and where the answer is yes, asks about each batch's keys beside the
batch's ID-map look-up: memory stays flat in the number of letters, and a sync without any asks nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from app.engine.planning import Planned
from app.mapping import record_hash
from app.store import Store


@dataclass(frozen=True)
class BatchLetters:
    """What the state database says of one batch's keys, as the run plans it."""

    kept: frozenset[str] = frozenset()
    """The keys that have a dead letter (discarded ones too): a record written now clears its letter."""
    settled: dict[str, str] = field(default_factory=dict)
    """Key → hash of a record whose fate is settled: the record a letter kept before this run keeps, or one
    this run's retry of dead letters dealt with. The very same record read again is left alone."""
    retried: frozenset[str] = frozenset()
    """The keys this run's retry of dead letters dealt with: such a record read again is counted once."""


NO_LETTERS = BatchLetters()


class RunLetters:
    """One run's questions about its sync's dead letters (see the module's docstring)."""

    def __init__(self, store: Store, sync: str, run_id: int) -> None:
        self.store = store
        self.sync = sync
        self.run_id = run_id
        self.any = False
        """Whether the sync may have a dead letter: it had one as the run began, or the run failed a record."""
        self.retried_any = False
        """Whether this run's retry of dead letters dealt with a record (noted in the state database)."""

    async def look(self) -> None:
        """As the run begins: whether the sync has any dead letter."""
        self.any = await self.store.letters.any(self.sync)

    async def of_batch(self, keys: Collection[str]) -> BatchLetters:
        """What the state database says of the dead letters of ``keys``, one batch's."""
        if not self.any or not keys:
            return NO_LETTERS
        found = await self.store.letters.of(self.sync, self.run_id, keys, retried=self.retried_any)
        settled: dict[str, str] = {}
        for mark in found.marks:  # in the order kept: of a key's letters in two directions, the later one
            if mark.run_id != self.run_id:  # one failed in this run's reading is no settled fate
                settled[mark.source_key] = mark.hash if mark.hash is not None else record_hash(mark.record)
        settled.update(found.retried)
        kept = frozenset(mark.source_key for mark in found.marks)
        return BatchLetters(kept, settled, frozenset(found.retried))

    def retried(self, plan: Sequence[Planned]) -> list[tuple[str, str]]:
        """(source key, record hash) of a batch of the retry of dead letters, to note with its changes."""
        if not plan:
            return []
        self.retried_any = True
        return list({item.source_key: record_hash(item.record) for item in plan}.items())

    def to_clear(self, resolved: Iterable[str], kept: Collection[str] | None) -> list[str]:
        """Of the keys a batch settled, those whose dead letter to delete: those with one (``kept``, where the
        batch's letters were looked up), else all of them while the sync may have letters at all."""
        if kept is not None:
            return [key for key in resolved if key in kept]
        return list(resolved) if self.any else []

    def failed(self) -> None:
        """A batch of this run keeps dead letters: the sync has some from now on."""
        self.any = True

    async def forget_retried(self) -> None:
        """The run ends: what its retry of dead letters dealt with is no longer kept."""
        if self.retried_any:
            await self.store.letters.forget_retried(self.sync, self.run_id)
