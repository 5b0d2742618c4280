"""One run of a two-way sync (SPEC 3.1): read both sides, then settle each touched pair once.

1. Dead letters of earlier runs, and both sides from their own cursors (one
   stored checkpoint ``{"a": …, "b": …}``), are read for the keys they touch;
2. the touched pairs are settled in batches: both records fetched by key, each
   field compared three ways (:mod:`app.engine.settling`), only the fields that
   change written into each side; records new on one side are created on the
   other where ``create_in`` allows and linked; a side's record that is gone is
   deleted on the other where ``delete_in`` allows, else the pair is unlinked (and remembered as gone from
   that side: the record left is not new there, and its edits are not carried back);
3. each batch's pairs (their links and bases), log entries and dead letters are
   committed together; the checkpoint moves with the last batch only, so a crash
   re-reads what it had not settled, and settling it again writes only what is
   still missing (a value already written is "changed on both to the same value").

Writing goes through :func:`app.engine.writing.write_plan`, as one-way syncs
write: retries, ``match`` and the intents of creates into systems that assign keys.
What a run reads of both sides lives in :mod:`app.engine.two_way_sides`, new records in
:mod:`app.engine.two_way_new`, gone ones in :mod:`app.engine.two_way_gone`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.config import DIRECTIONS, SIDES, Direction, Side, TwoWaySyncConfig
from app.engine.connector_calls import prepare_stream
from app.engine.lookups import find_lookups
from app.engine.pipeline import all_of
from app.engine.planning import Action, Planned, SyncParts
from app.engine.retry import with_retries
from app.engine.settling import Settlement, Settler
from app.engine.two_way_batch import SettleBatch
from app.engine.two_way_gone import GonePair, GoneRecords
from app.engine.two_way_keyless import KeylessRecords
from app.engine.two_way_keys import LinkedKeys
from app.engine.two_way_new import REFUSED, NewRecords
from app.engine.two_way_sides import Sides
from app.engine.webhook_checks import NotARecord, WebhookRejected, parsed, records_in, records_of
from app.engine.webhook_run import EVENTS_PER_ROUND
from app.engine.writing import write_plan
from app.errors import MappingError, RunStopped
from app.mapping import KeyReader, LookupResolver
from app.records import Record
from app.store import Checkpoint, Counts, DirectedEntry, EventInfo, Pair
from connectors.base import StreamInfo, retrying_as

if TYPE_CHECKING:
    from app.engine.hosts import RunHost
    from app.engine.one_way_run import RunOptions

log = logging.getLogger("brygga.engine")

_LETTERS_READ = 5000
"""Dead letters read at a time: a sync whose every record failed has as many as its sides have records."""


class TwoWayRun:
    """One run of one two-way sync; made and driven by the engine, as :class:`~app.engine.one_way_run.OneWayRun` is."""

    def __init__(self, engine: RunHost, sync: TwoWaySyncConfig, run_id: int, options: RunOptions) -> None:
        self.engine = engine
        self.sync = sync
        self.run_id = run_id
        self.options = options
        self.store = engine.store
        self.counts = Counts()
        self.by_direction: dict[Direction, Counts] = {"to_a": Counts(), "to_b": Counts()}
        self.conflicts = 0
        self.events_done = 0

    async def execute(self) -> Counts:
        with retrying_as(self.sync.retry):
            return await self._execute()

    async def _execute(self) -> Counts:
        await self._prepare()
        stored = None if self.options.full else await self.store.checkpoint(self.sync.name)
        checkpoint: Checkpoint = dict(stored or {})
        if self.options.webhook:
            await self._events()
            return self.counts
        touched: dict[Side, dict[str, None]] = {"a": {}, "b": {}}
        await self._dead_letters(touched)
        if self.options.read_source:
            reached: dict[str, Checkpoint | None] = {}

            async def read(side: Side) -> None:
                reached[side] = await self.sides.read(side, checkpoint.get(side), touched[side], self.keyless.read)

            await all_of(read("a"), read("b"))  # each side's read waits on its own system
            checkpoint.update(reached)
        await self._settle_all(touched, checkpoint if self.options.read_source else None)
        # looking for gone records reads every key of both sides, as a mirror sync does: for sides where deletes
        # are carried out, and on --full; otherwise a gone record is noticed when its pair is next touched
        if self.options.read_source and (self.sync.two_way.delete_in or self.options.full):
            await self.gone.find()
        return self.counts

    async def _prepare(self) -> None:
        """Both systems' connections, and each side's look at its system (a table's columns) at the same time."""
        mappings = self.engine.workspace.directions[self.sync.name]
        a = await self.engine.connections.get(self.sync.source_system)
        b = await self.engine.connections.get(self.sync.target_system)
        parts: dict[Direction, SyncParts] = {
            "to_b": SyncParts(self.sync.direction("to_b"), mappings["to_b"], self.store, a, b),
            "to_a": SyncParts(self.sync.direction("to_a"), mappings["to_a"], self.store, b, a),
        }
        retry, sleep = self.sync.retry, self.engine.sleep
        await all_of(
            *(
                with_retries(retry, _preparing(part, part.sync.target_stream, list(part.mapping.field_names)), sleep)
                for part in parts.values()
            )
        )
        key_a = a.system.stream(self.sync.source_stream).key
        key_b = b.system.stream(self.sync.target_stream).key
        keys: dict[Side, KeyReader] = {"a": KeyReader(key_a), "b": KeyReader(key_b)}
        self.parts = parts
        self.sides = Sides(self.sync, parts, keys, sleep)
        self.settler = Settler(self.sync, key_a, key_b)
        self.linked_keys: dict[Direction, LinkedKeys] = {
            "to_b": LinkedKeys(self.sync, "to_b", key_b, parts["to_b"].target_key_fold),
            "to_a": LinkedKeys(self.sync, "to_a", key_a, parts["to_a"].target_key_fold),
        }
        self.new = NewRecords(self.sides, self.store, self.settler, self.run_id, self._settle_pairs)
        self.gone = GoneRecords(
            self.sides, self.store, self.settler, self.new.create, lambda batch: self._commit(batch, None)
        )
        self.keyless = KeylessRecords(self.sides, self.store, lambda batch: self._commit(batch, None))

    async def _dead_letters(self, touched: dict[Side, dict[str, None]]) -> None:
        """Dead letters due again: their pairs are settled again (``to_b``: a's key, ``to_a``: b's key); those
        of records without a key fail again from their kept copies (no side holds their stand-in keys)."""
        later_runs = self.sync.retry.later_runs if self.options.dead_letters == "due" else 1_000_000
        chosen = self.options.dead_letters
        after = 0
        while letters := await self.store.due_dead_letters(
            self.sync.name, self.run_id, later_runs, after, _LETTERS_READ
        ):
            after = letters[-1].id  # a page at a time: only their keys are kept, not their records
            letters = [letter for letter in letters if not isinstance(chosen, tuple) or letter.id in chosen]
            await self.keyless.retry([letter for letter in letters if self.keyless.has_no_key(letter)])
            for letter in letters:
                if not self.keyless.has_no_key(letter):
                    touched["b" if letter.direction == "to_a" else "a"][letter.source_key] = None

    async def _events(self) -> None:
        """A webhook run: the records of either side's pending events touch their pairs, which are settled
        as a polled run settles them (each record fetched fresh by key); the events' progress is committed
        with the last batch. An event that a ``delete_when`` marks as a delete needs nothing more: its
        record is gone when fetched."""
        while True:
            events = await self.store.inbox.pending(self.sync.name, EVENTS_PER_ROUND)
            if not events:
                return
            touched: dict[Side, dict[str, None]] = {"a": {}, "b": {}}
            outcomes: list[tuple[int, str | None]] = []
            for event in events:
                outcomes.append((event.id, await self._touch_from_event(event, touched)))
            await self._settle_all(touched, None, outcomes)
            self.events_done += len(outcomes)

    async def _touch_from_event(self, event: EventInfo, touched: dict[Side, dict[str, None]]) -> str | None:
        """Note the keys of an event's records on their side; why the event fails, if it does. A large body is
        parsed in a worker thread: a MiB of tiny records takes a fraction of a second. An item that is no
        record is passed over (the others' keys are noted); the event's outcome names the first one. A record
        without a key fails alone."""
        for side in ("a", "b"):
            system, _, stream = self.sync.stream(side).partition(".")
            webhook = self.sides.connector(side).system.webhook
            if event.system != system or webhook is None or webhook.stream != stream:
                continue
            keys = self.sides.keys[side]
            try:
                items = records_in(webhook, records_of(webhook, await parsed(event.body)), keys.fields)
            except WebhookRejected as exc:
                return str(exc)
            records = [item for item in items if not isinstance(item, NotARecord)]
            keyless: list[Record] = []
            for key, record in zip(keys.texts(records), records, strict=True):
                if key is None:
                    keyless.append(record)
                else:
                    touched[side][key] = None
            if keyless:  # nothing links them: each fails alone, as read from a side
                await self.keyless.read(side, keyless)
            return next((item.error for item in items if isinstance(item, NotARecord)), None)
        return f"no stream of sync {self.sync.name} takes events of system {event.system}"

    # --- settling -------------------------------------------------------------------

    async def _settle_all(
        self,
        touched: dict[Side, dict[str, None]],
        checkpoint: Checkpoint | None,
        events: list[tuple[int, str | None]] | None = None,
    ) -> None:
        """Settle every touched pair once, batch by batch; then store the checkpoint (and the events' progress).

        Records new on either side are first looked for on the other side (``match``), and linked where
        found, before anything is created: a create cut off by a crash comes back as a record new on the
        side it was made in, and is linked to the record it was made from rather than copied back; so is
        the same customer entered in both systems. Each side's new records are then looked up again:
        those just linked are no new records any more.
        """
        size = self.sides.batch_size()
        by_a = await self.store.pairs(self.sync.name, list(touched["a"]), side="a")
        by_b = await self.store.pairs(self.sync.name, list(touched["b"]), side="b")
        pairs: dict[str, Pair] = {}
        for pair in (*by_a.values(), *by_b.values()):
            if pair.b_key is not None:
                pairs[pair.a_key] = pair
        for chunk in _chunk(list(pairs.values()), size):
            batch = SettleBatch()
            await self._settle_pairs(chunk, batch)
            await self._commit(batch, None)
        unlinked: dict[Side, list[str]] = {
            "a": [key for key in touched["a"] if key not in pairs],
            "b": [key for key in touched["b"] if key not in by_b],
        }
        for side in ("b", "a"):  # before any create: each new record that the other side already holds
            for chunk in _chunk(unlinked[side], size):
                batch = SettleBatch()
                await self.new.match(side, chunk, batch)
                await self._commit(batch, None)
        for side in SIDES:
            keys = await self.new.still_unlinked(side, unlinked[side])
            for chunk in _chunk(keys, size):
                batch = SettleBatch()
                await self.new.create(side, chunk, by_a if side == "a" else {}, batch)
                await self._commit(batch, None)
        if checkpoint is not None or events:
            last = SettleBatch()
            last.changes.events = events or []
            await self._commit(last, checkpoint)

    async def _settle_pairs(self, pairs: list[Pair], batch: SettleBatch) -> None:
        a_records, a_refused = await self.sides.fetch("a", [pair.a_key for pair in pairs])
        b_records, b_refused = await self.sides.fetch("b", [pair.b_key for pair in pairs if pair.b_key is not None])
        lookups: dict[Direction, LookupResolver] = {
            "to_b": await find_lookups(self.store, self.parts["to_b"].mapping, list(a_records.values())),
            "to_a": await find_lookups(self.store, self.parts["to_a"].mapping, list(b_records.values())),
        }
        updates: dict[Direction, list[Planned]] = {"to_a": [], "to_b": []}
        settled: list[tuple[Pair, Record, Record, Settlement]] = []
        gone: list[GonePair] = []
        for listed in pairs:
            b_key = listed.b_key or ""
            if listed.a_key in a_refused or b_key in b_refused:
                batch.fail("to_b", listed.a_key, b_key, record={}, error=REFUSED, reason="write")
                continue
            a_record, b_record = a_records.get(listed.a_key), b_records.get(b_key)
            if a_record is None or b_record is None:
                gone.append((listed, a_record, b_record))
                continue
            # a pair remembered as gone from a side whose record is there again (made anew under the key it was
            # deleted with) is linked again, settled with no base as records found on both sides are
            pair = listed if listed.gone_from is None else listed._replace(base={})
            settlement = self._settle_one(pair, a_record, b_record, batch, lookups)
            if settlement is None:
                continue
            settled.append((pair, a_record, b_record, settlement))
            if settlement.into_b:
                updates["to_b"].append(
                    Planned(pair.a_key, a_record, Action.UPDATE, settlement.into_b, None, b_key, mapped_before=True)
                )
            if settlement.into_a:
                updates["to_a"].append(
                    Planned(b_key, b_record, Action.UPDATE, settlement.into_a, None, pair.a_key, mapped_before=True)
                )
        for direction in DIRECTIONS:
            if updates[direction]:
                await write_plan(self.parts[direction], updates[direction], self.engine.sleep, self.run_id)
        failed = {
            (direction, item.source_key): item
            for direction in DIRECTIONS
            for item in updates[direction]
            if item.action is Action.FAIL
        }
        for pair, a_record, b_record, settlement in settled:
            self._record_settled(
                pair=pair, a_record=a_record, b_record=b_record, settlement=settlement, failed=failed, batch=batch
            )
        if gone:
            await self.gone.settle(gone, batch)

    def _settle_one(
        self,
        pair: Pair,
        a_record: Record,
        b_record: Record,
        batch: SettleBatch,
        lookups: dict[Direction, LookupResolver],
    ) -> Settlement | None:
        """Map each side for the other and settle the pair; ``None`` (logged) where a mapping failed (a lookup
        whose parent is not linked yet included: the pair waits, as a dead letter of that direction)."""
        proposed: dict[Direction, dict[str, Any] | None] = {}
        for direction in DIRECTIONS:
            record, key = (a_record, pair.a_key) if direction == "to_b" else (b_record, pair.b_key or "")
            try:
                proposed[direction] = self.parts[direction].mapping.apply(record, lookups[direction])
            except MappingError as exc:
                target = pair.b_key if direction == "to_b" else pair.a_key
                batch.fail(direction, key, target, record=record, error=str(exc), reason=exc.reason)
                return None
        if not self._keeps_keys(pair, a_record, b_record, proposed, batch):
            return None
        settlement = self.settler.settle(a_record, b_record, proposed["to_b"], proposed["to_a"], pair.base)
        for conflict in settlement.conflicts:
            batch.changes.conflicts += 1
            source_key = pair.a_key if conflict.direction == "to_b" else pair.b_key or ""
            target_key = pair.b_key if conflict.direction == "to_b" else pair.a_key
            batch.changes.directed.append(
                DirectedEntry(source_key, target_key, "conflict", None, conflict.direction, conflict.detail())
            )
        return settlement

    def _keeps_keys(
        self,
        pair: Pair,
        a_record: Record,
        b_record: Record,
        proposed: dict[Direction, dict[str, Any] | None],
        batch: SettleBatch,
    ) -> bool:
        """Whether each side's record, mapped, gives the other side's key the value it gave when the pair was
        last settled; where not, the record fails alone (logged): a linked record's key never changes through
        the sync, and an edit that would change it is not dropped without a word."""
        b_key = pair.b_key or ""
        for direction in DIRECTIONS:
            source_key, linked_key = (pair.a_key, b_key) if direction == "to_b" else (b_key, pair.a_key)
            record = a_record if direction == "to_b" else b_record
            base = pair.base.get("b" if direction == "to_b" else "a", {})
            why = self.linked_keys[direction].refusal(source_key, linked_key, proposed[direction], base)
            if why is not None:
                batch.fail(direction, source_key, linked_key, record=record, error=why, reason="mapping")
                return False
        return True

    def _record_settled(
        self,
        *,
        pair: Pair,
        a_record: Record,
        b_record: Record,
        settlement: Settlement,
        failed: dict[tuple[Direction, str], Planned],
        batch: SettleBatch,
    ) -> None:
        """Count and log a settled pair, and keep its new base; where a write failed, the old one whole (a
        side's new base alone would make the other side's value, not yet overwritten, look like its change)."""
        b_key = pair.b_key or ""
        base: dict[str, Any] = {"a": settlement.base_a, "b": settlement.base_b}
        if any((direction, key) in failed for direction, key in (("to_b", pair.a_key), ("to_a", b_key))):
            base = dict(pair.base)
        for direction in DIRECTIONS:
            written = settlement.into_b if direction == "to_b" else settlement.into_a
            source_key, target_key = (pair.a_key, b_key) if direction == "to_b" else (b_key, pair.a_key)
            record = a_record if direction == "to_b" else b_record
            item = failed.get((direction, source_key))
            if item is not None:
                error, reason = item.error or "failed", item.reason or "write"
                batch.fail(direction, source_key, target_key, record=record, error=error, reason=reason)
            elif written:
                batch.note(direction, "updated", source_key, target_key, values=written)
                batch.changes.resolved_directed.append((direction, source_key))
            else:
                batch.note(direction, "unchanged", source_key, target_key)
                batch.changes.resolved_directed.append((direction, source_key))
        # a pair read again unchanged (an echo, a cursor's look-back) costs no write; one linked again does
        if base != pair.base or pair.gone_from is not None:
            batch.changes.pairs.append(Pair(pair.a_key, pair.b_key, base))

    # --- committing ----------------------------------------------------------------------

    async def _commit(self, batch: SettleBatch, checkpoint: Checkpoint | None) -> None:
        changes = batch.changes
        for direction in DIRECTIONS:
            changes.counts.add(batch.counts[direction])
            self.by_direction[direction].add(batch.counts[direction])
        changes.by_direction = {name: Counts(**counts.as_dict()) for name, counts in self.by_direction.items()}
        changes.checkpoint = checkpoint
        failed = {(failure.direction or "", failure.source_key) for failure in changes.failures}
        changes.resolved_directed = [item for item in dict.fromkeys(changes.resolved_directed) if item not in failed]
        await self.store.commit_batch(self.sync.name, self.run_id, changes)
        self.counts.add(changes.counts)
        self.conflicts += changes.conflicts
        if self.options.progress is not None:
            self.options.progress(self.counts)
        if self.options.stop is not None and self.options.stop.is_set():  # between batches, all committed
            raise RunStopped("stopped before it ended (the service is shutting down); the next run carries on")


def _preparing(parts: SyncParts, stream: str, fields: list[str]) -> Callable[[], Awaitable[StreamInfo]]:
    async def prepare() -> StreamInfo:
        return await prepare_stream(parts.target, stream, fields)

    return prepare


def _chunk(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
