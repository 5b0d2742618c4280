"""Both sides of a two-way run: their connectors and streams, what a run read of each, and records by key.

A run keeps the records it read from each side's cursor (up to :data:`KEPT_RECORDS` a side) and, for a side
read from the start, every key it holds: settling, creating and looking for gone records then ask a side
only for what the run has not seen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from app.config import SIDES, Direction, Side, TwoWaySyncConfig
from app.engine.by_key import records_by_key
from app.engine.connector_calls import guarded, read_batches, scan_keys
from app.engine.key_look_ups import two_way_message
from app.engine.planning import SyncParts
from app.engine.retry import Sleep
from app.errors import PermanentError
from app.mapping import KeyReader
from app.records import Record
from app.store import Checkpoint
from connectors.base import Connector

Keyless = Callable[[Side, list[Record]], Awaitable[None]]
"""Takes the records of a side read without a key (:class:`~app.engine.two_way_keyless.KeylessRecords`)."""

KEPT_RECORDS = 50_000
"""Records a run keeps of each side's read, for settling without asking the side again."""


def other_side(side: Side) -> Side:
    return "b" if side == "a" else "a"


def direction_from(side: Side) -> Direction:
    """The direction in which ``side``'s records are carried to the other side."""
    return "to_b" if side == "a" else "to_a"


@dataclass
class Sides:
    """The two sides of one two-way sync during one run."""

    sync: TwoWaySyncConfig
    parts: dict[Direction, SyncParts]
    keys: dict[Side, KeyReader]
    sleep: Sleep
    kept: dict[Side, dict[str, Record]] = field(default_factory=lambda: {"a": {}, "b": {}})
    """Records read from each side's cursor in this run, by key."""
    read_whole: dict[Side, set[str]] = field(default_factory=dict)
    """The keys of each side this run read from the start (every record it held then): records known to
    exist when gone records are looked for, without asking the side for each again."""

    def stream(self, side: Side) -> str:
        return self.sync.source_stream if side == "a" else self.sync.target_stream

    def connector(self, side: Side) -> Connector:
        return self.parts["to_b"].source if side == "a" else self.parts["to_b"].target

    def batch_size(self) -> int:
        """The smaller of both systems' batch sizes: one batch settles pairs of both."""
        return max(1, min(self.connector(side).system.options.batch_size for side in SIDES))

    async def read(
        self, side: Side, checkpoint: Checkpoint | None, keys: dict[str, None], keyless: Keyless
    ) -> Checkpoint | None:
        """Read one side from its cursor, noting the keys of the records read; where the read got to. The
        records without a key go to ``keyless`` a batch at a time (nothing links them: each fails alone).

        The records themselves are kept too, up to :data:`KEPT_RECORDS` a side, so settling asks the
        side for them again only beyond that (memory stays bounded on a first run of a large stream).
        """
        connector = self.connector(side)
        reached = checkpoint
        kept = self.kept[side]
        whole: set[str] = set()
        async for batch in read_batches(connector, self.stream(side), checkpoint, connector.system.options.batch_size):
            missing: list[Record] = []
            for key, record in zip(self.keys[side].texts(batch.records), batch.records, strict=True):
                if key is None:
                    missing.append(record)
                    continue
                keys[key] = None
                whole.add(key)
                if len(kept) < KEPT_RECORDS:
                    kept[key] = record
            if missing:
                await keyless(side, missing)
            reached = batch.checkpoint
        if not checkpoint:  # read from the start (a stream without a cursor is read so at every run)
            self.read_whole[side] = whole
        return reached

    async def fetch(self, side: Side, keys: Sequence[str]) -> tuple[dict[str, Record], set[str]]:
        """The records of ``side`` with these keys that exist (those read in this run as they were read), and
        the keys it refused to look up."""
        kept = self.kept[side]
        have = {key: kept[key] for key in keys if key in kept}
        wanted = [key for key in keys if key not in have]
        if not wanted:
            return have, set()
        try:
            found = await records_by_key(self.connector(side), self.stream(side), wanted, self.sync.retry, self.sleep)
        except NotImplementedError:
            raise self._cannot_look_up(side) from None
        return have | found.found, set(found.refused)

    async def scan_unread(self) -> None:
        """Every key of each side this run did not read from the start (``scan_keys``: over SQL a query of
        keys only, by pages; over REST the stream's list, far fewer requests than a ``GET`` per linked key)."""
        size = self.batch_size()
        for side in SIDES:
            if side not in self.read_whole:
                scanned: set[str] = set()
                async for keys in scan_keys(self.connector(side), self.stream(side), size):
                    scanned.update(keys)
                self.read_whole[side] = scanned

    async def existing(self, side: Side, keys: list[str]) -> set[str]:
        """Which of ``keys`` exist on ``side``: those this run read from the start of the side are known to,
        the side is asked for the others only (over REST, a ``GET`` each: a pair created in this run, or gone)."""
        known = self.read_whole.get(side)
        unknown = keys if known is None else [key for key in keys if key not in known]
        connector, looking = self.connector(side), f"looking records of stream '{self.stream(side)}' up"
        asking = connector.existing_keys(self.stream(side), unknown) if unknown else None
        try:
            found = await guarded(connector, looking, asking) if asking is not None else set()
        except NotImplementedError:
            raise self._cannot_look_up(side) from None
        return found | ({key for key in keys if key in known} if known is not None else set())

    def _cannot_look_up(self, side: Side) -> PermanentError:
        system = self.connector(side).system
        return PermanentError(two_way_message(self.sync.name, system.connector, system.name))
