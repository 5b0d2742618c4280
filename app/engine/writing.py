"""Carry out a batch's plan: write what changed, then record every outcome for the store.

This runs once per record of every batch, so it builds plain tuples in one
loop rather than an object per step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.engine.planning import Action, Planned, SyncParts
from app.engine.retry import Sleep, with_retries
from app.store import BatchChanges, Failure
from connectors.base import Write, WriteAction, WriteResult

_WRITE_ACTIONS = {Action.CREATE: WriteAction.CREATE, Action.UPDATE: WriteAction.UPDATE}
log = logging.getLogger("brygga.engine")
_new_tuple = tuple.__new__  # a NamedTuple without its generated __new__: a third of the cost


async def write_plan(parts: SyncParts, plan: Sequence[Planned], sleep: Sleep, run_id: int) -> BatchChanges:
    """Write the creates and updates of ``plan`` (retrying transient failures) and collect what to store.

    :raises TransientError: when the target keeps failing: the run stops and the batch is not committed
    """
    if parts.target.assigns_keys:
        await settle_creates(parts, plan, sleep, run_id)
    to_write = [item for item in plan if item.action in _WRITE_ACTIONS]
    if to_write:
        writes = [_new_tuple(Write, (_WRITE_ACTIONS[item.action], item.mapped, item.target_key)) for item in to_write]
        stream = parts.sync.target_stream

        async def write() -> list[WriteResult]:
            return await parts.target.write(stream, writes)

        results = await with_retries(parts.sync.retry, write, sleep)
        for item, result in zip(to_write, results, strict=True):
            if result.error is None:
                if result.target_key is not None:
                    item.target_key = result.target_key
                if result.created is not None:  # the target knows best whether it was new
                    item.action = Action.CREATE if result.created else Action.UPDATE
            else:
                item.action, item.reason, item.error = Action.FAIL, "write", str(result.error)
    return outcomes(plan)


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
            return await parts.target.match(stream, records)

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


def outcomes(plan: Sequence[Planned]) -> BatchChanges:
    """Count every item of ``plan`` and collect its ID map, record-log and dead-letter changes."""
    changes = BatchChanges()
    counts = changes.counts
    counts.read = len(plan)
    log, resolved = changes.log, changes.resolved
    created, updated = Action.CREATE, Action.UPDATE
    for item in plan:
        action = item.action
        if action is created or action is updated:
            was_created = action is created
            (changes.mapped if item.mapped_before else changes.new_mappings).append(
                (item.source_key, item.target_key, item.hash or "")
            )
            log.append((item.source_key, item.target_key, "created" if was_created else "updated", None))
            resolved.append(item.source_key)
            if was_created:
                counts.created += 1
            else:
                counts.updated += 1
        elif action is Action.UNCHANGED:
            counts.unchanged += 1
            if not item.settled:
                resolved.append(item.source_key)
        elif action is Action.SKIP:
            counts.skipped += 1
            log.append((item.source_key, item.target_key, "skipped", item.note))
            resolved.append(item.source_key)
        else:
            counts.failed += 1
            error = item.error or "failed"
            log.append((item.source_key, item.target_key, "failed", error))
            changes.failures.append(Failure(item.source_key, item.record, error, item.reason or "mapping"))
    return changes
