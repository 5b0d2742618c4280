"""One run of a two-way sync (SPEC 3.1): read both sides, then settle each touched pair once.

1. Dead letters of earlier runs, and both sides from their own cursors (one
   stored checkpoint ``{"a": …, "b": …}``), are read for the keys they touch;
2. the touched pairs are settled in batches: both records fetched by key, each
   field compared three ways (:mod:`app.engine.settling`), only the fields that
   change written into each side; records new on one side are created on the
   other where ``create_in`` allows and linked; a side's record that is gone is
   deleted on the other where ``delete_in`` allows, else the pair is unlinked;
3. each batch's pairs (their links and bases), log entries and dead letters are
   committed together; the checkpoint moves with the last batch only, so a crash
   re-reads what it had not settled, and settling it again writes only what is
   still missing (a value already written is "changed on both to the same value").

Writing goes through :func:`app.engine.writing.write_plan`, as one-way syncs
write: retries, ``match`` and the intents of creates into systems that assign keys.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.config import DIRECTIONS, SIDES, Direction, Side, TwoWaySyncConfig
from app.engine.by_key import records_by_key
from app.engine.lookups import find_lookups
from app.engine.pipeline import all_of
from app.engine.planning import Action, Planned, SyncParts
from app.engine.retry import with_retries
from app.engine.settling import Settlement, Settler
from app.engine.webhook_checks import WebhookRejected, parse_json, records_of
from app.engine.webhook_run import EVENTS_PER_ROUND
from app.engine.writing import write_plan
from app.errors import MappingError, RunStopped
from app.mapping import KeyReader, LookupResolver
from app.records import Record
from app.store import BatchChanges, Checkpoint, Counts, DirectedEntry, EventInfo, Failure, Pair
from connectors.base import Connector, StreamInfo, Write, WriteAction, retrying_as

if TYPE_CHECKING:
    from app.engine.hosts import RunHost
    from app.engine.one_way_run import RunOptions

log = logging.getLogger("brygga.engine")

KEPT_RECORDS = 50_000
"""Records a run keeps of each side's read, for settling without asking the side again."""


