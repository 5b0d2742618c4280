"""Pairs of a two-way sync one of whose records is gone: the other deleted where ``delete_in`` allows, else
the pair unlinked (SPEC 3.1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from app.config import Direction, Side
from app.engine.retry import with_retries
from app.engine.two_way_batch import SettleBatch
from app.engine.two_way_sides import Sides, direction_from, other_side
from app.records import Record
from app.store import Pair, Store
from connectors.base import Write, WriteAction

GonePair = tuple[Pair, Record | None, Record | None]
"""A pair, and its record on each side (``None``: gone)."""


class GoneRecords:
    """Finds and settles the pairs of one run whose record on a side no longer exists."""

    def __init__(self, sides: Sides, store: Store, commit: Callable[[SettleBatch], Awaitable[None]]) -> None:
        self.sides = sides
        self.store = store
        self.commit = commit

    async def find(self) -> None:
        """Pairs one of whose records no longer exists, found against every key each side holds.

        A side this run read whole gave its keys already; another is asked for all its keys. A linked key
        missing there (created in this run, or gone) is asked for by key before its pair is taken for gone.
        """
        await self.sides.scan_unread()
        after: str | None = None
        while True:
            pairs = await self.store.pairs_after(self.sides.sync.name, after, self.sides.batch_size(), bases=False)
            if not pairs:
                return
            after = pairs[-1].a_key
            on_a = await self.sides.existing("a", [pair.a_key for pair in pairs])
            on_b = await self.sides.existing("b", [pair.b_key for pair in pairs if pair.b_key is not None])
            gone: list[GonePair] = [
                (pair, {} if pair.a_key in on_a else None, {} if pair.b_key in on_b else None)
                for pair in pairs
                if pair.a_key not in on_a or pair.b_key not in on_b
            ]
            if gone:
                batch = SettleBatch()
                await self.settle(gone, batch)
                await self.commit(batch)

    async def settle(self, gone: Iterable[GonePair], batch: SettleBatch) -> None:
        """Pairs whose record on one side (or both) is gone: the other deleted where ``delete_in`` allows,
        else the pair unlinked; logged either way."""
        deletes: dict[Side, list[Pair]] = {"a": [], "b": []}
        delete_in = self.sides.sync.two_way.delete_in
        for pair, a_record, b_record in gone:
            b_key = pair.b_key or ""
            if a_record is None and b_record is None:
                batch.unlink(pair, "to_b", pair.a_key, b_key, "gone from both sides: the pair is unlinked")
                continue
            side: Side = "a" if a_record is None else "b"
            other = other_side(side)
            if other in delete_in:
                deletes[other].append(pair)
                continue
            source_key, target_key = (pair.a_key, b_key) if side == "a" else (b_key, pair.a_key)
            why = f"gone from {side}; delete_in does not name {other}: the pair is unlinked"
            batch.unlink(pair, direction_from(side), source_key, target_key, why)
        for other, doomed in deletes.items():
            if doomed:
                await self._delete(other, doomed, batch)

    async def _delete(self, side: Side, pairs: list[Pair], batch: SettleBatch) -> None:
        """Delete these pairs' records on ``side`` (their other side is gone), and unlink them."""
        direction: Direction = direction_from(other_side(side))
        keys = [(pair.b_key or "") if side == "b" else pair.a_key for pair in pairs]
        writes = [Write(WriteAction.DELETE, None, key) for key in keys]
        connector, stream = self.sides.connector(side), self.sides.stream(side)
        retry, sleep = self.sides.sync.retry, self.sides.sleep
        results = await with_retries(retry, lambda: connector.write(stream, writes), sleep)
        for pair, key, result in zip(pairs, keys, results, strict=True):
            source_key = pair.a_key if side == "b" else pair.b_key or ""
            if result.ok:
                batch.changes.unmapped.append(pair.a_key)
                batch.note(direction, "deleted", source_key, key)
            else:
                batch.note(direction, "failed", source_key, key, f"delete: {result.error}")
