"""``brygga preview`` of a two-way sync: what the next run would do in both directions; writes nothing.

The next records of each side's cursor (``limit`` a side) touch their pairs; each pair is settled in
memory, as a run settles it (:class:`~app.engine.settling.Settler`), and shown as one row per direction
that would write: the fields that would change, and the conflicts it would settle. Records new on one
side show as creates on the other (where ``create_in`` allows), records gone as deletes or unlinks, and the
edits of a record whose partner's delete was not carried (``delete_in``) as skips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.config import SIDES, Direction, Side, TwoWaySyncConfig
from app.engine.by_key import records_by_key
from app.engine.connector_calls import prepare_stream, read_batches
from app.engine.lookups import find_lookups
from app.engine.planning import keyless_key
from app.engine.preview_rows import PreviewRow
from app.engine.settling import Settlement, Settler
from app.engine.two_way_keyless import keyless_error
from app.engine.two_way_keys import LinkedKeys
from app.errors import MappingError
from app.mapping import CompiledMapping, KeyReader, show
from app.records import Record
from app.store import Pair
from connectors.base import Connector

if TYPE_CHECKING:
    from app.engine.runner import Engine


class _Preview:
    def __init__(self, engine: Engine, sync: TwoWaySyncConfig) -> None:
        self.engine = engine
        self.sync = sync
        self.mappings: dict[Direction, CompiledMapping] = engine.workspace.directions[sync.name]
        self.connectors: dict[Side, Connector] = {}
        self.streams: dict[Side, str] = {"a": sync.source_stream, "b": sync.target_stream}
        self.keys: dict[Side, KeyReader] = {}
        self.records: dict[Side, dict[str, Record]] = {"a": {}, "b": {}}
        self.keyless: list[PreviewRow] = []
        """The records read without a key, each a failure (as a run fails them)."""

    async def rows(self, limit: int) -> list[PreviewRow]:
        for side in SIDES:
            system = self.sync.source_system if side == "a" else self.sync.target_system
            connector = self.connectors[side] = await self.engine.connections.get(system)
            await prepare_stream(connector, self.streams[side])
            self.keys[side] = KeyReader(connector.system.stream(self.streams[side]).key)
        self.settler = Settler(self.sync, self.keys["a"].fields, self.keys["b"].fields)
        checkpoint = await self.engine.store.checkpoint(self.sync.name) or {}
        for side in SIDES:
            await self._read(side, checkpoint.get(side), limit)
        store = self.engine.store
        by_a = await store.pairs(self.sync.name, list(self.records["a"]), side="a")
        by_b = await store.pairs(self.sync.name, list(self.records["b"]), side="b")
        pairs = {pair.a_key: pair for pair in (*by_a.values(), *by_b.values()) if pair.b_key is not None}
        rows: list[PreviewRow] = list(self.keyless)
        for pair in pairs.values():
            rows += await self._pair(pair)
        rows += await self._new("a", [key for key in self.records["a"] if key not in pairs])
        rows += await self._new("b", [key for key in self.records["b"] if key not in by_b])
        return rows

    async def _read(self, side: Side, checkpoint: Any, limit: int) -> None:
        connector, kept = self.connectors[side], self.records[side]
        size = min(limit, connector.system.options.batch_size)
        reader = read_batches(connector, self.streams[side], checkpoint, size)
        try:
            shown = 0  # the records kept, and those without a key (each shown as a failure)
            async for batch in reader:
                for key, record in zip(self.keys[side].texts(batch.records), batch.records, strict=True):
                    if shown >= limit:
                        break
                    shown += 1
                    if key is not None:
                        kept[key] = record
                    else:
                        self._keyless(side, record)
                if shown >= limit:
                    break
        finally:
            await reader.aclose()

    def _keyless(self, side: Side, record: Record) -> None:
        error = keyless_error(self.sync, side, self.keys[side].fields, record)
        direction: Direction = "to_b" if side == "a" else "to_a"
        self.keyless.append(PreviewRow(keyless_key(record), "fail", None, error=error, direction=direction))

    async def _record(self, side: Side, key: str) -> Record | None:
        if key in self.records[side]:
            return self.records[side][key]
        found = await records_by_key(self.connectors[side], self.streams[side], [key], self.sync.retry, _no_wait)
        return found.found.get(key)

    async def _pair(self, pair: Pair) -> list[PreviewRow]:
        b_key = pair.b_key or ""
        a, b = await self._record("a", pair.a_key), await self._record("b", b_key)
        if a is None or b is None:
            return await self._gone(pair, a, b)
        if pair.gone_from is not None:  # made anew under the key it was deleted with: linked again, no base
            pair = pair._replace(base={})
        store = self.engine.store
        to_b = await find_lookups(store, self.mappings["to_b"], [a])
        to_a = await find_lookups(store, self.mappings["to_a"], [b])
        try:
            proposed_b, proposed_a = self.mappings["to_b"].apply(a, to_b), self.mappings["to_a"].apply(b, to_a)
        except MappingError as exc:
            return [PreviewRow(pair.a_key, "fail", b_key, error=str(exc), direction="to_b")]
        checks: tuple[tuple[Direction, Record | None, str, str], ...] = (
            ("to_b", proposed_b, pair.a_key, b_key),
            ("to_a", proposed_a, b_key, pair.a_key),
        )
        for direction, proposed, source, target in checks:
            base = pair.base.get("b" if direction == "to_b" else "a", {})
            why = self._linked_keys(direction).refusal(source, target, proposed, base)
            if why is not None:
                return [PreviewRow(source, "fail", target, error=why, direction=direction)]
        settled = self.settler.settle(a, b, proposed_b, proposed_a, pair.base)
        return _settled_rows(pair, a, b, settled)

    def _linked_keys(self, direction: Direction) -> LinkedKeys:
        side: Side = "b" if direction == "to_b" else "a"
        connector, stream = self.connectors[side], self.streams[side]
        fold = None if connector.assigns_keys else connector.key_fold(stream)
        return LinkedKeys(self.sync, direction, self.keys[side].fields, fold)

    async def _gone(self, pair: Pair, a: Record | None, b: Record | None) -> list[PreviewRow]:
        """A pair whose record is gone on a side: the other deleted where ``delete_in`` allows and it was not
        edited since, else kept (an edit wins over a delete: created again where ``create_in`` allows); where
        ``delete_in`` does not allow it, unlinked and remembered, and its record left's edits skipped."""
        side: Side = "a" if a is None else "b"
        other: Side = "b" if side == "a" else "a"
        keys = {"a": pair.a_key, "b": pair.b_key or ""}
        direction: Direction = "to_b" if side == "a" else "to_a"
        survivor = b if side == "a" else a
        unlinked = PreviewRow(keys[side], "unlink", keys[other], note=f"gone from {side}", direction=direction)
        back: Direction = "to_b" if other == "a" else "to_a"
        if survivor is None:
            return [unlinked]
        if other not in self.sync.two_way.delete_in and pair.gone_from != side:
            unlinked.note = f"gone from {side}; delete_in does not name {other}: the record left stays, unlinked"
            return [unlinked]
        lookups = await find_lookups(self.engine.store, self.mappings[back], [survivor])
        try:
            proposed = self.mappings[back].apply(survivor, lookups)
        except MappingError:
            proposed = None
        edits = self.settler.edits(other, survivor, proposed, pair.base)
        if other not in self.sync.two_way.delete_in:  # remembered as gone from side: nothing is carried there
            if not edits:
                return [PreviewRow(keys[other], "unchanged", keys[side], direction=back)]
            note = (
                f"deleted in {side}, and delete_in does not name {other}: "
                f"its edits ({', '.join(edits)}) are not carried to {side}"
            )
            return [PreviewRow(keys[other], "skip", keys[side], note=note, direction=back)]
        if not edits:
            return [PreviewRow(keys[side], "delete", keys[other], note=f"gone from {side}", direction=direction)]
        action = "create" if side in self.sync.two_way.create_in else "unlink"
        note = f"conflict: deleted in {side}, edited in {other} ({', '.join(edits)}); the edit stands, not the delete"
        return [PreviewRow(keys[other], action, keys[side], note=note, direction=back)]

    async def _new(self, side: Side, keys: list[str], found: dict[str, Record] | None = None) -> list[PreviewRow]:
        """Records new on ``side`` (those it read, or ``found``): created on the other where allowed."""
        other: Side = "b" if side == "a" else "a"
        direction: Direction = "to_b" if side == "a" else "to_a"
        kept = found if found is not None else self.records[side]
        records = [kept[key] for key in keys]
        lookups = await find_lookups(self.engine.store, self.mappings[direction], records)
        rows = []
        for key in keys:
            try:
                mapped = self.mappings[direction].apply(kept[key], lookups)
            except MappingError as exc:
                rows.append(PreviewRow(key, "fail", None, error=str(exc), direction=direction))
                continue
            if mapped is None:
                rows.append(PreviewRow(key, "skip", None, note=f"where.{side} leaves it out", direction=direction))
            elif other not in self.sync.two_way.create_in:
                note = f"new in {side}; create_in does not name {other}"
                rows.append(PreviewRow(key, "skip", None, note=note, direction=direction))
            else:
                target_key = None if self.connectors[other].assigns_keys else self.keys[other].text(mapped)
                rows.append(PreviewRow(key, "create", target_key, mapped=mapped, direction=direction))
        return rows


def _settled_rows(pair: Pair, a: Record, b: Record, settled: Settlement) -> list[PreviewRow]:
    b_key = pair.b_key or ""
    conflicts = [
        f"conflict on {c.field}: a {show(c.a)}, b {show(c.b)}; {c.winner}'s value stands" for c in settled.conflicts
    ]
    rows = []
    for direction, written, current, source, target in (
        ("to_b", settled.into_b, b, pair.a_key, b_key),
        ("to_a", settled.into_a, a, b_key, pair.a_key),
    ):
        if written:
            changes = {name: (current.get(name), value) for name, value in written.items()}
            rows.append(PreviewRow(source, "update", target, changes, direction=direction))
    if not rows:
        rows.append(PreviewRow(pair.a_key, "unchanged", b_key, direction="to_b"))
    if conflicts:
        rows[0].note = "; ".join(conflicts)
    return rows


async def _no_wait(_seconds: float) -> None:
    return None


async def preview_two_way(engine: Engine, sync: TwoWaySyncConfig, limit: int) -> list[PreviewRow]:
    """What the next run of ``sync`` would do to the first ``limit`` records of each side's cursor."""
    return await _Preview(engine, sync).rows(limit)
