"""Process-wide settings for a process that moves many records."""

from __future__ import annotations

import gc

# Records are short-lived and plentiful: with the default threshold of 700
# allocations, the collector runs every few records and rescans every live
# object at each older-generation pass. Collecting every 50,000 allocations
# (and freezing what start-up created) keeps collection to a few percent.
_GENERATION_0 = 50_000


def tune_garbage_collection() -> None:
    """Collect garbage less often, and never rescan the objects made at start-up."""
    # Frozen without a collection first: start-up leaves next to no garbage (44 objects before the
    # quickstart's run), and a full collection over everything imported cost a short run ~20 ms.
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GENERATION_0, older, oldest)


def _collecting_rarely() -> bool:
    """Whether this process collects as rarely as :func:`tune_garbage_collection` makes it (``brygga run``
    and ``serve``): only then is collecting at the moments below worth it. Elsewhere the collector's own
    pace frees the same soon, and a full collection would cost a short command ~80 ms."""
    return gc.get_threshold()[0] >= _GENERATION_0


COLLECT_AFTER_RECORDS = 10_000
"""A run that read this many records leaves enough behind to collect before the engine's next run: a
few milliseconds, next to the run's hundred or more."""


def collect_after_close() -> None:
    """Free now what closed connectors leave behind, rather than at a full collection long after.

    Database engines, their pools and compiled statements are full of reference cycles. With
    collections as rare as :func:`tune_garbage_collection` makes them, those of closed engines
    lingered, and every later run in the process was slower: 10–25 % after a few engines
    (``brygga serve`` reloading its projects, the benchmarks).
    """
    if _collecting_rarely():
        gc.collect()


def leaves_garbage(records_read: int) -> bool:
    """Whether a run that read ``records_read`` records is worth a collection before the next."""
    return records_read >= COLLECT_AFTER_RECORDS


def collect_after_runs() -> None:
    """Free the cycles that large runs left (retry states, compiled statements, finished tasks).

    Left to the rare full collections, they made the next large run in the same process (as
    ``brygga serve`` makes them) about a tenth slower than the first. They are young: collecting
    the two younger generations finds them, without going through everything older.
    """
    if _collecting_rarely():
        gc.collect(1)