@dataclass
class _Batch:
    """What one batch of settling changes, built up as its pairs are settled."""

    changes: BatchChanges = field(default_factory=BatchChanges)
    counts: dict[Direction, Counts] = field(default_factory=lambda: {"to_a": Counts(), "to_b": Counts()})

    def note(
        self,
        direction: Direction,
        action: str,
        source_key: str,
        target_key: str | None,
        error: str | None = None,
        *,
        values: dict[str, Any] | None = None,
    ) -> None:
        """Count one record of ``direction`` as ``action``, and log it unless it is unchanged (with the
        ``values`` written, for a created or updated one)."""
        counts = self.counts[direction]
        counts.read += 1
        setattr(counts, action, getattr(counts, action) + 1)
        if action != "unchanged":
            self.changes.directed.append(DirectedEntry(source_key, target_key, action, error, direction, values))


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
        self.kept: dict[Side, dict[str, Record]] = {"a": {}, "b": {}}
        """Records read from each side's cursor in this run, by key."""
        self.read_whole: dict[Side, set[str]] = {}
        """The keys of each side this run read from the start (every record it held then): records known to
        exist when gone records are looked for, without asking the side for each again."""

    async def execute(self) -> Counts:
        with retrying_as(self.sync.retry):
            return await self._execute()

    async def _execute(self) -> Counts:
        mappings = self.engine.workspace.directions[self.sync.name]
        a = await self.engine.connections.get(self.sync.source_system)
        b = await self.engine.connections.get(self.sync.target_system)
        self.parts: dict[Direction, SyncParts] = {
            "to_b": SyncParts(self.sync.direction("to_b"), mappings["to_b"], self.store, a, b),
            "to_a": SyncParts(self.sync.direction("to_a"), mappings["to_a"], self.store, b, a),
        }
        retry, sleep = self.sync.retry, self.engine.sleep
        await all_of(  # each side looks at its system (a table's columns) at the same time
            *(
                with_retries(retry, _preparing(parts, parts.sync.target_stream, list(parts.mapping.field_names)), sleep)
                for parts in self.parts.values()
            )
        )
        key_a = a.system.stream(self.sync.source_stream).key
        key_b = b.system.stream(self.sync.target_stream).key
        self.keys: dict[Side, KeyReader] = {"a": KeyReader(key_a), "b": KeyReader(key_b)}
        self.settler = Settler(self.sync, key_a, key_b)
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
                reached[side] = await self._read(side, checkpoint.get(side), touched[side])

            await all_of(read("a"), read("b"))  # each side's read waits on its own system
            checkpoint.update(reached)
        await self._settle_all(touched, checkpoint if self.options.read_source else None)
        # looking for gone records reads every key of both sides, as a mirror sync does: for sides where deletes
        # are carried out, and on --full; otherwise a gone record is noticed when its pair is next touched
        if self.options.read_source and (self.sync.two_way.delete_in or self.options.full):
            await self._find_gone()
        return self.counts

    # --- reading ------------------------------------------------------------------

    def _stream(self, side: Side) -> str:
        return self.sync.source_stream if side == "a" else self.sync.target_stream

    def _connector(self, side: Side) -> Connector:
        return self.parts["to_b"].source if side == "a" else self.parts["to_b"].target

    async def _read(self, side: Side, checkpoint: Checkpoint | None, keys: dict[str, None]) -> Checkpoint | None:
        """Read one side from its cursor, noting the keys of the records read; where the read got to.

        The records themselves are kept too, up to :data:`KEPT_RECORDS` a side, so settling asks the
        side for them again only beyond that (memory stays bounded on a first run of a large stream).
        """
        connector = self._connector(side)
        size = connector.system.options.batch_size
        reached = checkpoint
        kept = self.kept[side]
        whole: set[str] = set()
        async for batch in connector.read(self._stream(side), checkpoint, size):
            for key, record in zip(self.keys[side].texts(batch.records), batch.records, strict=True):
                if key is not None:
                    keys[key] = None
                    whole.add(key)
                    if len(kept) < KEPT_RECORDS:
                        kept[key] = record
            reached = batch.checkpoint
        if not checkpoint:  # read from the start (a stream without a cursor is read so at every run)
            self.read_whole[side] = whole
        return reached

    async def _dead_letters(self, touched: dict[Side, dict[str, None]]) -> None:
        """Dead letters due again: their pairs are settled again (``to_b``: a's key, ``to_a``: b's key)."""
        later_runs = self.sync.retry.later_runs if self.options.dead_letters == "due" else 1_000_000
        letters = await self.store.due_dead_letters(self.sync.name, self.run_id, later_runs, 0, 1_000_000)
        chosen = self.options.dead_letters
        for letter in letters:
            if isinstance(chosen, tuple) and letter.id not in chosen:
                continue
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
                outcomes.append((event.id, self._touch_from_event(event, touched)))
            await self._settle_all(touched, None, outcomes)
            self.events_done += len(outcomes)

    def _touch_from_event(self, event: EventInfo, touched: dict[Side, dict[str, None]]) -> str | None:
        """Note the keys of an event's records on their side; why the event fails, if it does."""
        for side in ("a", "b"):
            system, _, stream = self.sync.stream(side).partition(".")
            webhook = self._connector(side).system.webhook
            if event.system != system or webhook is None or webhook.stream != stream:
                continue
            try:
                records = records_of(webhook, parse_json(event.body))
            except WebhookRejected as exc:
                return str(exc)
            for key in self.keys[side].texts(records):
                if key is not None:
                    touched[side][key] = None
            return None
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
        size = max(1, min(self._connector(side).system.options.batch_size for side in SIDES))
        by_a = await self.store.pairs(self.sync.name, list(touched["a"]), side="a")
        by_b = await self.store.pairs(self.sync.name, list(touched["b"]), side="b")
        pairs: dict[str, Pair] = {}
        for pair in (*by_a.values(), *by_b.values()):
            if pair.b_key is not None:
                pairs[pair.a_key] = pair
        for chunk in _chunk(list(pairs.values()), size):
            batch = _Batch()
            await self._settle_pairs(chunk, batch)
            await self._commit(batch, None)
        unlinked: dict[Side, list[str]] = {
            "a": [key for key in touched["a"] if key not in pairs],
            "b": [key for key in touched["b"] if key not in by_b],
        }
        for side in ("b", "a"):  # before any create: each new record that the other side already holds
            for chunk in _chunk(unlinked[side], size):
                batch = _Batch()
                await self._match_new(side, chunk, batch)
                await self._commit(batch, None)
        for side in SIDES:
            keys = await self._still_unlinked(side, unlinked[side])
            for chunk in _chunk(keys, size):
                batch = _Batch()
                await self._new_records(side, chunk, by_a if side == "a" else {}, batch)
                await self._commit(batch, None)
        if checkpoint is not None or events:
            last = _Batch()
            last.changes.events = events or []
            await self._commit(last, checkpoint)

    async def _fetch(self, side: Side, keys: Sequence[str]) -> tuple[dict[str, Record], set[str]]:
        """The records of ``side`` with these keys that exist (those read in this run as they were read), and
        the keys it refused to look up."""
        kept = self.kept[side]
        have = {key: kept[key] for key in keys if key in kept}
        wanted = [key for key in keys if key not in have]
        if not wanted:
            return have, set()
        found = await records_by_key(
            self._connector(side), self._stream(side), wanted, self.sync.retry, self.engine.sleep
        )
        return have | found.found, set(found.refused)

    async def _settle_pairs(self, pairs: list[Pair], batch: _Batch) -> None:
        a_records, a_refused = await self._fetch("a", [pair.a_key for pair in pairs])
        b_records, b_refused = await self._fetch("b", [pair.b_key for pair in pairs if pair.b_key is not None])
        lookups: dict[Direction, LookupResolver] = {
            "to_b": await find_lookups(self.store, self.parts["to_b"].mapping, list(a_records.values())),
            "to_a": await find_lookups(self.store, self.parts["to_a"].mapping, list(b_records.values())),
        }
        updates: dict[Direction, list[Planned]] = {"to_a": [], "to_b": []}
        settled: list[tuple[Pair, Record, Record, Settlement]] = []
        gone: list[tuple[Pair, Record | None, Record | None]] = []
        for pair in pairs:
            b_key = pair.b_key or ""
            if pair.a_key in a_refused or b_key in b_refused:
                error = "the system refused to look the record up by its key"
                self._fail(batch, pair, {"a": pair.a_key, "b": b_key}, error)
                continue
            a_record, b_record = a_records.get(pair.a_key), b_records.get(b_key)
            if a_record is None or b_record is None:
                gone.append((pair, a_record, b_record))
                continue
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
            await self._gone(gone, batch)

    def _settle_one(
        self, pair: Pair, a_record: Record, b_record: Record, batch: _Batch, lookups: dict[Direction, LookupResolver]
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
                batch.note(direction, "failed", key, target, str(exc))
                batch.changes.failures.append(Failure(key, record, str(exc), exc.reason, direction))
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

    def _record_settled(
        self,
        *,
        pair: Pair,
        a_record: Record,
        b_record: Record,
        settlement: Settlement,
        failed: dict[tuple[Direction, str], Planned],
        batch: _Batch,
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
                batch.note(direction, "failed", source_key, target_key, item.error)
                batch.changes.failures.append(
                    Failure(source_key, record, item.error or "failed", item.reason or "write", direction)
                )
            elif written:
                batch.note(direction, "updated", source_key, target_key, values=written)
                batch.changes.resolved_directed.append((direction, source_key))
            else:
                batch.note(direction, "unchanged", source_key, target_key)
                batch.changes.resolved_directed.append((direction, source_key))
        if base != pair.base:  # a pair read again unchanged (an echo, a cursor's look-back) costs no write
            batch.changes.pairs.append(Pair(pair.a_key, pair.b_key, base))

    def _fail(self, batch: _Batch, pair: Pair, keys: dict[str, str], error: str) -> None:
        batch.note("to_b", "failed", keys["a"], keys["b"], error)
        batch.changes.failures.append(Failure(keys["a"], {}, error, "write", "to_b"))

    # --- new records -----------------------------------------------------------------

    async def _new_records(self, side: Side, keys: list[str], intents: dict[str, Pair], batch: _Batch) -> None:
        """Records new on ``side``: created on the other side where ``create_in`` allows, and linked."""
        direction: Direction = "to_b" if side == "a" else "to_a"
        other: Side = "b" if side == "a" else "a"
        parts = self.parts[direction]
        records, refused = await self._fetch(side, keys)
        lookups = await find_lookups(self.store, parts.mapping, list(records.values()))
        plan: list[Planned] = []
        for key in keys:
            record = records.get(key)
            if key in refused:
                batch.note(direction, "failed", key, None, "the system refused to look the record up by its key")
                continue
            if record is None:
                continue  # read, then deleted before it was settled: nothing to create
            try:
                mapped = parts.mapping.apply(record, lookups)
            except MappingError as exc:
                batch.note(direction, "failed", key, None, str(exc))
                batch.changes.failures.append(Failure(key, record, str(exc), exc.reason, direction))
                continue
            if mapped is None:
                batch.note(direction, "skipped", key, None, f"where.{side} leaves it out")
                continue
            if other not in self.sync.two_way.create_in:
                batch.note(direction, "skipped", key, None, f"new in {side}; create_in does not name {other}")
                continue
            target_key = None if parts.target.assigns_keys else self.keys[other].text(mapped)
            # a create into b with a key a's side once noted (cut off by a crash) is looked for before it is sent;
            # a create into a is never noted: the ID map holds a pair by a's key (see the report)
            noted = (side == "a" and key in intents) or side == "b"
            plan.append(Planned(key, record, Action.CREATE, mapped, None, target_key, mapped_before=noted))
        adopted = await self._adopt_existing(other, plan, batch)
        plan = [item for item in plan if item.source_key not in adopted]
        if plan:
            await write_plan(parts, plan, self.engine.sleep, self.run_id)
        for item in plan:
            self._record_created(side, direction, item, batch)

    async def _match_new(self, side: Side, keys: list[str], batch: _Batch) -> None:
        """Link records new on ``side`` to the records the other side already holds that its ``match``
        finds (each found record once, and only one not linked yet); the pairs are settled at once."""
        other: Side = "b" if side == "a" else "a"
        connector, stream = self._connector(other), self._stream(other)
        if not connector.can_match(stream):
            return
        parts = self.parts["to_b" if side == "a" else "to_a"]
        records, _ = await self._fetch(side, keys)
        lookups = await find_lookups(self.store, parts.mapping, list(records.values()))
        mapped: dict[str, Record] = {}
        for key in keys:
            record = records.get(key)
            try:
                result = parts.mapping.apply(record, lookups) if record is not None else None
            except MappingError:
                continue  # it fails where it is created, with its error
            if result is not None:
                mapped[key] = result
        if not mapped:
            return
        records_to_match = list(mapped.values())

        async def look() -> list[str | None]:
            return await connector.match(stream, records_to_match)

        found = dict(zip(mapped, await with_retries(self.sync.retry, look, self.engine.sleep), strict=True))
        candidates = {key: match for key, match in found.items() if match is not None}
        taken = await self.store.pairs(self.sync.name, list(candidates.values()), side=other)
        taken = {key: pair for key, pair in taken.items() if pair.b_key is not None}
        pairs: list[Pair] = []
        for key, match in candidates.items():
            if match in taken:
                continue
            taken[match] = Pair(key, match, {})
            pairs.append(Pair(key, match, {}) if side == "a" else Pair(match, key, {}))
        if pairs:
            await self._settle_pairs(pairs, batch)

    async def _still_unlinked(self, side: Side, keys: list[str]) -> list[str]:
        """Those of ``keys`` (records of ``side``) that no pair links yet."""
        if not keys:
            return []
        linked = await self.store.pairs(self.sync.name, keys, side=side)
        return [key for key in keys if key not in linked or linked[key].b_key is None]

    async def _adopt_existing(self, other: Side, plan: list[Planned], batch: _Batch) -> set[str]:
        """Creates whose key is there already on the other side (a create cut off before it was linked, or
        the same record in both systems): linked and settled as a pair with no base, not created twice."""
        keyed = {item.target_key: item for item in plan if item.target_key is not None}
        if not keyed:
            return set()
        existing, _ = await self._fetch(other, list(keyed))
        if not existing:
            return set()
        pairs = [
            Pair(item.source_key, target_key, {}) if other == "b" else Pair(target_key, item.source_key, {})
            for target_key, item in keyed.items()
            if target_key in existing
        ]
        await self._settle_pairs(pairs, batch)
        return {keyed[target].source_key for target in existing if target in keyed}

    def _record_created(self, side: Side, direction: Direction, item: Planned, batch: _Batch) -> None:
        if item.action is Action.FAIL:
            batch.note(direction, "failed", item.source_key, item.target_key, item.error)
            batch.changes.failures.append(
                Failure(item.source_key, item.record, item.error or "failed", item.reason or "write", direction)
            )
            return
        if item.action is Action.SKIP:
            batch.note(direction, "skipped", item.source_key, item.target_key, item.note)
            return
        written = dict(item.mapped or {})
        if side == "a":
            pair = Pair(item.source_key, item.target_key, self.settler.first_base(item.record, written))
        else:
            pair = Pair(item.target_key or "", item.source_key, self.settler.first_base(written, item.record))
        batch.changes.pairs.append(pair)
        batch.changes.resolved_directed.append((direction, item.source_key))
        action = "created" if item.action is Action.CREATE else "updated"
        batch.note(direction, action, item.source_key, item.target_key, values=written)

    # --- records gone ------------------------------------------------------------------

    async def _find_gone(self) -> None:
        """Pairs one of whose records no longer exists, found against every key each side holds.

        A side this run read whole gave its keys already; another is asked for all its keys (``scan_keys``:
        over SQL a query of keys only, by pages; over REST the stream's list, far fewer requests than a
        ``GET`` per linked key). A linked key missing there (created in this run, or gone) is asked for by
        key before its pair is taken for gone.
        """
        size = max(1, min(self._connector(side).system.options.batch_size for side in ("a", "b")))
        for side in SIDES:
            if side not in self.read_whole:
                scanned: set[str] = set()
                async for keys in self._connector(side).scan_keys(self._stream(side), size):
                    scanned.update(keys)
                self.read_whole[side] = scanned
        after: str | None = None
        while True:
            pairs = await self.store.pairs_after(self.sync.name, after, size, bases=False)
            if not pairs:
                return
            after = pairs[-1].a_key
            on_a = await self._existing("a", [pair.a_key for pair in pairs])
            on_b = await self._existing("b", [pair.b_key for pair in pairs if pair.b_key is not None])
            gone: list[tuple[Pair, Record | None, Record | None]] = [
                (pair, {} if pair.a_key in on_a else None, {} if pair.b_key in on_b else None)
                for pair in pairs
                if pair.a_key not in on_a or pair.b_key not in on_b
            ]
            if gone:
                batch = _Batch()
                await self._gone(gone, batch)
                await self._commit(batch, None)

    async def _existing(self, side: Side, keys: list[str]) -> set[str]:
        """Which of ``keys`` exist on ``side``: those this run read from the start of the side are known to,
        the side is asked for the others only (over REST, a ``GET`` each: a pair created in this run, or gone)."""
        known = self.read_whole.get(side)
        unknown = keys if known is None else [key for key in keys if key not in known]
        found = await self._connector(side).existing_keys(self._stream(side), unknown) if unknown else set()
        return found | ({key for key in keys if key in known} if known is not None else set())

    async def _gone(self, gone: Iterable[tuple[Pair, Record | None, Record | None]], batch: _Batch) -> None:
        """Pairs whose record on one side (or both) is gone: the other deleted where ``delete_in`` allows,
        else the pair unlinked; logged either way."""
        deletes: dict[Side, list[Pair]] = {"a": [], "b": []}
        for pair, a_record, b_record in gone:
            b_key = pair.b_key or ""
            if a_record is None and b_record is None:
                batch.changes.unmapped.append(pair.a_key)
                batch.note("to_b", "skipped", pair.a_key, b_key, "gone from both sides: the pair is unlinked")
                continue
            side: Side = "a" if a_record is None else "b"
            other: Side = "b" if side == "a" else "a"
            if other in self.sync.two_way.delete_in:
                deletes[other].append(pair)
                continue
            batch.changes.unmapped.append(pair.a_key)
            direction: Direction = "to_b" if side == "a" else "to_a"
            source_key, target_key = (pair.a_key, b_key) if side == "a" else (b_key, pair.a_key)
            note = f"gone from {side}; delete_in does not name {other}: the pair is unlinked"
            batch.note(direction, "skipped", source_key, target_key, note)
        for other, doomed in deletes.items():
            if doomed:
                await self._delete(other, doomed, batch)

    async def _delete(self, side: Side, pairs: list[Pair], batch: _Batch) -> None:
        """Delete these pairs' records on ``side`` (their other side is gone), and unlink them."""
        direction: Direction = "to_b" if side == "b" else "to_a"
        keys = [(pair.b_key or "") if side == "b" else pair.a_key for pair in pairs]
        writes = [Write(WriteAction.DELETE, None, key) for key in keys]
        connector, stream = self._connector(side), self._stream(side)
        results = await with_retries(self.sync.retry, lambda: connector.write(stream, writes), self.engine.sleep)
        for pair, key, result in zip(pairs, keys, results, strict=True):
            source_key = pair.a_key if side == "b" else pair.b_key or ""
            if result.ok:
                batch.changes.unmapped.append(pair.a_key)
                batch.note(direction, "deleted", source_key, key)
            else:
                batch.note(direction, "failed", source_key, key, f"delete: {result.error}")

    # --- committing ----------------------------------------------------------------------

    async def _commit(self, batch: _Batch, checkpoint: Checkpoint | None) -> None:
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
        return await parts.target.prepare(stream, write_fields=fields)

    return prepare


def _chunk(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
