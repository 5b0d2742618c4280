"""Records new on one side of a two-way sync: linked to a record the other side already holds (``match``, or
the same key), else created there where ``create_in`` allows, and linked (SPEC 3.1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.config import Direction, Side
from app.engine.connector_calls import guarded, match_records
from app.engine.lookups import find_lookups
from app.engine.planning import Action, Planned, key_as_written, shared_target_error
from app.engine.retry import with_retries
from app.engine.settling import Settler
from app.engine.two_way_batch import SettleBatch
from app.engine.two_way_sides import Sides, direction_from, other_side
from app.engine.writing import write_plan
from app.errors import MappingError
from app.records import Record
from app.store import Pair, Store

SettlePairs = Callable[[list[Pair], SettleBatch], Awaitable[None]]

REFUSED = "the system refused to look the record up by its key"


class NewRecords:
    """Links or creates the records of one run that no pair links yet."""

    def __init__(self, sides: Sides, store: Store, settler: Settler, run_id: int, settle_pairs: SettlePairs) -> None:
        self.sides = sides
        self.store = store
        self.settler = settler
        self.run_id = run_id
        self.settle_pairs = settle_pairs
        self.sync = sides.sync

    async def match(self, side: Side, keys: list[str], batch: SettleBatch) -> None:
        """Link records new on ``side`` to the records the other side already holds that its ``match``
        finds (each found record once, and only one not linked yet, or left by a pair whose record of ``side``
        was deleted: the new record takes its place); the pairs are settled at once."""
        other = other_side(side)
        connector, stream = self.sides.connector(other), self.sides.stream(other)
        if not connector.can_match(stream):
            return
        mapped = await self._mapped(side, keys)
        if not mapped:
            return
        records_to_match = list(mapped.values())

        async def look() -> list[str | None]:
            return await match_records(connector, stream, records_to_match)

        found = dict(zip(mapped, await with_retries(self.sync.retry, look, self.sides.sleep), strict=True))
        candidates = {key: match for key, match in found.items() if match is not None}
        taken = await self.store.pairs(self.sync.name, list(candidates.values()), side=other)
        taken = {key: pair for key, pair in taken.items() if pair.b_key is not None}
        pairs: list[Pair] = []
        for key, match in candidates.items():
            held = taken.get(match)
            if held is not None:
                if held.gone_from != side:
                    continue
                batch.end(held)
            taken[match] = Pair(key, match, {})
            pairs.append(Pair(key, match, {}) if side == "a" else Pair(match, key, {}))
        if pairs:
            await self.settle_pairs(pairs, batch)

    async def _mapped(self, side: Side, keys: list[str]) -> dict[str, Record]:
        """The records of ``side`` with these keys, mapped for the other side (those that fail to map are left
        out: they fail where they are created, with their error)."""
        parts = self.sides.parts[direction_from(side)]
        records, _ = await self.sides.fetch(side, keys)
        lookups = await find_lookups(self.store, parts.mapping, list(records.values()))
        mapped: dict[str, Record] = {}
        for key in keys:
            record = records.get(key)
            try:
                result = parts.mapping.apply(record, lookups) if record is not None else None
            except MappingError:
                continue
            if result is not None:
                mapped[key] = result
        return mapped

    async def still_unlinked(self, side: Side, keys: list[str]) -> list[str]:
        """Those of ``keys`` (records of ``side``) that no pair links yet."""
        if not keys:
            return []
        linked = await self.store.pairs(self.sync.name, keys, side=side)
        return [key for key in keys if key not in linked or linked[key].b_key is None]

    async def create(self, side: Side, keys: list[str], intents: dict[str, Pair], batch: SettleBatch) -> None:
        """Records new on ``side``: created on the other side where ``create_in`` allows, and linked."""
        direction = direction_from(side)
        parts = self.sides.parts[direction]
        plan = await self._plan(side, keys, intents, batch)
        plan, held = await self._refuse_shared_targets(side, plan, batch)
        adopted = await self._adopt_existing(other_side(side), plan, batch, held)
        plan = [item for item in plan if item.source_key not in adopted]
        if plan:
            await write_plan(parts, plan, self.sides.sleep, self.run_id)
        for item in plan:
            self._record_created(side, direction, item, batch)

    async def _plan(self, side: Side, keys: list[str], intents: dict[str, Pair], batch: SettleBatch) -> list[Planned]:
        """The creates of ``side``'s new records on the other side; those that cannot be created noted."""
        direction, other = direction_from(side), other_side(side)
        parts = self.sides.parts[direction]
        records, refused = await self.sides.fetch(side, keys)
        lookups = await find_lookups(self.store, parts.mapping, list(records.values()))
        plan: list[Planned] = []
        for key in keys:
            record = records.get(key)
            if key in refused:
                batch.note(direction, "failed", key, None, REFUSED)
                continue
            if record is None:  # read, then deleted before it was settled: nothing to create, nothing to retry
                batch.changes.resolved_directed.append((direction, key))
                continue
            try:
                mapped = parts.mapping.apply(record, lookups)
            except MappingError as exc:
                batch.fail(direction, key, None, record=record, error=str(exc), reason=exc.reason)
                continue
            if mapped is None:
                batch.note(direction, "skipped", key, None, f"where.{side} leaves it out")
                continue
            if other not in self.sync.two_way.create_in:
                batch.note(direction, "skipped", key, None, f"new in {side}; create_in does not name {other}")
                continue
            target_key = None if parts.target.assigns_keys else self.sides.keys[other].text(mapped)
            # a create into b with a key a's side once noted (cut off by a crash) is looked for before it is sent;
            # a create into a is never noted: the ID map holds a pair by a's key (see the report)
            noted = (side == "a" and key in intents) or side == "b"
            plan.append(Planned(key, record, Action.CREATE, mapped, None, target_key, mapped_before=noted))
        return plan

    async def _refuse_shared_targets(
        self, side: Side, plan: list[Planned], batch: SettleBatch
    ) -> tuple[list[Planned], dict[str, str]]:
        """Creates that would land on a record of the other side that another record of ``side`` is linked
        with, or takes in this batch, fail alone: two keys converted to one (``01`` and ``1``), or one that
        the other side takes for another (``Anna`` and ``anna``, where its key ignores case).

        :returns: the creates still to make, and, where the other side's key ignores case, the key it holds
            a record under for each key asked that it has (``anna`` for ``Anna``)
        """
        direction, other = direction_from(side), other_side(side)
        parts = self.sides.parts[direction]
        asked = [item.target_key for item in plan if item.target_key is not None]
        if not asked:
            return plan, {}
        fold = parts.target_key_fold
        looking = f"looking records of stream '{parts.sync.target_stream}' up"
        held_keys = parts.target.held_keys(parts.sync.target_stream, asked) if fold is not None else None
        held = await guarded(parts.target, looking, held_keys) if held_keys is not None else {}
        forms = {key: key_as_written(held.get(key, key)) for key in asked}
        linked = await self.store.pairs(
            self.sync.name, {*asked, *(form for f in forms.values() for form in f)}, side=other
        )
        first: dict[str, str] = {}
        kept: list[Planned] = []
        for item in plan:
            target_key = item.target_key
            if target_key is None:
                kept.append(item)
                continue
            pair = linked.get(target_key) or next((linked[form] for form in forms[target_key] if form in linked), None)
            if pair is not None:
                owner = pair.a_key if other == "b" else pair.b_key
            else:
                owner = first.setdefault(fold(target_key) if fold is not None else target_key, item.source_key)
            if owner is None or owner == item.source_key:
                kept.append(item)
                continue
            error = shared_target_error(parts, item.source_key, target_key, owner)
            batch.fail(direction, item.source_key, target_key, record=item.record, error=error, reason="mapping")
        return kept, held

    async def _adopt_existing(
        self, other: Side, plan: list[Planned], batch: SettleBatch, held: dict[str, str]
    ) -> set[str]:
        """Creates whose key is there already on the other side (a create cut off before it was linked, or
        the same record in both systems): linked and settled as a pair with no base, not created twice. The
        pair holds the key as the other side does (``held``), which its reads give."""
        keyed = {item.target_key: item for item in plan if item.target_key is not None}
        if not keyed:
            return set()
        existing, _ = await self.sides.fetch(other, list(keyed))
        if not existing:
            return set()
        pairs = [
            Pair(item.source_key, held.get(target_key, target_key), {})
            if other == "b"
            else Pair(held.get(target_key, target_key), item.source_key, {})
            for target_key, item in keyed.items()
            if target_key in existing
        ]
        await self.settle_pairs(pairs, batch)
        return {keyed[target].source_key for target in existing if target in keyed}

    def _record_created(self, side: Side, direction: Direction, item: Planned, batch: SettleBatch) -> None:
        if item.action is Action.FAIL:
            error, reason = item.error or "failed", item.reason or "write"
            batch.fail(direction, item.source_key, item.target_key, record=item.record, error=error, reason=reason)
            return
        if item.action is Action.SKIP:
            batch.note(direction, "skipped", item.source_key, item.target_key, item.note)
            return
        written = dict(item.mapped or {})
        if side == "a":
            pair = Pair(item.source_key, item.target_key, self.settler.first_base(item.record, written, "b"))
        else:
            pair = Pair(item.target_key or "", item.source_key, self.settler.first_base(written, item.record, "a"))
        batch.changes.pairs.append(pair)
        batch.changes.resolved_directed.append((direction, item.source_key))
        action = "created" if item.action is Action.CREATE else "updated"
        batch.note(direction, action, item.source_key, item.target_key, values=written)
