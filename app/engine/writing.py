"""Carry out a batch's plan: write what changed, then record every outcome for the store.

This runs once per record of every batch, so it builds plain tuples in one
loop rather than an object per step.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.engine.planning import Action, Planned, SyncParts
from app.engine.retry import Sleep, with_retries
from app.store import BatchChanges, Failure
from connectors.base import Write, WriteAction, WriteResult

_WRITE_ACTIONS = {Action.CREATE: WriteAction.CREATE, Action.UPDATE: WriteAction.UPDATE}
_new_tuple = tuple.__new__  # a NamedTuple without its generated __new__: a third of the cost


async def write_plan(parts: SyncParts, plan: Sequence[Planned], sleep: Sleep) -> BatchChanges:
    """Write the creates and updates of ``plan`` (retrying transient failures) and collect what to store.

    :raises TransientError: when the target keeps failing: the run stops and the batch is not committed
    """
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
