"""What the store takes and gives back: plain values, no sessions or rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

from app.record_checks import all_storable, storable_text
from app.records import loads

Checkpoint = dict[str, Any]

ACTIONS = ("created", "updated", "deleted", "skipped", "failed")


@dataclass
class Counts:
    """What a run did: every record read is exactly one of the others."""

    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, other: Counts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deleted


@dataclass(frozen=True)
class IdMapping:
    """One source record's place in the target, and the hash of what was last written there."""

    target_key: str | None
    hash: str | None
    gone_from: str | None = None
    """A two-way pair's side whose record was deleted, a delete ``delete_in`` does not carry (``Pair.gone_from``):
    why edits of the record left are skipped. ``None``: both exist, or a one-way sync."""
    # the run's bookkeeping, not where the record went: left out of comparisons
    seen_run: int | None = field(default=None, compare=False)
    """The run that last wrote the entry (or marked it seen): one that is this run's tells a key read twice."""
    repeat_hashes: str | None = field(default=None, compare=False)
    """The hashes of later records of this key read twice in a run, written as such, space-separated (see
    ``BatchChanges.repeats``)."""


class LogEntry(NamedTuple):
    """What a run did to one record (a tuple: a run makes one per record it changes)."""

    source_key: str
    target_key: str | None
    action: str
    error: str | None = None
    values: dict[str, Any] | str | None = None
    """A created or updated record's values as written (the mapped record), or already as the record log
    keeps them (``Store.logged_values``): kept where the project's ``record_log.values`` says so, for the
    field diffs of its story."""


LogRow = tuple[str, str | None, str, str | None, dict[str, Any] | str | None]


class Failure(NamedTuple):
    """A record to keep as a dead letter (or whose dead letter failed again)."""

    source_key: str
    record: dict[str, Any]
    error: str
    reason: str
    direction: str | None = None
    """In a two-way sync, the direction whose write failed: ``source_key`` is the key of its source side."""
    hash: str | None = None
    """The hash of ``record`` (a one-way run's): a record read again unchanged is then known by its letter."""


class Pair(NamedTuple):
    """A two-way sync's pair of records: a's key, b's key, and the values last synchronised on each side."""

    a_key: str
    b_key: str | None
    base: dict[str, Any]
    gone_from: str | None = None
    """The side (``a`` or ``b``) whose record was deleted, a delete ``delete_in`` does not carry to the other:
    the record left stays, is not new on its side, and its edits are not carried. ``None``: both exist."""


class DirectedEntry(NamedTuple):
    """A two-way record-log entry: what a run did in one direction, or a conflict it settled."""

    source_key: str
    target_key: str | None
    action: str
    error: str | None
    direction: str
    detail: dict[str, Any] | None = None
    """A conflict's field, both values and winner; a created or updated record's values as written."""


@dataclass
class BatchChanges:
    """Everything one processed batch changes in the state database, committed at once."""

    mapped: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(source key, target key, hash) written, for records the ID map may hold already."""
    rehashed: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(source key, target key, hash) written, for records the ID map holds with this target key already: their
    rows' hashes change, their target keys stay (and so does the index on them: a third fewer pages written)."""
    new_mappings: list[tuple[str, str | None, str]] = field(default_factory=list)
    """(source key, target key, hash) written, for records the ID map does not hold yet: simply added."""
    unmapped: list[str] = field(default_factory=list)
    """Source keys whose target record was deleted."""
    repeats: list[tuple[str, str]] = field(default_factory=list)
    """(source key, repeat hashes) of records written as the later read of a key read twice in the run: their
    entries' ``repeat_hashes`` become these, so that the very same repeat read again at a later run is known."""
    touched: list[str] = field(default_factory=list)
    """Source keys read unchanged whose key was read twice in an earlier run: their entries are marked seen at
    this run, so that a repeat later in the run is known as one."""
    log: list[LogRow] = field(default_factory=list)
    """(source key, target key, action, error, values): a :class:`LogEntry`, or a plain tuple of those."""
    failures: list[Failure] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    """Source keys whose dead letter is settled (written, skipped, unchanged)."""
    retried: list[tuple[str, str]] = field(default_factory=list)
    """(source key, record hash) of the records of a batch of a run's retry of dead letters, kept for the rest
    of the run (read again unchanged later in it, such a record is left alone and counted once)."""
    resolved_directed: list[tuple[str, str]] = field(default_factory=list)
    """Two-way: (direction, source key) whose dead letter of that direction is settled (the other stays)."""
    counts: Counts = field(default_factory=Counts)
    checkpoint: Checkpoint | None = None
    """Stored with the batch; ``None`` leaves the stored checkpoint as it is."""
    events: list[tuple[int, str | None]] = field(default_factory=list)
    """Webhook events this batch processed: (event id, the first error of a record that failed, or ``None``)."""
    pairs: list[Pair] = field(default_factory=list)
    """Two-way pairs linked or settled: their ID map rows (a key, b key) and bases, written whole."""
    directed: list[DirectedEntry] = field(default_factory=list)
    """Two-way record-log entries, each with its direction."""
    conflicts: int = 0
    by_direction: dict[str, Counts] | None = None
    """A two-way run's counts per direction so far, this batch's included: stored with the run."""


