"""Pairs of a two-way sync one of whose records is gone: the other deleted where ``delete_in`` allows, else
the pair unlinked (SPEC 3.1).

An unlinked pair is remembered as gone from that side (``Pair.gone_from``): the record left is no record new
on its side, so it is not created again on the side that deleted it, and its later edits are logged as
skipped, not carried there. (Taken for new, it came back after each delete, at each edit of the record left.)
A record made anew on the deleting side under the pair's key links the pair again (settled as a pair with
no base, as records found on both sides are).

A delete never takes an edit with it: where the record to be deleted was edited since the pair was last
settled, the delete and the edit are a conflict that the edit wins (as in Syncthing, Dropbox or CouchDB,
and whatever ``wins`` says: a delete can be made again, a lost edit cannot be had back). The record stays,
the conflict is logged with the values edited, and the record is created again on the side it was deleted
from where ``create_in`` allows (else the pair is only unlinked).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from app.config import SIDES, Side
from app.engine.connector_calls import write_batch
from app.engine.lookups import find_lookups
from app.engine.retry import with_retries
from app.engine.settling import Settler
from app.engine.two_way_batch import SettleBatch
from app.engine.two_way_new import REFUSED
from app.engine.two_way_sides import Sides, direction_from, other_side
from app.errors import MappingError
from app.records import Record
from app.store import DirectedEntry, Pair, Store
from connectors.base import Write, WriteAction

GonePair = tuple[Pair, Record | None, Record | None]
"""A pair, and its record on each side (``None``: gone)."""

Recreate = Callable[[Side, list[str], dict[str, Pair], SettleBatch], Awaitable[None]]
"""Creates records of a side on the other side, as records new there are (:meth:`NewRecords.create`)."""


class GoneRecords:
    """Finds and settles the pairs of one run whose record on a side no longer exists."""

    def __init__(
        self,
        sides: Sides,
        store: Store,
        settler: Settler,
        recreate: Recreate,
        commit: Callable[[SettleBatch], Awaitable[None]],
    ) -> None:
        self.sides = sides
        self.store = store
        self.settler = settler
        self.recreate = recreate
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
            gone = [pair for pair in pairs if self._unsettled(pair, {"a": on_a, "b": on_b})]
            if gone:
                batch = SettleBatch()
                await self.settle(await self._as_gone(gone, {"a": on_a, "b": on_b}, batch), batch)
                await self.commit(batch)

    def _unsettled(self, pair: Pair, held: dict[Side, set[str]]) -> bool:
        """Whether a record of ``pair`` is gone and that is news: not a pair already remembered as gone from
        that side alone, whose delete ``delete_in`` still does not carry (settling it again changes nothing)."""
        missing = {side for side in SIDES if _key(pair, side) not in held[side]}
        if not missing:
            return False
        marked = pair.gone_from
        if marked is None or missing != {marked}:
            return True
        return other_side(_side(marked)) in self.sides.sync.two_way.delete_in

    async def _as_gone(self, pairs: list[Pair], held: dict[Side, set[str]], batch: SettleBatch) -> list[GonePair]:
        """These pairs with their bases, and the records each side still holds (whether one was edited decides
        whether its partner's delete is carried out); a pair whose record a side refused to give fails alone."""
        with_bases = await self.store.pairs(self.sides.sync.name, [pair.a_key for pair in pairs], side="a")
        records: dict[Side, dict[str, Record]] = {}
        refused: dict[Side, set[str]] = {}
        for side in SIDES:
            keys = [key for key in (_key(pair, side) for pair in pairs) if key in held[side]]
            records[side], refused[side] = await self.sides.fetch(side, keys)
        gone: list[GonePair] = []
        for pair in (with_bases.get(pair.a_key, pair) for pair in pairs):
            if pair.a_key in refused["a"] or _key(pair, "b") in refused["b"]:
                batch.fail("to_b", pair.a_key, pair.b_key, record={}, error=REFUSED, reason="write")
                continue
            gone.append((pair, records["a"].get(pair.a_key), records["b"].get(_key(pair, "b"))))
        return gone

    async def settle(self, gone: Iterable[GonePair], batch: SettleBatch) -> None:
        """Pairs whose record on one side (or both) is gone: the other deleted where ``delete_in`` allows and
        it was not edited since, else kept and the pair unlinked (remembered as gone from that side); logged
        either way."""
        deletes: dict[Side, list[tuple[Pair, Record]]] = {"a": [], "b": []}
        left: dict[Side, list[tuple[Pair, Record]]] = {"a": [], "b": []}
        delete_in = self.sides.sync.two_way.delete_in
        for pair, a_record, b_record in gone:
            b_key = pair.b_key or ""
            if a_record is None and b_record is None:
                batch.unlink(pair, "to_b", pair.a_key, b_key, "gone from both sides: the pair is unlinked")
                continue
            side: Side = "a" if a_record is None else "b"
            other = other_side(side)
            survivor = b_record if other == "b" else a_record
            assert survivor is not None
            (deletes if other in delete_in else left)[other].append((pair, survivor))
        for other, doomed in deletes.items():
            if doomed:
                edits = await self._edits(other, doomed)
                await self._delete(other, [pair for pair, _ in doomed if not edits[pair.a_key]], batch)
                await self._keep(other, [(pair, edits[pair.a_key]) for pair, _ in doomed if edits[pair.a_key]], batch)
        for side, kept in left.items():
            if kept:
                await self._leave(side, kept, batch)

    async def _leave(self, side: Side, kept: list[tuple[Pair, Record]], batch: SettleBatch) -> None:
        """Records of ``side`` whose partner was deleted on the other side, a delete ``delete_in`` does not
        carry: each stays, unlinked, its pair remembered as gone from the other side (its dead letters go with
        the link). Touched again, an edit of it is logged as skipped, saying why (nothing is carried to the
        side that deleted it); a re-read with no edit is unchanged. The pair's base follows the record, so
        each edit is told once."""
        sync, gone = self.sides.sync, other_side(side)
        direction, proposed = direction_from(side), await self._proposed(side, kept)
        for pair, record in kept:
            left_key, gone_key = _key(pair, side), _key(pair, gone)
            edits = self.settler.edits(side, record, proposed[pair.a_key], pair.base)
            if pair.gone_from != gone:
                why = (
                    f"gone from {gone}; delete_in does not name {side}: the pair is unlinked, and "
                    f"{sync.stream(side)} record {left_key} stays, its edits no longer carried to {sync.stream(gone)}"
                )
                batch.note(direction_from(gone), "skipped", gone_key, left_key, why)
                batch.changes.resolved_directed += [("to_b", pair.a_key), ("to_a", pair.b_key or "")]
            elif edits:
                why = (
                    f"not carried to {sync.stream(gone)} ({', '.join(edits)}): its record {gone_key} was deleted "
                    f"there, and delete_in does not name {side}, so this record stays in {sync.stream(side)}, "
                    f"unlinked (enter the record in {sync.stream(gone)} again under key {gone_key} to link the two "
                    "again, or delete this one too)"
                )
                batch.note(direction, "skipped", left_key, gone_key, why)
            else:
                batch.note(direction, "unchanged", left_key, gone_key)
            batch.changes.resolved_directed.append((direction, left_key))
            base = self.settler.seen(side, record, proposed[pair.a_key], pair.base)
            if base != pair.base or pair.gone_from != gone:
                batch.changes.pairs.append(Pair(pair.a_key, pair.b_key, base, gone))

    async def _edits(self, side: Side, records: list[tuple[Pair, Record]]) -> dict[str, dict[str, Any]]:
        """What changed in each record of ``side`` since its pair was last settled, by a's key of the pair.

        A record that no longer maps (its lookup's parent went with the delete, say) is judged by the fields
        written into it alone: a delete waiting on a mapping that may never work again would never happen.
        """
        proposed = await self._proposed(side, records)
        return {
            pair.a_key: self.settler.edits(side, record, proposed[pair.a_key], pair.base) for pair, record in records
        }

    async def _proposed(self, side: Side, records: list[tuple[Pair, Record]]) -> dict[str, Record | None]:
        """Each record of ``side`` mapped for the other side, by a's key of its pair (``None`` where it does not
        map, or ``where`` leaves it out)."""
        mapping = self.sides.parts[direction_from(side)].mapping
        lookups = await find_lookups(self.store, mapping, [record for _, record in records])
        proposed: dict[str, Record | None] = {}
        for pair, record in records:
            try:
                proposed[pair.a_key] = mapping.apply(record, lookups)
            except MappingError:
                proposed[pair.a_key] = None
        return proposed

    async def _delete(self, side: Side, pairs: list[Pair], batch: SettleBatch) -> None:
        """Delete these pairs' records on ``side`` (their other side is gone), and unlink them."""
        if not pairs:
            return
        direction = direction_from(other_side(side))
        keys = [_key(pair, side) for pair in pairs]
        writes = [Write(WriteAction.DELETE, None, key) for key in keys]
        connector, stream = self.sides.connector(side), self.sides.stream(side)
        retry, sleep = self.sides.sync.retry, self.sides.sleep
        results = await with_retries(retry, lambda: write_batch(connector, stream, writes), sleep)
        for pair, key, result in zip(pairs, keys, results, strict=True):
            source_key = _key(pair, other_side(side))
            if result.ok:
                batch.end(pair)
                batch.note(direction, "deleted", source_key, key)
            else:
                batch.note(direction, "failed", source_key, key, f"delete: {result.error}")

    async def _keep(self, side: Side, kept: list[tuple[Pair, dict[str, Any]]], batch: SettleBatch) -> None:
        """Records of ``side`` edited since their partner on the other side was deleted: the edit wins. Each
        is a conflict, logged with what was edited; its pair is unlinked, and the record created again on the
        other side where ``create_in`` allows."""
        if not kept:
            return
        sync, deleted, direction = self.sides.sync, other_side(side), direction_from(side)
        outcome = (
            f"the record is created again in {sync.stream(deleted)}"
            if deleted in sync.two_way.create_in
            else f"the pair is unlinked (create_in does not name {deleted})"
        )
        for pair, edits in kept:
            fields = ", ".join(edits)
            why = (
                f"deleted in {sync.stream(deleted)} but edited in {sync.stream(side)} ({fields}) since the pair was "
                f"last settled: the edit stands, not the delete; {outcome}"
            )
            detail = {"field": fields, "a": edits if side == "a" else None, "b": edits if side == "b" else None}
            detail["winner"] = side
            entry = DirectedEntry(_key(pair, side), _key(pair, deleted), "conflict", why, direction, detail)
            batch.changes.directed.append(entry)
            batch.changes.conflicts += 1
            batch.end(pair)
        intents = {pair.a_key: pair for pair, _ in kept} if side == "a" else {}
        await self.recreate(side, [_key(pair, side) for pair, _ in kept], intents, batch)


def _key(pair: Pair, side: Side) -> str:
    return pair.a_key if side == "a" else pair.b_key or ""


def _side(stored: str | None) -> Side:
    """A side as the state database keeps it (``gone_from``)."""
    return "b" if stored == "b" else "a"
