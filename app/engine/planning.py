"""Decide what each record of a batch needs: create, update, nothing, skip, or fail.

Planning reads (the ID map, lookups, which target keys exist) but writes
nothing, so ``brygga preview`` shows exactly what a run would do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Final

from app.config import SyncConfig
from app.engine.connector_calls import guarded
from app.engine.key_look_ups import one_way_message
from app.engine.lookups import find_lookups
from app.errors import MappingError, PermanentError
from app.mapping import CompiledMapping, KeyReader, LookupResolver, mapped_hash, record_hash
from app.record_checks import NotARecord, UnfitKey
from app.records import Record
from app.store import IdMapping, Store
from connectors.base import Connector

log = logging.getLogger("brygga.engine")

PLAN_SLICE = 1000
"""Records mapped between two turns of the event loop: the batch being written meanwhile gets its
round trips answered while a large batch is planned, not after."""


_LOOKING_UP = "looking records of stream '{}' up"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"
    FAIL = "fail"


LET_GO: Final[Record] = {}
"""A planned record's source record once the engine has let go of it (see ``Batch.originals``): read anew
from the batch's originals should the record fail. Told by identity (``is``); never filled."""


@dataclass(slots=True)
class Planned:
    """One record and what it needs."""

    source_key: str
    record: Record
    action: Action
    mapped: dict[str, Any] | None = None
    hash: str | None = None
    target_key: str | None = None
    error: str | None = None
    reason: str | None = None
    """Why it failed: ``mapping``, ``lookup`` or ``write``."""
    note: str | None = None
    """Why it was skipped, when not by ``where``."""
    settled: bool = False
    """Read again unchanged after its fate was settled (a dead letter), or skipped as the very same record as
    a later one of its batch (which settles it): counted, not touched, its dead letter kept."""
    repeated: bool = False
    """Read again unchanged after this same run dealt with it (its dead letter was retried, then the cursor
    re-read its last value): one record, so counted once, where it was dealt with."""
    mapped_before: bool = False
    """The ID map already has this record (so writing it updates that entry, rather than adding one)."""
    target_before: str | None = None
    """The target key the ID map has for this record, where it has one."""
    repeat_hashes: str | None = None
    """Written as the later record of a key read twice in the run: its entry's repeat hashes from now on."""
    touch: bool = False
    """Unchanged, its key read twice at an earlier run: its entry is marked seen at this run all the same."""


JudgeRepeats = Callable[[Sequence[Planned], Mapping[str, IdMapping], Mapping[str, str] | None], None]
"""What :func:`plan_batch` calls last on a batch read from the source: its records, the ID map's entries of
them, and the keys left to the dead-letter rules."""


@dataclass
class SyncParts:
    """What planning and writing one sync need."""

    sync: SyncConfig
    mapping: CompiledMapping
    store: Store
    source: Connector
    target: Connector

    @cached_property
    def target_key(self) -> KeyReader | None:
        """Reads the target key from a mapped record, for targets keyed by the record's own fields."""
        if self.target.assigns_keys:
            return None
        return KeyReader(self.target.system.stream(self.sync.target_stream).key)

    @cached_property
    def target_key_is_source_key(self) -> bool:
        """Whether the target key is a plain copy of the (one-field) source key: its text is the same."""
        reader, source = self.target_key, self.mapping.key.fields
        if reader is None or len(reader.fields) != 1 or len(source) != 1:
            return False
        return self.mapping.copies.get(reader.fields[0]) == source[0]

    @property
    def target_key_fold(self) -> Callable[[str], str] | None:
        """How the target tells keys apart where not by their exact text (:meth:`Connector.key_fold`)."""
        return self.target.key_fold(self.sync.target_stream) if self.target_key is not None else None

    @property
    def claim_key(self) -> Callable[[str], str]:
        """A target key as claims of target records are compared (:func:`_refuse_shared_targets`): folded
        where the target folds keys, else as it is."""
        return self.target_key_fold or str  # str() of a str is that str

    @property
    def targets_may_be_shared(self) -> bool:
        """Whether two source records may name one target record: their keys are converted (``01`` and
        ``1`` as integers), or the target takes different key texts for one (a key ignoring case)."""
        return not self.target_key_is_source_key or self.target_key_fold is not None


