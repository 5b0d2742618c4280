"""``brygga preview``: what a run would do to the next records, with field-level differences; writes nothing."""

from __future__ import annotations

from typing import Any

from app.config import TwoWaySyncConfig
from app.engine.connector_calls import checked_found, guarded, prepare_stream, read_batches
from app.engine.planning import Action, Planned, plan_batch
from app.engine.preview_rows import PreviewRow
from app.engine.retry import ONE_TRY
from app.engine.runner import Engine
from app.engine.two_way_preview import preview_two_way
from app.records import Record
from connectors.base import retrying_as


async def preview_sync(engine: Engine, name: str, limit: int) -> list[PreviewRow]:
    """The first ``limit`` records the next run of sync ``name`` would read, planned but not written.

    Each call is tried once (:data:`~app.engine.retry.ONE_TRY`): a person waits on the answer."""
    with retrying_as(ONE_TRY):
        return await _preview(engine, name, limit)


async def _preview(engine: Engine, name: str, limit: int) -> list[PreviewRow]:
    sync = engine.workspace.project.syncs[name]
    if isinstance(sync, TwoWaySyncConfig):
        return await preview_two_way(engine, sync, limit)
    parts = await engine.parts(sync)
    await prepare_stream(parts.source, sync.source_stream)
    await prepare_stream(parts.target, sync.target_stream, list(parts.mapping.field_names))
    records = await _first_records(engine, name, limit)
    plan = await plan_batch(parts, records)
    current = await _current_targets(parts.target, sync.target_stream, plan)
    return [_row(item, current) for item in plan]


async def _first_records(engine: Engine, name: str, limit: int) -> list[Record]:
    sync = engine.workspace.project.syncs[name]
    source = await engine.connections.get(sync.source_system)
    checkpoint = await engine.store.checkpoint(name)
    records: list[Record] = []
    reader = read_batches(source, sync.source_stream, checkpoint, min(limit, source.system.options.batch_size))
    try:
        async for batch in reader:
            records.extend(batch.records[: limit - len(records)])
            if len(records) >= limit:
                break
    finally:
        await reader.aclose()
    return records


async def _current_targets(target: Any, stream: str, plan: list[Planned]) -> dict[str, Record]:
    keys = [item.target_key for item in plan if item.action is Action.UPDATE and item.target_key]
    if not keys:
        return {}
    try:
        found = await guarded(target, f"looking stream '{stream}' up", target.get(stream, keys))
    except NotImplementedError:
        return {}
    fit: dict[str, Record] = checked_found(target, stream, found)[0]  # one unfit is shown with no changes
    return fit


def _row(item: Planned, current: dict[str, Record]) -> PreviewRow:
    row = PreviewRow(item.source_key, item.action.value, item.target_key, mapped=item.mapped, error=item.error,
                     note=item.note)  # fmt: skip
    before = current.get(item.target_key or "")
    if item.action is Action.UPDATE and before is not None and item.mapped is not None:
        row.changes = {
            name: (before.get(name), value) for name, value in item.mapped.items() if not _same(before.get(name), value)
        }
    return row


def _same(old: Any, new: Any) -> bool:
    """Equal, or equal as text (a CSV file holds text; a database may hand back a date for a string)."""
    if old == new:
        return True
    if old is None or new is None:
        return old in (None, "") and new in (None, "")
    return str(old) == str(new)
