"""Carry out a batch's plan: write what changed, then record every outcome for the store."""

from __future__ import annotations

from collections.abc import Sequence

from app.engine.planning import Action, Planned, SyncParts
from app.engine.retry import Sleep, with_retries
from app.store import BatchChanges, Failure, LogEntry
from connectors.base import Write, WriteAction, WriteResult

_WRITE_ACTIONS = {Action.CREATE: WriteAction.CREATE, Action.UPDATE: WriteAction.UPDATE}


async def write_plan(parts: SyncParts, plan: Sequence[Planned], sleep: Sleep) -> BatchChanges:
    """Write the creates and updates of ``plan`` (retrying transient failures) and collect what to store.

    :raises TransientError: when the target keeps failing: the run stops and the batch is not committed
    """
    changes = BatchChanges()
    changes.counts.read = len(plan)
    to_write = [item for item in plan if item.action in _WRITE_ACTIONS]
    if to_write:
        writes = [Write(_WRITE_ACTIONS[item.action], item.mapped, item.target_key) for item in to_write]
        stream = parts.sync.target_stream

        async def write() -> list[WriteResult]:
            return await parts.target.write(stream, writes)

        results = await with_retries(parts.sync.retry, write, sleep)
        for item, result in zip(to_write, results, strict=True):
            _written(item, result)
    for item in plan:
        record_outcome(item, changes)
    return changes


def _written(item: Planned, result: WriteResult) -> None:
    if result.ok:
        item.target_key = result.target_key or item.target_key
    else:
        item.action, item.reason, item.error = Action.FAIL, "write", str(result.error)


def record_outcome(item: Planned, changes: BatchChanges) -> None:
    """Count ``item`` and add its ID map, log and dead-letter changes."""
    counts = changes.counts
    if item.action is Action.FAIL:
        counts.failed += 1
        changes.log.append(LogEntry(item.source_key, item.target_key, "failed", item.error))
        changes.failures.append(Failure(item.source_key, item.record, item.error or "failed", item.reason or "mapping"))
        return
    if item.action is Action.UNCHANGED:
        counts.unchanged += 1
        if not item.settled:
            changes.resolved.append(item.source_key)
        return
    changes.resolved.append(item.source_key)
    if item.action is Action.SKIP:
        counts.skipped += 1
        changes.log.append(LogEntry(item.source_key, item.target_key, "skipped", item.note))
    else:
        created = item.action is Action.CREATE
        counts.created += created
        counts.updated += not created
        assert item.hash is not None
        changes.mapped.append((item.source_key, item.target_key, item.hash))
        changes.log.append(LogEntry(item.source_key, item.target_key, "created" if created else "updated"))
