"""What one batch of a two-way run changes, built up as its pairs are settled, then committed together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.config import Direction
from app.records import Record
from app.store import BatchChanges, Counts, DirectedEntry, Failure, Pair


@dataclass
class SettleBatch:
    """One batch's pairs, log entries, dead letters and counts by direction."""

    changes: BatchChanges = field(default_factory=BatchChanges)
    counts: dict[Direction, Counts] = field(default_factory=lambda: {"to_a": Counts(), "to_b": Counts()})

    def note(
        self,
        direction: Direction,
        action: str,
        source_key: str,
        target_key: str | None,
        error: str | None = None,
        *,
        values: dict[str, Any] | None = None,
    ) -> None:
        """Count one record of ``direction`` as ``action``, and log it unless it is unchanged (with the
        ``values`` written, for a created or updated one)."""
        counts = self.counts[direction]
        counts.read += 1
        setattr(counts, action, getattr(counts, action) + 1)
        if action != "unchanged":
            self.changes.directed.append(DirectedEntry(source_key, target_key, action, error, direction, values))

    def fail(
        self, direction: Direction, source_key: str, target_key: str | None, *, record: Record, error: str, reason: str
    ) -> None:
        """Count and log a record of ``direction`` as failed, and make it a dead letter."""
        self.note(direction, "failed", source_key, target_key, error)
        self.changes.failures.append(Failure(source_key, record, error, reason, direction))

    def unlink(self, pair: Pair, direction: Direction, source_key: str, target_key: str, why: str) -> None:
        """Unlink a pair whose record is gone, and log it as skipped, with why."""
        self.end(pair)
        self.note(direction, "skipped", source_key, target_key, why)

    def end(self, pair: Pair) -> None:
        """Unlink a pair, and settle its dead letters of either direction: their records are no pair's any
        more (else they would wait for ever, each retry finding nothing to settle)."""
        self.changes.unmapped.append(pair.a_key)
        self.changes.resolved_directed += [("to_b", pair.a_key), ("to_a", pair.b_key or "")]
