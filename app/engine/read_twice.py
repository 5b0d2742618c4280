"""A key the source gives twice in one read, in different batches: which record stands, and saying so.

Within a batch, :func:`~app.engine.planning._supersede_duplicates` sees both records. Across batches the
run keeps no set of the keys it has read (a run of 1,000,000 records would hold them all); the ID map
tells instead: an entry that this very run wrote (its ``seen_run``) was written by an earlier batch of
this read, so the key is read twice.

Which record is written:

- a later record not met as a repeat before is written, as within a batch: it may be a change made while
  the run read (offset pages that shift as a record moves), and skipping it could lose that change for
  good (an incremental cursor moves past it). Its hash joins the entry's ``repeat_hashes``;
- the very same repeat met at a later run (its hash among ``repeat_hashes``) is skipped: the run's first
  read stands. Writing it again made the target flip between the two records within every run, two
  updates a run for ever; now the run after the first meeting writes the first record back, and from
  then on nothing is written;
- an entry with ``repeat_hashes`` read unchanged is marked seen at this run (one ID-map row, for such keys
  alone): nothing was written, and the repeat later in the run must still be known as one;
- the very same record read again (the hash just written) changes nothing, and is not a repeat to report:
  a read that re-opens where it failed reads a few records again.

Either way the later record's log entry says so, and the run warns once with the count. Keys whose dead
letter this run retried (or keeps) are left to the dead-letter rules: their entry was written by the retry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.engine.planning import Action, Planned
from app.store import IdMapping

log = logging.getLogger("brygga.engine")

WRITTEN = (
    "its key was read earlier in this run, in an earlier batch: the source gives it twice; this later record is "
    "written (the same repeat at a later run is skipped)"
)
SKIPPED = (
    "its key was read earlier in this run, in an earlier batch: the source gives it twice, and this very record "
    "was written as its repeat at an earlier run; the earlier record of this run stands"
)
HASHES_KEPT = 4
"""Repeat hashes an entry keeps, the newest: enough for a key read three or four times in a read."""

_WRITES = (Action.CREATE, Action.UPDATE)


@dataclass
class ReadTwice:
    """One run's watch over keys read again in a later batch of its read of the source."""

    sync: str
    run_id: int
    count: int = 0
    """Records met whose key an earlier batch of the run had read."""

    def judge(self, plan: Sequence[Planned], known: Mapping[str, IdMapping], left: Mapping[str, str] | None) -> None:
        """Settle the planned records whose ID-map entry says their key was read twice.

        :param known: the batch's ID-map entries, as planned with
        :param left: keys left to the dead-letter rules (``settled`` of :func:`~app.engine.planning.plan_batch`)
        """
        run = self.run_id
        if not any(entry.seen_run == run or entry.repeat_hashes for entry in known.values()):
            return  # the common batch: one pass over its entries
        for item in plan:
            entry = known.get(item.source_key)
            if entry is None or (left and item.source_key in left):
                continue
            if entry.seen_run == run:
                self._met_again(item, entry)
            elif entry.repeat_hashes and item.action is Action.UNCHANGED:
                item.touch = True

    def _met_again(self, item: Planned, entry: IdMapping) -> None:
        if item.action not in _WRITES or item.hash is None:
            return  # the very same record again (unchanged), or one skipped or failed for its own reason
        self.count += 1
        hashes = (entry.repeat_hashes or "").split()
        if item.hash in hashes:
            item.action, item.note = Action.SKIP, SKIPPED
            return
        item.note, item.repeat_hashes = WRITTEN, " ".join([*hashes, item.hash][-HASHES_KEPT:])

    def warn(self) -> None:
        """Say once, at the run's end, how many records had their key read again (each is in the record log)."""
        if self.count:
            log.warning(
                "sync %s: %d record(s) had their key read again in a later batch of the same run: the source gives "
                "those keys twice (see the run's record log)",
                self.sync,
                self.count,
            )
