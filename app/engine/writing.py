"""Carry out a batch's plan: write what changed, then record every outcome for the store.

This runs once per record of every batch, so it builds plain tuples in one
loop rather than an object per step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from app.engine.connector_calls import match_records, write_batch
from app.engine.planning import LET_GO, Action, Planned, SyncParts
from app.engine.retry import Sleep, pause, with_retries, worth_retrying
from app.errors import ConnectorError, TransientError
from app.mapping import record_hash
from app.store import BatchChanges, Failure
from connectors.base import Originals, Write, WriteAction, WriteResult

_WRITE_ACTIONS = {Action.CREATE: WriteAction.CREATE, Action.UPDATE: WriteAction.UPDATE}
log = logging.getLogger("brygga.engine")
_new_tuple = tuple.__new__  # a NamedTuple without its generated __new__: a third of the cost


async def write_plan(
    parts: SyncParts, plan: Sequence[Planned], sleep: Sleep, run_id: int, originals: Originals | None = None
) -> BatchChanges:
    """Write the creates and updates of ``plan`` and collect what to store.

    :param originals: the source records again, by their place in ``plan``, where some were let go of

    Passing failures are tried again as the sync's ``retry`` policy says, ``attempts`` tries in all: the
    whole batch where the write failed whole, else only the records whose write failed for a passing
    reason (a create into a system that assigns keys only where it certainly was not done, or after
    ``match`` found nothing). A target down for less than the policy's patience costs no dead letter.

    :raises TransientError: when the target keeps failing whole: the run stops and the batch is not committed
    """
    if parts.target.assigns_keys:
        await settle_creates(parts, plan, sleep, run_id)
    policy, stream = parts.sync.retry, parts.sync.target_stream
    pending = [item for item in plan if item.action in _WRITE_ACTIONS]
    tries = 0
    while pending:
        tries += 1
        writes = [_new_tuple(Write, (_WRITE_ACTIONS[item.action], item.mapped, item.target_key)) for item in pending]
        try:
            results = await write_batch(parts.target, stream, writes)
        except TransientError as exc:
            if tries >= policy.attempts or not worth_retrying(exc):
                raise
            await sleep(pause(policy, tries, exc))
            continue
        again = _outcomes_of_writes(parts, pending, results, last_try=tries >= policy.attempts)
        if again:
            await sleep(pause(policy, tries, again[0][1]))
            pending = await _again(parts, [item for item, _ in again], sleep, run_id)
        else:
            pending = []
    return outcomes(plan, parts.store.logged_values, originals)


def _outcomes_of_writes(
    parts: SyncParts, written: Sequence[Planned], results: Sequence[WriteResult], *, last_try: bool
) -> list[tuple[Planned, ConnectorError]]:
    """Settle each written item by its result; the items to write again, with their errors."""
    again: list[tuple[Planned, ConnectorError]] = []
    for item, result in zip(written, results, strict=True):
        error = result.error
        if error is None:
            if result.target_key is not None:
                item.target_key = result.target_key
            if result.created is not None:  # the target knows best whether it was new
                item.action = Action.CREATE if result.created else Action.UPDATE
        elif not last_try and _may_write_again(parts, item, error):
            again.append((item, error))
        else:
            item.action, item.reason, item.error = Action.FAIL, "write", str(error)
    return again


def _may_write_again(parts: SyncParts, item: Planned, error: ConnectorError) -> bool:
    """Whether a record whose write failed may be written again within the run."""
    if not worth_retrying(error):
        return False
    if item.action is not Action.CREATE or not parts.target.assigns_keys:
        return True  # an update, or an upsert by the record's own key: the same write again is harmless
    assert isinstance(error, TransientError)
    return not error.maybe_done or parts.target.can_match(parts.sync.target_stream)


async def _again(parts: SyncParts, items: list[Planned], sleep: Sleep, run_id: int) -> list[Planned]:
    """The items to write again: creates into a system that assigns keys are first looked up with ``match``
    (one cut off may have happened), and adopted where found."""
    if parts.target.assigns_keys and parts.target.can_match(parts.sync.target_stream):
        await settle_creates(parts, items, sleep, run_id)
    return [item for item in items if item.action in _WRITE_ACTIONS]


async def settle_creates(parts: SyncParts, plan: Sequence[Planned], sleep: Sleep, run_id: int) -> None:
    """Before creating records in a system that assigns keys: adopt those already there, and record
    the intent to create the rest.

    A record the target already holds (found by the stream's ``match``) is adopted: updated, not
    created again. The rest get an ID map entry without a target key, committed before anything is
    sent: after a crash, such an entry says "this create may have happened", and the next run looks
    before it creates again.
    """
    creates = [item for item in plan if item.action is Action.CREATE]
    if not creates:
        return
    stream, mode = parts.sync.target_stream, parts.sync.mode
    found: list[str | None] = [None] * len(creates)
    if parts.target.can_match(stream):
        records = [item.mapped or {} for item in creates]

        async def look() -> list[str | None]:
            return await match_records(parts.target, stream, records)

        found = await with_retries(parts.sync.retry, look, sleep)
    elif any(item.mapped_before for item in creates):
        log.warning(
            "sync %s: creates cut off earlier are sent again: without a `match` option on %s nothing can find "
            "whether they happened",
            parts.sync.name,
            parts.sync.target,
        )
    intents: list[str] = []
    for item, target_key in zip(creates, found, strict=True):
        if target_key is not None:
            item.target_key = target_key
            if mode == "insert":
                item.action, item.note = (
                    Action.SKIP,
                    "already in the target (found by match): insert mode never updates",
                )
            else:
                item.action = Action.UPDATE  # adopted: written over, not created twice
        elif mode == "update":
            item.action, item.note = Action.SKIP, "not in the target: update mode never creates"
        elif not item.mapped_before:
            intents.append(item.source_key)
            item.mapped_before = True  # its ID map entry exists from now on
    if intents:
        await parts.store.record_intents(parts.sync.name, run_id, intents)


def outcomes(
    plan: Sequence[Planned],
    logged: Callable[[dict[str, Any] | None], str | None],
    originals: Originals | None = None,
) -> BatchChanges:
    """Count every item of ``plan`` and collect its ID map, record-log and dead-letter changes.

    :param logged: a written record's values as the record log keeps them, made now: the batch then waits
        for its commit holding a short text per record, not the record
    :param originals: the source records again, by their place in ``plan``, for a failed record let go of
        (:data:`~app.engine.planning.LET_GO`): its dead letter keeps it
    """
    changes = BatchChanges()
    counts = changes.counts
    counts.read = len(plan)
    log, resolved = changes.log, changes.resolved
    created, updated = Action.CREATE, Action.UPDATE
    for index, item in enumerate(plan):
        action = item.action
        if action is created or action is updated:
            was_created = action is created
            if not item.mapped_before:
                rows = changes.new_mappings
            elif item.target_before is not None and item.target_key == item.target_before:
                rows = changes.rehashed
            else:
                rows = changes.mapped
            rows.append((item.source_key, item.target_key, item.hash or ""))
            if item.repeat_hashes is not None:
                changes.repeats.append((item.source_key, item.repeat_hashes))
            action_done = "created" if was_created else "updated"
            log.append((item.source_key, item.target_key, action_done, item.note, logged(item.mapped)))
            resolved.append(item.source_key)
            if was_created:
                counts.created += 1
            else:
                counts.updated += 1
        elif action is Action.UNCHANGED:
            if item.repeated:
                counts.read -= 1
                continue
            counts.unchanged += 1
            if item.touch:
                changes.touched.append(item.source_key)
            if not item.settled:
                resolved.append(item.source_key)
        elif action is Action.SKIP:
            counts.skipped += 1
            log.append((item.source_key, item.target_key, "skipped", item.note, None))
            if not item.settled:  # the very same record as a later one of its batch: that one settles its letter
                resolved.append(item.source_key)
        else:
            counts.failed += 1
            error = item.error or "failed"
            log.append((item.source_key, item.target_key, "failed", error, None))
            reason = item.reason or "mapping"
            record = originals(index) if item.record is LET_GO and originals is not None else item.record
            changes.failures.append(Failure(item.source_key, record, error, reason, hash=record_hash(record)))
    return changes