def storable_changes(changes: BatchChanges) -> None:
    """Spell out NUL bytes and lone surrogates in what ``changes`` stores as text: a database refuses them,
    and errors quote hostile records. Keys are checked a batch at a time; the common batch passes as it is."""
    texts = _columns_text(changes.log, (0, 1, 3)) + _columns_text(changes.mapped, (0, 1))
    texts += _columns_text(changes.rehashed, (0, 1))
    texts += _columns_text(changes.new_mappings, (0, 1)) + _columns_text(changes.failures, (0, 2))
    texts += _columns_text(changes.events, (1,))
    if all_storable([texts]):
        return
    changes.log = [(storable_text(row[0]), _storable(row[1]), row[2], _storable(row[3]), row[4]) for row in changes.log]
    changes.mapped = [(storable_text(key), _storable(target), digest) for key, target, digest in changes.mapped]
    changes.rehashed = [(storable_text(key), _storable(target), digest) for key, target, digest in changes.rehashed]
    changes.new_mappings = [
        (storable_text(key), _storable(target), digest) for key, target, digest in changes.new_mappings
    ]
    changes.failures = [
        failure._replace(source_key=storable_text(failure.source_key), error=storable_text(failure.error))
        for failure in changes.failures
    ]
    changes.events = [(event, _storable(error)) for event, error in changes.events]


def _columns_text(rows: Sequence[Sequence[Any]], positions: tuple[int, ...]) -> str:
    """The texts at ``positions`` of every row joined into one (``None`` left out), at C speed: a batch's
    rows are transposed by ``zip``, not walked a row at a time in Python (~0.1 s a 100,000 records)."""
    if not rows:
        return ""
    columns = list(zip(*rows, strict=False))
    return "".join("".join(filter(None, columns[position])) for position in positions)


def _storable(text: str | None) -> str | None:
    return storable_text(text) if text is not None else None


@dataclass(frozen=True)
class RunInfo:
    id: int
    sync: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: Counts
    error: str | None
    progress_at: datetime | None = None
    """When the run last committed a batch: a run that stops moving is stalled."""
    conflicts: int = 0
    """Conflicts a two-way run settled (0 for a one-way run)."""
    counts_by_direction: dict[str, Counts] | None = None
    """A two-way run's counts per direction (``to_a``, ``to_b``); ``None`` for a one-way run."""


@dataclass(frozen=True)
class DeadLetterInfo:
    id: int
    run_id: int | None
    sync: str
    source_key: str
    record: dict[str, Any]
    error: str
    reason: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    direction: str | None = None


def run_info(row: Any) -> RunInfo:
    """A ``runs`` row as a :class:`RunInfo`."""
    counts = Counts(**{name: row[name] for name in Counts().as_dict()})
    by_direction = None
    if row["by_direction"] is not None:
        by_direction = {name: Counts(**values) for name, values in loads(row["by_direction"]).items()}
    return RunInfo(
        row["id"],
        row["sync"],
        row["trigger"],
        row["status"],
        row["started_at"],
        row["finished_at"],
        counts,
        row["error"],
        row["progress_at"],
        row["conflicts"] or 0,
        by_direction,
    )


def dead_letter_info(row: Any) -> DeadLetterInfo:
    """A ``dead_letters`` row as a :class:`DeadLetterInfo`."""
    return DeadLetterInfo(
        row["id"],
        row["run_id"],
        row["sync"],
        row["source_key"],
        loads(row["record"]),
        row["error"],
        row["reason"],
        row["attempts"],
        row["first_failed_at"],
        row["last_failed_at"],
        row["direction"] or None,  # ONE_WAY: a one-way sync's letter
    )