async def plan_batch(
    parts: SyncParts,
    records: Sequence[Record],
    settled: Mapping[str, str] | None = None,
    source_keys: Sequence[str | None] | None = None,
    known: Mapping[str, IdMapping] | None = None,
    *,
    claimed: Mapping[str, str] | None = None,
    events: bool = False,
    judge_repeats: JudgeRepeats | None = None,
) -> list[Planned]:
    """What each record of ``records`` needs; one entry per record, in order.

    :param settled: source key → hash of a source record already dealt with (a dead
        letter, or one retried in this run): the very same record read again is left alone
    :param source_keys: the records' keys, where the caller has read them already
    :param known: the records' ID-map rows, where the caller has looked them up already
    :param claimed: target key → source key of records new to the ID map in batches of this run planned
        before and not yet committed (see :func:`_refuse_shared_targets`)
    :param events: the records are webhook events, where one record's key twice in a batch is its changes in
        turn, not a source repeating a row (see :func:`_supersede_duplicates`)
    :param judge_repeats: settles the records whose key an earlier batch of the run read
        (:meth:`app.engine.read_twice.ReadTwice.judge`), where the batch is read from the source
    """
    if source_keys is None:
        source_keys = parts.mapping.source_keys(records)
    create = Action.CREATE
    plan = [
        Planned(key, record, create) if key is not None else _keyless(parts.mapping, record)
        for record, key in zip(records, source_keys, strict=True)
    ]
    if UnfitKey in set(map(type, source_keys)):
        _fail_unfit_keys(parts.mapping, plan)
    if len(set(source_keys)) < len(source_keys):  # a key read twice (or two records without one)
        _supersede_duplicates(plan, events, parts.sync.name)
    if settled:
        _leave_settled(plan, settled)
    if known is None:
        keys = [item.source_key for item in plan if item.action is not Action.FAIL]
        known = await parts.store.id_map(parts.sync.name, keys)
    lookups = await find_lookups(parts.store, parts.mapping, records)
    new: list[Planned] = []
    for start in range(0, len(plan), PLAN_SLICE):
        if start:
            await asyncio.sleep(0)
        new += _map_all(parts, plan[start : start + PLAN_SLICE], known, lookups)
    if parts.targets_may_be_shared:
        new = await _refuse_shared_targets(parts, new, claimed or {})
    await _sort_new(parts, new)
    if judge_repeats is not None:
        judge_repeats(plan, known, settled)
    return plan


def keyless_key(record: Record) -> str:
    """The stand-in key of a record that has none, for its dead letter and log entries: made from the record,
    so the very same record read again gets the same one (and its dead letter is not made twice)."""
    return f"(no key) {record_hash(record)[:16]}"


def _keyless(mapping: CompiledMapping, record: Record) -> Planned:
    fields = ", ".join(mapping.key.fields)
    placeholder = keyless_key(record)
    error = f"sync {mapping.sync}: the record has no value for its key field {fields}"
    if isinstance(record, NotARecord):
        error = f"sync {mapping.sync}: {record.why}"
    return Planned(placeholder, record, Action.FAIL, error=error, reason="mapping")


def _fail_unfit_keys(mapping: CompiledMapping, plan: list[Planned]) -> None:
    """Records whose key holds a NUL byte or a lone surrogate, or is longer than any identifier, fail alone: no
    ID map or target can keep it."""
    for item in plan:
        if isinstance(item.source_key, UnfitKey):
            item.action, item.reason = Action.FAIL, "mapping"
            item.error = (
                f"sync {mapping.sync}, record {item.source_key}: its key {item.source_key.why}, which no ID map or "
                "target can keep: correct the key in the source system"
            )


SUPERSEDED = "its key is read again later in the same batch: the later record is the one written"
REPEATED = "the very same record is read again later in the same batch: it fails once, as the later one"


def _supersede_duplicates(plan: list[Planned], events: bool, sync: str) -> None:
    """A key twice in one batch: only its last version is written (or fails).

    Read from a source, the key is repeated (two rows of one id in a file): each earlier version is
    skipped, saying why, so the repeat shows in the record log. A record failed for its key (none: its
    stand-in key is its hash, so two such are the very same record) is skipped the same way, so it fails,
    and counts, once: as many failures as dead letters. Webhook events of one record are its changes in
    turn (edited twice in a moment): an earlier one is unchanged, as if written and at once written over.
    """
    last = {item.source_key: index for index, item in enumerate(plan)}
    repeated = 0
    for index, item in enumerate(plan):
        if last[item.source_key] == index or item.action not in _SETTLING:
            continue
        repeated += 1
        if item.action is Action.FAIL:
            item.action, item.note, item.error, item.settled = Action.SKIP, REPEATED, None, True
        elif events:
            item.action = Action.UNCHANGED
        else:
            item.action, item.note = Action.SKIP, SUPERSEDED
    if repeated and not events:
        log.warning(
            "sync %s: %d record(s) of a batch had their key read again later in the same batch; the later of each "
            "is the one written, the earlier skipped (see the run's record log)",
            sync,
            repeated,
        )


