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
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GENERATION_0, older, oldest)