def _leave_settled(plan: list[Planned], settled: Mapping[str, str]) -> None:
    """A re-read of a record whose fate is settled (the cursor re-reads its last value) changes nothing.

    That of a record failed already for its key (none, or one no ID map can keep) too: its dead letter,
    retried in this run, holds the very same record (its stand-in key is the record's hash), and failing
    the re-read again counted it twice."""
    for item in plan:
        known = settled.get(item.source_key)
        if known is not None and item.action in _SETTLING and record_hash(item.record) == known:
            item.action, item.settled = Action.UNCHANGED, True


_SETTLING = (Action.CREATE, Action.FAIL)
"""What a record may be planned for before :func:`_leave_settled`: a create, or a failure for its key."""


def _map_all(
    parts: SyncParts, plan: list[Planned], known: Mapping[str, IdMapping], lookups: LookupResolver
) -> list[Planned]:
    """Map and hash every record still to create, and compare it with the ID map.

    :returns: the records the ID map does not hold, whose target key is known: whether the target has
        them is for :func:`_sort_new`
    """
    apply, create, insert = parts.mapping.apply, Action.CREATE, parts.sync.mode == "insert"
    reader = parts.target_key
    same_key = parts.target_key_is_source_key
    new: list[Planned] = []
    sync = parts.sync.name
    for item in plan:
        if item.action is not create:
            continue
        try:
            mapped = apply(item.record, lookups)
            digest = mapped_hash(mapped, sync, item.source_key) if mapped is not None else None
        except MappingError as exc:
            item.action, item.error, item.reason = Action.FAIL, str(exc), exc.reason
            continue
        except Exception as exc:  # a record no check foresaw: it fails alone, the batch goes on
            log.warning("sync %s, record %s: mapping failed unexpectedly", sync, item.source_key, exc_info=True)
            item.action, item.reason = Action.FAIL, "mapping"
            item.error = f"sync {sync}, record {item.source_key}: the mapping failed: {type(exc).__name__}: {exc}"
            continue
        entry = known.get(item.source_key)
        if mapped is None:
            item.action = Action.SKIP
            item.target_key = entry.target_key if entry is not None else None
            continue
        item.mapped, item.hash = mapped, digest
        if entry is not None:
            item.mapped_before = True
            if entry.target_key is not None:
                item.target_key = item.target_before = entry.target_key
                if entry.hash == item.hash:
                    item.action = Action.UNCHANGED
                elif insert:
                    item.action, item.note = Action.SKIP, "already in the target: insert mode never updates"
                else:
                    item.action = Action.UPDATE
                continue
        if reader is None:  # the target assigns keys: a create for now, settled against the target before writing
            continue
        target_key = item.source_key if same_key else reader.text(mapped)
        if target_key is None or isinstance(target_key, UnfitKey):
            _fail_target_key(parts.sync.name, item, reader.fields, target_key)
            continue
        item.target_key = target_key
        new.append(item)
    return new


def _fail_target_key(sync: str, item: Planned, fields: Sequence[str], key: UnfitKey | None) -> None:
    """``item`` fails alone: its mapped record has no target key, or one no target record is keyed by (a
    boolean, a list)."""
    item.action, item.reason = Action.FAIL, "mapping"
    where, named = f"sync {sync}, record {item.source_key}", ", ".join(fields)
    item.error = f"{where}: the mapped record has no value for the target key {named}"
    if key is not None:
        item.error = f"{where}: the mapped record's target key {key.why}: correct the mapping of {named}"


async def _refuse_shared_targets(parts: SyncParts, new: list[Planned], claimed: Mapping[str, str]) -> list[Planned]:
    """Records new to the ID map whose target record is already another source record's fail alone.

    Two source keys can map to one target key where the key is converted (``01`` and ``1`` as
    integers, ``ABC`` and ``abc`` lower-cased), or name one target record where the target's key
    ignores case, accents or trailing spaces (``Anna`` and ``anna``): writing both would overwrite one
    record with the other and count two creates, one of them lost. The first to claim the target record
    keeps it (in the ID map, in a batch of this run not yet committed, or earlier in this batch).

    :param claimed: as :func:`plan_batch` takes it, by :attr:`SyncParts.claim_key`
    :returns: the records still new
    """
    if not new:
        return new
    fold = parts.target_key_fold
    claim = parts.claim_key
    first: dict[str, str] = {}
    for item in new:
        assert item.target_key is not None
        first.setdefault(claim(item.target_key), item.source_key)
    sync = parts.sync.name
    asked = [item.target_key for item in new if item.target_key is not None]
    # the target's own record for a key it takes as another's (asked "Anna", held "anna"): whose it is
    held_as = await _held_keys(parts, asked) if fold is not None else {}
    written = {written for held in held_as.values() for written in key_as_written(held)}
    owners = await parts.store.source_keys((sync, key) for key in {*asked, *written})
    kept: list[Planned] = []
    for item in new:
        target_key = item.target_key
        assert target_key is not None
        held = key_as_written(held_as.get(target_key, target_key))
        owner = (
            owners.get((sync, target_key))
            or next((owners[sync, key] for key in held if (sync, key) in owners), None)
            or claimed.get(claim(target_key))
            or first[claim(target_key)]
        )
        if owner == item.source_key:
            kept.append(item)
            continue
        item.action, item.reason = Action.FAIL, "mapping"
        item.error = shared_target_error(parts, item.source_key, target_key, owner)
    return kept


def shared_target_error(parts: SyncParts, source_key: str, target_key: str, owner: str) -> str:
    """Why a record whose target record is already source record ``owner``'s fails."""
    same = f"is already that of source record {owner}"
    if parts.target_key_fold is not None:
        target = f"{parts.target.system.name}.{parts.sync.target_stream}"
        same = f"names the same record in {target} as that of source record {owner} ({target} {_FOLDS})"
    return (
        f"sync {parts.sync.name}, record {source_key}: its target key {target_key} {same}: writing both would "
        "overwrite one with the other; correct the key in the source system, or map the key so that "
        "different records keep different keys"
    )


_FOLDS = "takes keys that differ only in case, accents or trailing spaces for one"


def key_as_written(held: str) -> tuple[str, ...]:
    """The texts Brygga may have written a key the target holds as, to find its source record in the ID
    map: as held, or without trailing spaces (a ``char(n)`` column reads back padded: PostgreSQL). A key
    written with trailing spaces into a column that cuts them (MariaDB's ``char(n)``) is not found."""
    bare = held.rstrip(" ")
    return (held,) if bare == held else (held, bare)


async def _sort_new(parts: SyncParts, new: list[Planned]) -> None:
    """Records not in the ID map: create them, or update what the target already holds."""
    if not new:
        return
    stream = parts.sync.target_stream
    mode = parts.sync.mode
    if mode in ("upsert", "mirror") and parts.target.reports_created(stream):
        return  # the write says which were new: CREATE stands for "upsert, new as far as we know"
    asked = [item.target_key for item in new if item.target_key]
    if not asked:
        existing: set[str] = set()
    else:
        try:
            existing = await guarded(
                parts.target, _LOOKING_UP.format(stream), parts.target.existing_keys(stream, asked)
            )
        except NotImplementedError:
            if mode in ("upsert", "mirror"):
                return  # a write is an upsert by key: each new record is written, counted as created
            raise _cannot_tell(parts) from None
    for item in new:
        exists = item.target_key in existing
        if exists and mode == "insert":
            item.action, item.note = Action.SKIP, "already in the target: insert mode never updates"
        elif not exists and mode == "update":
            item.action, item.note = Action.SKIP, "not in the target: update mode never creates"
        else:
            item.action = Action.UPDATE if exists else Action.CREATE


def _cannot_tell(parts: SyncParts) -> PermanentError:
    """Why a sync in ``insert`` or ``update`` mode cannot run into a target that cannot look records up."""
    sync, system = parts.sync, parts.target.system
    return PermanentError(one_way_message(sync.name, sync.mode, system.connector, system.name, sync.target))


async def _held_keys(parts: SyncParts, asked: list[str]) -> dict[str, str]:
    stream = parts.sync.target_stream
    return await guarded(parts.target, _LOOKING_UP.format(stream), parts.target.held_keys(stream, asked))
